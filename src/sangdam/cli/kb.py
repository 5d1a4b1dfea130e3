"""``sangdam kb``: placeholder group, filled in by its issue."""

import typer

app = typer.Typer(help="kb commands", no_args_is_help=True)
