"""``sangdam route``: classify utterances into ordered intents and print one JSON object per utterance.

    sangdam route "요금 알려주시고 로밍도 켜주세요"
    printf '요금 얼마야\\n로밍 켜줘\\n' | sangdam route --jsonl

Each line printed is ``{"intents": [...], "confidence": float, "via": "classifier"|"llm"}``. No LLM
fallback is wired here yet, so ``via`` is always ``classifier``; ``_fallback()`` is the seam for it.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

_EXIT_BAD_INPUT = 2


def _fallback():  # noqa: ANN202 - IntentFallback | None
    """The LLM fallback for the CLI router: none yet (seam: return ``LlmIntentFallback(get_llm_router())``)."""
    return None


def route(
    text: Annotated[str | None, typer.Argument(help="Utterance to route (omit with --jsonl).")] = None,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="Read one utterance per line on stdin; print one JSON object per line.")
    ] = False,
) -> None:
    """Route Korean utterances to ordered intents (JSON: intents, confidence, via)."""
    if (text is None) == (not jsonl):
        typer.echo('error: give either one utterance ("sangdam route TEXT") or --jsonl with stdin', err=True)
        raise typer.Exit(_EXIT_BAD_INPUT)

    from sangdam.orchestrator.router import RoutingInputError, get_router

    router = get_router(fallback=_fallback())
    if text is not None:
        try:
            typer.echo(_as_json(router.route(text)))
        except RoutingInputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(_EXIT_BAD_INPUT) from None
        return

    failed = 0
    for number, line in enumerate(sys.stdin, start=1):
        utterance = line.rstrip("\r\n")
        if not utterance.strip():
            continue  # blank lines are not utterances
        try:
            result = router.route(utterance)
        except RoutingInputError as exc:
            failed += 1
            typer.echo(f"error: line {number}: {exc}", err=True)
            continue
        typer.echo(_as_json(result))
        sys.stdout.flush()  # a caller piping line by line gets each answer at once
    if failed:
        raise typer.Exit(_EXIT_BAD_INPUT)


def _as_json(result) -> str:  # noqa: ANN001 - RouteResult
    return json.dumps(result.model_dump(mode="json"), ensure_ascii=False)


def register(parent: typer.Typer) -> None:
    """Attach the ``route`` command to the main app."""
    parent.command("route")(route)
