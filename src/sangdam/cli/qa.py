"""``sangdam qa``: the automatic QA scorecard of one conversation (docs/qa.md); the batch job scores many."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Automatic QA scorecards of conversations (rubric: SANGDAM_QA_RUBRIC).", no_args_is_help=True)

_VERDICTS = {True: "통과", False: "미통과", None: "해당 없음"}


@app.command("score")
def score(
    conversation_id: str = typer.Argument(..., help="The conversation to score, e.g. CV-…"),
    as_json: bool = typer.Option(False, "--json", help="Print the scorecard as JSON."),
    rubric_path: Path | None = typer.Option(None, "--rubric", help="Rubric file (default: $SANGDAM_QA_RUBRIC, "
                                            "else the packaged one)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Score without storing the verdicts."),
) -> None:
    """Score one conversation against the rubric and store the verdicts (replacing earlier ones)."""
    from sangdam.contact_center.qa import load_rubric, score_and_store, score_conversation
    from sangdam.domain.db import get_engine
    from sangdam.llm.router import get_llm_router
    from sangdam.orchestrator.store import ConversationNotFound

    rubric = load_rubric(rubric_path)
    run = score_conversation if dry_run else score_and_store
    try:
        # the judge is asked only when the strong profile is trusted (never with the embedded default)
        card = run(get_engine(), conversation_id, rubric=rubric, llm=get_llm_router())
    except ConversationNotFound:
        typer.echo(f"error: no conversation {conversation_id!r}", err=True)
        raise typer.Exit(code=2) from None
    if as_json:
        typer.echo(json.dumps(card.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    typer.echo(f"{card.conversation_id}  score {card.score:.2f}  rubric {card.rubric_version}")
    for item in card.items:
        turn = "-" if item.evidence.turn is None else f"#{item.evidence.turn}"
        typer.echo(f"  {_VERDICTS[item.passed]:<6} {item.label_ko:<14} {turn:>4}  {item.evidence.note}")
