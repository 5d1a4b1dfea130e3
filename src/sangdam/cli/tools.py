"""``sangdam tools``: placeholder group, filled in by its issue."""

import typer

app = typer.Typer(help="tools commands", no_args_is_help=True)
