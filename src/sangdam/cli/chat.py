"""``sangdam chat``: an interactive Korean terminal chat with the same orchestrator as the server."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.panel import Panel

console = Console()

QUIT_WORDS = {"/quit", "/exit", "종료", "quit", "exit"}


def chat(
    customer: str | None = typer.Option(None, "--customer", help="Customer id of an authenticated channel; "
                                        "omit to make the bot verify identity itself."),
    trace: bool = typer.Option(False, "--trace", help="Print the turn's trace (intents, plan, tools, verdict)."),
    llm: str = typer.Option("embedded", "--llm", help="embedded | none | path to an llm.yaml role config"),
) -> None:
    """Chat with Sangdam in the terminal (Korean). Type /quit to leave."""
    from sangdam.domain.db import get_engine, is_initialised
    from rich.markup import escape

    from sangdam.orchestrator import Orchestrator, progress
    from sangdam.orchestrator.engine import InvalidMessage

    engine = get_engine()
    if not is_initialised(engine):
        console.print("[red]database not initialised[/red]: run `sangdam init && sangdam seed` (or `make run`)")
        raise typer.Exit(2)
    from sangdam.cli.serve import check_operator_config

    check_operator_config(engine, console)
    orch = Orchestrator(engine, llm=_llm(llm))
    if customer is not None and not _customer_exists(engine, customer):
        console.print(f"[red]unknown customer id {customer!r}[/red] (see docs/demo.md for the showcase customers)")
        raise typer.Exit(2)
    conv = orch.start_conversation(customer_id=customer, channel="cli")
    console.print(Panel.fit("누리텔레콤 AI 상담 — 무엇을 도와드릴까요? (/quit 로 종료)", style="cyan"))
    while True:
        try:
            text = console.input("[bold green]고객>[/bold green] ") if sys.stdin.isatty() else sys.stdin.readline()
        except (EOFError, KeyboardInterrupt):
            break
        if not sys.stdin.isatty() and text == "":
            break  # end of piped input
        text = text.strip()
        if not text:
            continue
        if text in QUIT_WORDS:
            break
        try:
            # the LLM agent's progress lines and its answer's verified sentences, as they come (dimmed: the
            # reply printed after them is the final one)
            with progress.listening(lambda line: console.print(f"[dim italic]{escape(line)}[/dim italic]"),
                                    draft=lambda piece: console.print(f"[dim]… {escape(piece.strip())}[/dim]")):
                result = orch.handle(conv, text)
        except InvalidMessage as err:
            console.print(f"[yellow]{err.message_ko}[/yellow]")
            continue
        console.print(f"[bold cyan]상담봇>[/bold cyan] {result.reply}")
        if trace:
            console.print_json(json.dumps(orch.traces(conv)[-1], ensure_ascii=False, default=str))
    console.print("[dim]상담을 종료합니다.[/dim]")


def _llm(choice: str):  # noqa: ANN202 - an LLMRouter or None
    if choice == "none":
        return None
    from pathlib import Path

    from sangdam.llm.config import LLMConfig, load_llm_config
    from sangdam.llm.router import LLMRouter

    if choice == "embedded":
        return LLMRouter(LLMConfig())
    return LLMRouter(load_llm_config(Path(choice)))


def _customer_exists(engine, customer_id: str) -> bool:  # noqa: ANN001
    from sangdam.backends import customer_exists

    return customer_exists(engine, customer_id)


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
