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


def _safe_url(url: str) -> str:
    """Database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
