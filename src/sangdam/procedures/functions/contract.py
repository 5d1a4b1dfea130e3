"""Functions of the contract procedure (resources/procedures/contract.yaml): whether a request names a
cancellation. The contract's sentences and the proposal stay in the YAML."""

from __future__ import annotations

from typing import Any

from sangdam.orchestrator import dialogue
from sangdam.procedures.functions import register_function


@register_function("names_cancellation")
def names_cancellation(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Whether ``text`` says in words that the line is to be ended ("해지", "해약", "끊을게요"): an irreversible
    request is never started from words that do not name it ("네 접수해 주세요"). ``{"named": bool}``."""
    return {"named": dialogue.names_cancellation(str(args.get("text") or ""))}
