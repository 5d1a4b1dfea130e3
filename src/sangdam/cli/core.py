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
    engine = get_engine(settings.db_url)
    migrate(engine)
    report = seed_demo(engine, today=settings.today_date(), reset=reset)
    table = Table(title=f"demo data as of {report.today.isoformat()}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in report.counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    if report.seeded:
        console.print(f"[green]seeded[/green] database={_safe_url(settings.db_url)}")
    else:
        console.print("[yellow]demo data already present[/yellow]: nothing written (use --reset to start over)")


def _safe_url(url: str) -> str:
    """Database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("seed")(seed)
