"""``sangdam`` command line (typer). Each command group lives in its own module and imports heavy
libraries (kiwi, llama.cpp, embedders) inside the command, so ``sangdam --help`` stays instant."""

from __future__ import annotations

import logging

import typer

from sangdam.cli import batch, bss, chat, core, identity, kb, llm, mcp, pii, route, serve, tools
from sangdam.cli import eval as eval_cli
from sangdam.cli import insights as insights_cli
from sangdam.cli import qa as qa_cli

app = typer.Typer(
    name="sangdam",
    help="Sangdam (상담): self-hosted, Korean-first agentic AI contact centre for telecom operators.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
core.register(app)
app.add_typer(tools.app, name="tools")
app.add_typer(pii.app, name="pii")
app.add_typer(identity.app, name="identity")
app.add_typer(kb.app, name="kb")
app.add_typer(llm.app, name="llm")
app.add_typer(bss.app, name="bss")
app.add_typer(mcp.app, name="mcp")
app.add_typer(batch.app, name="batch")
route.register(app)
eval_cli.register(app)
serve.register(app)
chat.register(app)
app.add_typer(insights_cli.app, name="insights")
app.add_typer(insights_cli.demo_app, name="demo")
app.add_typer(qa_cli.app, name="qa")


def main() -> None:
    """Console-script entry point."""
    from sangdam.config import get_settings

    logging.basicConfig(level=get_settings().log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    app()
