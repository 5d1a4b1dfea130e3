"""``sangdam pii``: mask personal data in Korean text.

Contract (docs/pii.md): ``sangdam pii mask --jsonl`` reads one text per line on stdin and prints one JSON
object per line, ``{"masked": "...", "entities": [{"type": "...", "start": int, "end": int}]}``, with offsets
into the input line. The original values are never printed.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

app = typer.Typer(help="Detect and mask personal data (PII) in Korean text.", no_args_is_help=True)


def _record(text: str) -> str:
    from sangdam.korean.pii import mask as mask_text

    result = mask_text(text)
    payload = {
        "masked": result.masked,
        "entities": [{"type": e.type.value, "start": e.start, "end": e.end} for e in result.entities],
    }
    return json.dumps(payload, ensure_ascii=False)


@app.command("mask")
def mask(
    text: Annotated[str | None, typer.Argument(help="Text to mask (omit with --jsonl).")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Read one text per line on stdin.")] = False,
) -> None:
    """Print the masked text and the entity spans as JSON (one object per input line with --jsonl)."""
    if jsonl == (text is not None):
        typer.echo("error: give either TEXT or --jsonl (texts on stdin), not both or neither", err=True)
        raise typer.Exit(code=2)
    if text is not None:
        typer.echo(_record(text))
        return
    for stream in (sys.stdin, sys.stdout):
        # UTF-8 regardless of the locale; an undecodable byte becomes U+FFFD instead of killing the stream.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")
    out = sys.stdout
    for line in sys.stdin:
        # Only the line terminator is removed, so offsets match the caller's line exactly.
        out.write(_record(line.rstrip("\r\n")) + "\n")
        out.flush()


@app.command("scan-db")
def scan_db(
    known: Annotated[list[str] | None, typer.Option(
        "--known", help="A value to look for in every spelling (phone number, YYYY-MM-DD birth date, e-mail); repeat.",
    )] = None,
    table: Annotated[list[str] | None, typer.Option(
        "--table", help="Only this table; repeat (default: all but the customer records).",
    )] = None,
    url: Annotated[str | None, typer.Option("--url", help="Database URL (default: the configured one).")] = None,
) -> None:
    """Find personal data stored in clear in the conversation tables (transcripts, traces, state, audit, …).

    Prints one JSON object per finding (table, column, row, kind, excerpt with the match starred out) and exits
    with code 1 when there is any (docs/data-at-rest.md).
    """
    from sangdam.domain.db import get_engine
    from sangdam.korean.pii.stored import scan_database

    findings = scan_database(get_engine(url), known or (), tables=table)
    for finding in findings:
        typer.echo(finding.model_dump_json())
    if findings:
        raise typer.Exit(code=1)
