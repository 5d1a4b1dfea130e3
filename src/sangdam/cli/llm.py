"""``sangdam llm``: placeholder group, filled in by its issue."""

import typer

app = typer.Typer(help="llm commands", no_args_is_help=True)
