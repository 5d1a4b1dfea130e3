"""``sangdam route``: placeholder group, filled in by its issue."""

import typer

app = typer.Typer(help="route commands", no_args_is_help=True)


def register(parent: typer.Typer) -> None:
    """Attach the ``route`` command to the main app (its owner replaces this module)."""
