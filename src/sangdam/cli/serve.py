"""Contact-centre commands: ``serve`` (HTTP API, web chat, agent console), ``keys create|list|revoke``,
``summarize``."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

console = Console()
keys_app = typer.Typer(help="API keys for channels, agents and admins (stored hashed; shown once).",
                       no_args_is_help=True)


_WORKER_RATE_ENV = "SANGDAM_SERVE_RATE_LIMIT"  # the parent's --rate-limit, read by each worker's app factory
WORKER_HEALTHCHECK_S = 60  # a worker silent this long is hung: the supervisor replaces it


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    rate_limit: int = typer.Option(120, "--rate-limit", help="Requests per minute per conversation, per key and address, per refusing address (0 = off)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes on one port (PostgreSQL only): turns of a conversation are serialised across them, rate limits and answered sends are shared, a worker that dies is replaced."),
) -> None:
    """Serve the API (/api/v1, /v1/chat/completions, /docs), the customer chat (/chat) and the console (/console)."""
    import uvicorn

    from sangdam.config import get_settings
    from sangdam.domain.db import get_engine, migrate

    settings = get_settings()
    settings.ensure_home()
    engine = get_engine(settings.db_url)
    migrate(engine)
    check_operator_config(engine)
    base = f"http://{host}:{port}"
    if workers > 1:
        if engine.dialect.name != "postgresql":
            console.print("[red]error[/red] --workers needs PostgreSQL (SANGDAM_DATABASE_URL=postgresql+psycopg://…): "
                          "SQLite has one writer, so one process serves it")
            raise typer.Exit(2)
        engine.dispose()  # each worker opens its own connections
        os.environ[_WORKER_RATE_ENV] = str(rate_limit)  # spawned workers inherit the environment
        console.print(f"{workers} workers · chat {base}/chat · console {base}/console · API docs {base}/docs")
        # uvicorn's supervisor starts the workers (each builds the app with worker_app), restarts one that dies, and
        # ends them on Ctrl-C/SIGTERM. It also kills a worker that does not answer its health ping in time: under
        # full load on 2 cores the default 5 s killed busy, healthy workers mid-turn (measured: 6 of 600 turns cut).
        uvicorn.run("sangdam.cli.serve:worker_app", factory=True, host=host, port=port, workers=workers,
                    log_level=settings.log_level.lower(), timeout_graceful_shutdown=5,
                    timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
        return
    app = _build_app(rate_limit)
    console.print(f"chat {base}/chat · console {base}/console · API docs {base}/docs")
    config = uvicorn.Config(app, host=host, port=port, log_level=settings.log_level.lower(), timeout_graceful_shutdown=5)
    _run_until_exit(config, app.state.centre.events.close)


def check_operator_config(engine: Any, out: Console = console) -> None:
    """Fail at start, naming file, path and reason, when the backend or the imported tools are misconfigured
    (rather than on the first customer's turn). ``out``: where to say so (stderr for the MCP stdio server)."""
    from sangdam.backends import BackendConfigError, backend_for
    from sangdam.tools.imported import ImportConfigError
    from sangdam.tools.registry import all_tools

    try:
        backend_for(engine)
        all_tools()
    except (BackendConfigError, ImportConfigError) as exc:
        from rich.markup import escape

        out.print(f"[red]error[/red] configuration: {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def worker_app() -> Any:
    """App factory of one worker process of ``serve --workers N`` (runs in the worker; see ``_build_app``).

    The worker names its database connections ``sangdam-worker-<pid>`` (``pg_stat_activity`` shows who holds which
    turn lock) and warms up — router loaded, database reached — before uvicorn lets it accept: a worker started in
    place of one that died takes requests only once it can answer them at full speed.
    """
    import signal

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from sangdam.config import get_settings

    url = make_url(get_settings().db_url).update_query_dict({"application_name": f"sangdam-worker-{os.getpid()}"})
    app = _build_app(int(os.environ.get(_WORKER_RATE_ENV, "120")), db_url=url.render_as_string(hide_password=False),
                     quiet=True)
    app.state.centre.orch.router.route("안녕하세요")
    with app.state.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    close_streams = app.state.centre.events.close
    # uvicorn installed its exit handler before calling this factory: end the open server-push streams first, as
    # one process does (_run_until_exit), then let uvicorn shut down.
    for sig in (signal.SIGINT, signal.SIGTERM):
        then = signal.getsignal(sig)
        if callable(then):
            signal.signal(sig, lambda s, f, then=then: (close_streams(), then(s, f)))
    return app


def _build_app(rate_limit: int, *, db_url: str | None = None, quiet: bool = False) -> Any:
    """The app of one server process, with the network guard on (and the crash tests' fault hook when asked)."""
    from sangdam.config import get_settings
    from sangdam.domain.db import get_engine
    from sangdam.llm.router import get_llm_router
    from sangdam.security.sovereignty import enforce_sovereignty
    from sangdam.server import faults
    from sangdam.server.app import create_app

    settings = get_settings()
    # Models load lazily and are asked only where their profile allows (intent fallback, phrasing).
    app = create_app(get_engine(db_url or settings.db_url), today=settings.today, rate_per_minute=rate_limit,
                     llm=get_llm_router())
    # From here on the process may connect only to the configured LLM endpoints and the database.
    guard = enforce_sovereignty()
    if faults.install_from_env():
        console.print(f"[yellow]fault injection on[/yellow] ({faults.FAULT_FILE_ENV}): for crash tests only")
    if not quiet:
        allowed = ", ".join(f"{e.host}:{e.port}" for e in guard.allowed) or "none (embedded model, SQLite)"
        console.print(f"network guard on: outbound connections allowed to {allowed}")
    return app


def _run_until_exit(config: Any, close_streams: Callable[[], None]) -> None:
    """Run uvicorn; on Ctrl-C/SIGTERM first end the open server-push streams (open chat pages would otherwise hold
    the shutdown up until the graceful timeout, then be cancelled with a traceback)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            close_streams()
            super().handle_exit(sig, frame)

    Server(config).run()


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str) -> dt.timedelta:
    """``90d``, ``12h``, ``30m``, ``45s`` (or plain seconds) → a duration; typer.BadParameter otherwise."""
    value = value.strip().lower()
    number, unit = (value[:-1], value[-1]) if value[-1:] in _UNITS else (value, "s")
    if not number.isdigit() or int(number) <= 0:
        raise typer.BadParameter(f"{value!r} is not a duration like 90d, 12h, 30m")
    return dt.timedelta(seconds=int(number) * _UNITS[unit])


def _keys_engine() -> Any:
    from sangdam.config import get_settings
    from sangdam.domain.db import get_engine, migrate

    engine = get_engine(get_settings().db_url)
    migrate(engine)
    return engine


@keys_app.command("create")
def keys_create(
    role: str = typer.Option(..., "--role", help="channel-trusted | customer-channel | agent | admin"),
    customer: str | None = typer.Option(None, "--customer", help="Bind a customer-channel key to one customer id."),
    label: str = typer.Option("", "--label", help="Free text to recognise the key by."),
    rate_limit: int | None = typer.Option(None, "--rate-limit", help="Requests per minute for this key."),
    expires_in: str | None = typer.Option(None, "--expires-in", help="The key stops working after this long: 90d, 12h, 30m."),
) -> None:
    """Create a key and print it once (only its hash is stored). channel-trusted: the operator's backend, may name
    the customer of a conversation — never give it to a browser."""
    from sangdam.server.keys import KeyError_, create_key, utc_now

    expires_at = utc_now().replace(microsecond=0) + parse_duration(expires_in) if expires_in else None
    try:
        created = create_key(_keys_engine(), role, customer_id=customer, label=label, rate_per_minute=rate_limit,
                             expires_at=expires_at)
    except KeyError_ as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    bound = f" customer={created.customer_id}" if created.customer_id else ""
    until = f" expires={created.expires_at.isoformat()}Z" if created.expires_at else ""
    console.print(f"[green]created[/green] role={created.role}{bound}{until} id={created.key_id} (shown once, store it now):")
    typer.echo(created.key)


@keys_app.command("list")
def keys_list(as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts).")) -> None:
    """List keys (ids, roles, bound customers, expiry, revoked; never the keys)."""
    import json

    from rich.table import Table

    from sangdam.server.keys import list_keys

    keys = list_keys(_keys_engine())
    if as_json:
        typer.echo(json.dumps(keys, ensure_ascii=False, indent=1))
        return
    table = Table("id", "role", "customer", "label", "created (UTC)", "expires (UTC)", "revoked")
    for k in keys:
        table.add_row(str(k["key_id"]), str(k["role"]), str(k["customer_id"] or ""), str(k["label"]),
                      str(k["created_at"]), str(k["expires_at"] or ""), "yes" if k["revoked"] else "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="The key's id (the part between 'sd-' and '.').")) -> None:
    """Revoke a key now: every request with it answers 401 from the next one on."""
    from sangdam.server.keys import KeyError_, revoke_key

    try:
        changed = revoke_key(_keys_engine(), key_id.removeprefix("sd-").split(".")[0])
    except KeyError_ as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"[green]revoked[/green] {key_id}" if changed else f"{key_id} was already revoked")


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
