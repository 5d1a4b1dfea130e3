"""``sangdam insights report`` (call drivers, knowledge gaps, containment) and ``sangdam demo traffic`` (synthetic
conversations through the real orchestrator). See docs/insights.md."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="Consultation insights: call drivers, knowledge gaps, containment.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo helpers: synthetic customer traffic.", no_args_is_help=True)
console = Console()


def _engine():  # noqa: ANN202 - sqlalchemy Engine
    from sangdam.domain.db import get_engine, is_initialised

    engine = get_engine()
    if not is_initialised(engine):
        console.print("[red]database not initialised[/red]: run `sangdam init && sangdam seed` (or `make run`)")
        raise typer.Exit(2)
    return engine


@app.command("report")
def report(
    since: dt.datetime = typer.Option(..., "--since", formats=["%Y-%m-%d"], help="First day (YYYY-MM-DD)."),
    until: dt.datetime | None = typer.Option(None, "--until", formats=["%Y-%m-%d"],
                                             help="Last day, inclusive (default: today)."),
    out: Path = typer.Option(..., "--out", help="Folder for report.md, drivers.csv, gaps.csv."),
    llm: str = typer.Option("embedded", "--llm", help="embedded | none | path to an llm.yaml role config; the FAQ "
                            "drafts come from the LLM only when its strong profile is a capable Korean writer."),
) -> None:
    """Write the insights report of a date range (Markdown in Korean, CSV; Parquet when pyarrow is installed)."""
    from sangdam.cli.chat import _llm
    from sangdam.insights.report import build_report

    engine = _engine()
    last = until.date() if until else None
    if last is not None and last < since.date():
        console.print("[red]--until is before --since[/red]")
        raise typer.Exit(2)
    with console.status("aggregating and clustering …"):
        summary = build_report(engine, since.date(), last, out, llm=_llm(llm))
    console.print(f"[green]report[/green] {summary.since} ~ {summary.until}: {summary.conversations:,} conversations, "
                  f"containment {summary.containment_rate:.1%}, handoff {summary.handoff_rate:.1%}, "
                  f"{summary.gap_utterances:,} gap utterances in {summary.gap_clusters} clusters")
    for path in summary.files:
        console.print(f"  {path}")


@demo_app.command("traffic")
def traffic(
    conversations: int = typer.Option(100, "--conversations", "-n", min=1, help="How many conversations."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same conversations."),
    days: int = typer.Option(7, "--days", min=1, help="Spread the conversations over the DAYS days before today."),
) -> None:
    """Drive the real orchestrator with varied Korean customer conversations over the demo customers."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from sangdam.insights.traffic import generate_traffic

    engine = _engine()
    with Progress(TextColumn("conversations"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("traffic", total=conversations)
        result = generate_traffic(engine, conversations, seed=seed, days=days,
                                  on_conversation=lambda done: progress.update(task, completed=done))
    console.print(f"[green]{result.conversations:,} conversations[/green], {result.turns:,} customer turns, "
                  f"{result.since} ~ {result.until}, {result.per_second:.1f} conversations/s")
