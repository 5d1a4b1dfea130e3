"""``sangdam bss``: the reference operator BSS (``serve``) and its OpenAPI document (``openapi``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="The reference operator BSS: a stand-in for a telco's REST API (docs/backends.md).",
                  no_args_is_help=True)
console = Console(stderr=True)
TOKEN_FILE = "token"  # under $SANGDAM_HOME/bss/


def _token(given: str | None) -> tuple[str, str]:
    """(token, where it came from): ``--token``, else ``$SANGDAM_HOME/bss/token`` (created once, 0600)."""
    if given:
        return given, "--token"
    from sangdam.config import get_settings, owner_only, private_dir

    folder = private_dir(get_settings().resolved_home / "bss")
    path = folder / TOKEN_FILE
    if not path.exists():  # created owner-only: the token is a secret
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    owner_only(path, 0o600)
    return path.read_text(encoding="utf-8").strip(), str(path)


@app.command("serve")
def serve(
    port: int = typer.Option(8100, "--port", help="TCP port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    database_url: str | None = typer.Option(None, "--database-url", help="The BSS's own database (default: "
                                            "SQLite at $SANGDAM_HOME/bss/bss.db, seeded with the demo data)."),
    today: str | None = typer.Option(None, "--today", help="Business date YYYY-MM-DD (default: SANGDAM_TODAY or "
                                     "the machine's date)."),
    token: str | None = typer.Option(None, "--token", help="Bearer token clients must send (default: the one in "
                                     "$SANGDAM_HOME/bss/token, created on first start)."),
    admin_token: str | None = typer.Option(None, "--admin-token", help="Enable the test-support /admin routes "
                                           "(state switch, fault injection) behind this bearer token."),
) -> None:
    """Serve the reference BSS (/api/v1, /openapi.json)."""
    import uvicorn

    from sangdam.bss import BssRuntime, create_app, default_database_url
    from sangdam.bss.state import safe_url
    from sangdam.config import get_settings

    settings = get_settings()
    try:
        day = dt.date.fromisoformat(today) if today else settings.today_date()
    except ValueError:
        console.print(f"[red]error[/red] --today must be YYYY-MM-DD, got {today!r}")
        raise typer.Exit(2) from None
    url = database_url or default_database_url()
    bearer, source = _token(token)
    runtime = BssRuntime(url, day)
    application = create_app(runtime, token=bearer, admin_token=admin_token)
    console.print(f"BSS http://{host}:{port}/api/v1 · OpenAPI http://{host}:{port}/openapi.json · database "
                  f"{safe_url(url)} · business date {day.isoformat()} · token from {source}"
                  + (" · admin routes on" if admin_token else ""))
    try:
        uvicorn.run(application, host=host, port=port, log_level=settings.log_level.lower(),
                    timeout_graceful_shutdown=3)
    finally:
        runtime.close()


@app.command("openapi")
def openapi(out: Path | None = typer.Option(None, "--out", help="Write the document to FILE (default: print).")) -> None:
    """Print (or write) the BSS's OpenAPI document."""
    from sangdam.bss import create_app

    text = json.dumps(create_app(None, token="-").openapi(), ensure_ascii=False, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}")
