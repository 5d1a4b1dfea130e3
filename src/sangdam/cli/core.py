"""Top-level commands: ``init`` and ``seed``."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console()


def init() -> None:
    """Create SANGDAM_HOME and bring the database schema up to date (Alembic)."""
    from sangdam.config import get_settings
    from sangdam.domain.db import migrate

    settings = get_settings()
    home = settings.ensure_home()
    migrate()
    console.print(f"[green]ready[/green] home={home} database={_safe_url(settings.db_url)}")
    operator = _operator_url(seeding=False)
    if operator is not None:  # the sql adapter's demo tables in a database of their own
        from sangdam.domain.db import get_engine

        migrate(get_engine(operator))
        console.print(f"[green]ready[/green] operator database (sql backend)={_safe_url(operator)}")


def seed(
    reset: bool = typer.Option(False, "--reset", help="Delete every row of every table (conversations and API keys too), then write the demo data again."),
) -> None:
    """Write the demo data (누리텔레콤's catalogue, customers, bills, usage) as of today; idempotent."""
    from rich.table import Table

    from sangdam.config import get_settings
    from sangdam.domain.db import get_engine, migrate
    from sangdam.domain.seed import seed as seed_demo

    settings = get_settings()
    settings.ensure_home()
    url = _operator_url(seeding=True) or settings.db_url  # the demo tables: Sangdam's database unless sql.database_url
    engine = get_engine(url)
    migrate(engine)
    report = seed_demo(engine, today=settings.today_date(), reset=reset)
    table = Table(title=f"demo data as of {report.today.isoformat()}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in report.counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    if report.seeded:
        console.print(f"[green]seeded[/green] database={_safe_url(url)}")
    else:
        console.print("[yellow]demo data already present[/yellow]: nothing written (use --reset to start over)")


def _operator_url(*, seeding: bool) -> str | None:
    """The sql adapter's own database (``sql.database_url`` in backend.yaml), or None when the demo tables are in
    Sangdam's database (or there are none: the rest adapter). With the rest adapter the operator's records live in
    its systems: ``seed`` refuses."""
    from rich.markup import escape

    from sangdam.backends import BackendConfigError, load_backend_config

    try:
        kind, data, file = load_backend_config()
    except BackendConfigError as exc:
        console.print(f"[red]error[/red] configuration: {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    if kind == "rest" and not seeding:
        return None
    if kind == "rest":
        console.print(f"[red]error[/red] {escape(str(file))} selects the rest backend: the operator's records live in "
                      "its systems, so there are no demo tables to fill here (for a demo BSS: sangdam bss serve)",
                      soft_wrap=True)
        raise typer.Exit(2)
    return (data.get("sql") or {}).get("database_url") or None


def _safe_url(url: str) -> str:
    """Database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("seed")(seed)
