"""Helpers shared by sub-agents: choosing the customer's line, asking for confirmation."""

from __future__ import annotations

from typing import Any

from sangdam.agents.base import AgentContext, Outcome
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.format import say
from sangdam.orchestrator.state import PendingAction, Step

LINE_TOOLS = ("list_lines",)


def last4(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isdigit())
    return digits[-4:]


def resolve_line(step: Step, ctx: AgentContext, *, statuses: tuple[str, ...] | None = None) -> Any | None:
    """The line this step is about: the slot, the only (matching) line, or one named by its last 4 digits.

    Returns None when the customer has several lines and did not say which; the caller then asks.
    """
    lines = ctx.blackboard.get("list_lines") or ctx.call("list_lines").model_dump(mode="json")
    candidates = [ln for ln in lines["lines"] if ln["status"] != "closed"]
    if step.slots.get("line_id"):
        hit = [ln for ln in candidates if ln["id"] == step.slots["line_id"]]
        if hit:
            return hit[0]
    if statuses:
        filtered = [ln for ln in candidates if ln["status"] in statuses]
        candidates = filtered or candidates
    if len(candidates) == 1:
        return candidates[0]
    named = dialogue.match_line(step.text or ctx.text, candidates)
    return named


def ask_line(ctx: AgentContext) -> Outcome:
    lines = ctx.blackboard.get("list_lines")["lines"]
    items = ", ".join(
        say("slots.line_item", last4=last4(ln["number"]), plan=ln["plan_name"]) for ln in lines if ln["status"] != "closed"
    )
    return Outcome(messages=[say("slots.line", lines=items)], ask_slot="line")


def fill_line_slot(step: Step, ctx: AgentContext) -> Step | None:
    """Answer to "which line?": the last 4 digits of one of the customer's lines."""
    lines = ctx.call("list_lines").model_dump(mode="json")["lines"]
    line = dialogue.match_line(ctx.text, lines)
    if line is None:
        return None
    return step.model_copy(update={"slots": {**step.slots, "line_id": line["id"]}})


def confirm(ctx: AgentContext, step: Step, calls: list[tuple[str, dict[str, Any]]], summary: str, **extra: Any) -> Outcome:
    """Propose ``calls`` (already previewed); the engine asks the customer once to agree in their next message."""
    pending: PendingAction = ctx.pending(step, calls, summary, **extra)
    return Outcome(messages=[summary], proposal=pending)
