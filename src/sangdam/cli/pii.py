"""``sangdam pii``: placeholder group, filled in by its issue."""

import typer

app = typer.Typer(help="pii commands", no_args_is_help=True)
