"""``sangdam kb``: ingest documents into a knowledge base, search it, and ask questions with citations.

Contract (docs/knowledge.md):
  sangdam kb ingest DIR --kb NAME
  sangdam kb search "QUERY" --kb NAME --k 5 --json   -> {"results": [{"source", "heading", "text", "score"}]}
  sangdam kb ask "QUESTION" --kb NAME --json         -> {"answer", "citations": [{"source", "heading", "quote"}]}
  search/ask --jsonl (no QUERY): one query per stdin line, one JSON object per stdout line, models loaded once.
  sangdam kb build-demo: render the demo PDF(s) and ingest the demo documents into KB "default".
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Knowledge base: ingest documents, hybrid search, cited answers.", no_args_is_help=True)
console = Console(stderr=True)

KbOption = Annotated[str, typer.Option("--kb", help="Knowledge base name (under SANGDAM_HOME/kb/).")]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=2)


def _print_report(report) -> None:  # noqa: ANN001 - IngestReport
    out = Console()
    out.print(
        f"[green]kb {report.kb}[/green]: files {report.files_seen} seen, {report.files_indexed} indexed, "
        f"{report.files_unchanged} unchanged, {report.files_removed} removed, {len(report.skipped)} skipped; "
        f"chunks {report.chunks_total} ({report.chunks_embedded} embedded)"
    )
    for skipped in report.skipped:
        out.print(f"  skipped {skipped.source}: {skipped.reason}")


def _run_ingest(run: Callable) -> None:  # noqa: ANN001
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from sangdam.knowledge.store import KnowledgeBaseError

    labels = {"read": "reading files", "embed": "embedding chunks", "index": "indexing (kiwi + BM25)"}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(labels.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            report = run(on_progress)
        except KnowledgeBaseError as exc:
            raise _fail(str(exc)) from exc
    _print_report(report)


@app.command("ingest")
def ingest(
    directory: Annotated[Path, typer.Argument(help="Folder of .md, .html, .txt and .pdf files.")],
    kb: KbOption = "default",
) -> None:
    """Ingest DIR into a knowledge base (incremental: unchanged files are skipped, removed files dropped)."""
    from sangdam.knowledge.store import ingest_directory

    if not directory.is_dir():
        raise _fail(f"not a directory: {directory}")
    _run_ingest(lambda on_progress: ingest_directory(directory, kb, on_progress=on_progress))


@app.command("build-demo")
def build_demo(kb: KbOption = "default") -> None:
    """Render the demo PDF(s) and ingest the 누리텔레콤 demo documents (fast when nothing changed)."""
    from sangdam.knowledge.demo import build_demo as build

    _run_ingest(lambda on_progress: build(kb, on_progress=on_progress))


def _stdin_lines() -> Iterator[str]:
    for stream in (sys.stdin, sys.stdout):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")
    for line in sys.stdin:
        yield line.rstrip("\r\n")


def _load(kb: str):  # noqa: ANN202 - KnowledgeBase
    from sangdam.knowledge.retrieval import load_kb
    from sangdam.knowledge.store import KnowledgeBaseError

    try:
        return load_kb(kb)
    except KnowledgeBaseError as exc:
        raise _fail(str(exc)) from exc


def _check_args(query: str | None, jsonl: bool) -> None:
    if jsonl == (query is not None):
        raise _fail("give either QUERY or --jsonl (queries on stdin), not both or neither")


@app.command("search")
def search(
    query: Annotated[str | None, typer.Argument(help="Search query (omit with --jsonl).")] = None,
    kb: KbOption = "default",
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Number of results.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Read one query per stdin line; print JSON lines.")] = False,
) -> None:
    """Hybrid search (BM25 over kiwi morphemes + e5 dense, fused by reciprocal rank)."""
    _check_args(query, jsonl)
    base = _load(kb)

    def record(q: str) -> dict:
        return {"results": [hit.public() for hit in base.search(q, k=k)]}

    if jsonl:
        for line in _stdin_lines():
            sys.stdout.write(json.dumps(record(line), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        return
    payload = record(query or "")
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    out = Console()
    for i, hit in enumerate(payload["results"], start=1):
        out.print(f"[bold]{i}. {hit['source']}[/bold] — {hit['heading']}  [dim]{hit['score']:.4f}[/dim]")
        out.print(f"   {hit['text']}")


@app.command("ask")
def ask(
    question: Annotated[str | None, typer.Argument(help="Question (omit with --jsonl).")] = None,
    kb: KbOption = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Read one question per stdin line; print JSON lines.")] = False,
) -> None:
    """Answer from the knowledge base with citations (extractive), or say nothing relevant was found."""
    from sangdam.knowledge.answer import answer

    _check_args(question, jsonl)
    base = _load(kb)
    if jsonl:
        for line in _stdin_lines():
            sys.stdout.write(json.dumps(answer(line, base).public(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        return
    result = answer(question or "", base)
    if as_json:
        typer.echo(json.dumps(result.public(), ensure_ascii=False))
        return
    out = Console()
    out.print(result.answer)
    for citation in result.citations:
        out.print(f"  [dim]— {citation.source} · {citation.heading}: “{citation.quote}”[/dim]")
