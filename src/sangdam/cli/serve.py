"""Contact-centre commands: ``serve`` (HTTP API, web chat, agent console), ``keys create|list``, ``summarize``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

console = Console()
keys_app = typer.Typer(help="API keys for channels, agents and admins (stored hashed; shown once).",
                       no_args_is_help=True)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    rate_limit: int = typer.Option(120, "--rate-limit", help="Requests per minute per conversation, per key and address, per refusing address (0 = off)."),
) -> None:
    """Serve the API (/api/v1, /v1/chat/completions, /docs), the customer chat (/chat) and the console (/console)."""
    import uvicorn

    from sangdam.config import get_settings
    from sangdam.domain.db import get_engine, migrate
    from sangdam.server.app import create_app

    settings = get_settings()
    settings.ensure_home()
    engine = get_engine(settings.db_url)
    migrate(engine)
    from sangdam.llm.router import get_llm_router
    from sangdam.security.sovereignty import enforce_sovereignty

    # Models load lazily and are asked only where their profile allows (intent fallback, phrasing).
    app = create_app(engine, today=settings.today, rate_per_minute=rate_limit, llm=get_llm_router())
    # From here on the process may connect only to the configured LLM endpoints and the database.
    guard = enforce_sovereignty()
    allowed = ", ".join(f"{e.host}:{e.port}" for e in guard.allowed) or "none (embedded model, SQLite)"
    console.print(f"network guard on: outbound connections allowed to {allowed}")
    base = f"http://{host}:{port}"
    console.print(f"chat {base}/chat · console {base}/console · API docs {base}/docs")
    config = uvicorn.Config(app, host=host, port=port, log_level=settings.log_level.lower(), timeout_graceful_shutdown=5)
    _run_until_exit(config, app.state.centre.events.close)


def _run_until_exit(config: Any, close_streams: Callable[[], None]) -> None:
    """Run uvicorn; on Ctrl-C/SIGTERM first end the open server-push streams (open chat pages would otherwise hold
    the shutdown up until the graceful timeout, then be cancelled with a traceback)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            close_streams()
            super().handle_exit(sig, frame)

    Server(config).run()


@keys_app.command("create")
def keys_create(
    role: str = typer.Option(..., "--role", help="customer-channel | agent | admin"),
    customer: str | None = typer.Option(None, "--customer", help="Bind a customer-channel key to one customer id."),
    label: str = typer.Option("", "--label", help="Free text to recognise the key by."),
    rate_limit: int | None = typer.Option(None, "--rate-limit", help="Requests per minute for this key."),
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from sangdam.config import get_settings
    from sangdam.domain.db import get_engine, migrate
    from sangdam.server.keys import KeyError_, create_key

    engine = get_engine(get_settings().db_url)
    migrate(engine)
    try:
        created = create_key(engine, role, customer_id=customer, label=label, rate_per_minute=rate_limit)
    except KeyError_ as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    bound = f" customer={created.customer_id}" if created.customer_id else ""
    console.print(f"[green]created[/green] role={created.role}{bound} id={created.key_id} (shown once, store it now):")
    typer.echo(created.key)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (ids, roles, bound customers; never the keys)."""
    from rich.table import Table

    from sangdam.config import get_settings
    from sangdam.domain.db import get_engine, migrate
    from sangdam.server.keys import list_keys

    engine = get_engine(get_settings().db_url)
    migrate(engine)
    table = Table("id", "role", "customer", "label", "created", "revoked")
    for k in list_keys(engine):
        table.add_row(str(k["key_id"]), str(k["role"]), str(k["customer_id"] or ""), str(k["label"]),
                      str(k["created_at"]), "yes" if k["revoked"] else "")
    console.print(table)


def summarize(
    since: dt.datetime | None = typer.Option(None, "--since", formats=["%Y-%m-%d"],
                                             help="Only conversations updated on or after this date."),
    out: Path | None = typer.Option(None, "--out", help="Write FILE.jsonl or FILE.csv (default: JSON lines to stdout)."),
) -> None:
    """Summarise stored conversations in batch (category, request, actions, outcome, follow-up, sentiment)."""
    from sangdam.config import get_settings
    from sangdam.contact_center.batch import summaries_since, write_summaries
    from sangdam.domain.db import get_engine, migrate

    if out is not None and out.suffix not in (".jsonl", ".csv"):
        console.print(f"[red]error[/red] --out must end in .jsonl or .csv, got {out.name!r}")
        raise typer.Exit(2)
    engine = get_engine(get_settings().db_url)
    migrate(engine)
    rows = summaries_since(engine, since.date() if since else None, progress=out is not None)
    count = write_summaries(rows, out)
    if out is not None:
        console.print(f"[green]wrote[/green] {count} summaries to {out}")


def register(parent: typer.Typer) -> None:
    """Attach ``serve``, ``keys`` and ``summarize`` to the top-level CLI."""
    parent.command("serve")(serve)
    parent.add_typer(keys_app, name="keys")
    parent.command("summarize")(summarize)
