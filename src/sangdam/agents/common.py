"""Helpers shared by the engine, the procedure runner and the remaining sub-agents: the customer's lines, the
question "which line?", a proposal to confirm, the corrected values of a proposal, a target the customer does not own."""

from __future__ import annotations

import re
from typing import Any

from sangdam.agents.base import AgentContext, Outcome
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.format import say
from sangdam.orchestrator.state import PendingAction, Step

def last4(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isdigit())
    return digits[-4:]


def customer_lines(ctx: AgentContext) -> list[dict[str, Any]]:
    """The verified customer's lines (``list_lines``, read once per turn through the blackboard)."""
    return (ctx.blackboard.get("list_lines") or ctx.call("list_lines").model_dump(mode="json"))["lines"]


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


# Arguments of a proposed call that are also step slots of the same name: a re-proposal carries them over
# (``mentioned_args`` reads new values for all but the suspension reason).
SLOT_ARGS = ("line_id", "gb", "plan_id", "pass_id", "effective", "reason")


def recommended_pick(text: str, shown: list[str], plans: list[dict[str, Any]]) -> str | None:
    """The plan of those just recommended (``shown``, in the order said) that ``text`` points at by position or
    price: "제일 싼 걸로" (the cheapest of them), "두 번째 걸로요"; None when it points at none."""
    if not shown:
        return None
    if dialogue.asks_cheapest(text):
        fees = {p["id"]: p.get("monthly_fee_krw") or 0 for p in plans}
        return min(shown, key=lambda plan_id: fees.get(plan_id, 0))
    index = dialogue.listed_position(text, len(shown))
    return shown[index] if index is not None else None


def mentioned_args(args: dict[str, Any], text: str, ctx: AgentContext) -> dict[str, Any]:
    """Values ``text`` gives for the correctable arguments of a proposed call ("3기가로" → gb 3).

    Catalogue names are matched against the operator's data through the agent's own tools; an argument the
    agent cannot look up is never guessed.
    """
    found: dict[str, Any] = {}
    if "gb" in args and (amount := dialogue.extract_gb(text)) is not None:
        found["gb"] = int(amount) if amount == int(amount) else amount
    if "plan_id" in args and "list_plans" in ctx.allowed:
        plans = (ctx.blackboard.get("list_plans") or ctx.call("list_plans").model_dump(mode="json"))["plans"]
        if named := dialogue.match_by_name(text, plans):
            found["plan_id"] = named[0]["id"]
        elif (pick := recommended_pick(text, list(ctx.state.last_recommended or []), plans)) is not None:
            found["plan_id"] = pick
    if "pass_id" in args and "list_roaming_passes" in ctx.allowed:
        passes = ctx.call("list_roaming_passes").model_dump(mode="json")["passes"]
        if named := dialogue.match_by_name(text, passes):
            found["pass_id"] = named[0]["id"]
        elif (idx := dialogue.listed_position(text, len(ctx.state.last_passes))) is not None:
            found["pass_id"] = ctx.state.last_passes[idx]  # "첫 번째로" after the list was shown
    if "line_id" in args and "list_lines" in ctx.allowed:
        if (line := dialogue.match_line(text, customer_lines(ctx))) is not None:
            found["line_id"] = line["id"]
    if "effective" in args:
        if dialogue.wants_immediate(text):
            found["effective"] = "immediate"
        elif dialogue.wants_next_cycle(text):
            found["effective"] = "next_cycle"
    return found


def foreign_target(step: Step, ctx: AgentContext) -> Outcome | None:
    """Refuse or ask when the step names a target that is not one of the customer's own lines.

    A phone number of the customer's own line is used exactly (it fills the line slot); another number, a
    "끝자리" that none of their lines ends with, or another person's line ("아들 회선", "엄마 폰") without one of
    their own lines named is never replaced by the customer's line. None: nothing foreign named.
    """
    if step.slots.get("line_id"):  # chosen from the customer's own lines already
        return None
    text = step.text or ctx.text
    phones = ctx.phones_in(text)
    named_last4 = dialogue.named_last4(text)
    if not phones and not named_last4 and not dialogue.names_other_person(text):
        return None
    own = {re.sub(r"\D", "", ln["number"]): ln for ln in customer_lines(ctx) if ln["status"] != "closed"}
    if phones:
        hits = [own[p] for p in phones if p in own]
        if len(hits) != len(phones):  # a number that is not the customer's (or cannot be checked)
            return Outcome(messages=[say("slots.not_owned")])
        step.slots["line_id"] = hits[0]["id"]
        return None
    if named_last4:
        hits = [ln for digits, ln in own.items() if digits.endswith(named_last4)]
        if len(hits) != 1:
            return Outcome(messages=[say("slots.last4_not_owned"), ask_line(ctx).messages[0]], ask_slot="line")
        step.slots["line_id"] = hits[0]["id"]
        return None
    outcome = ask_line(ctx)  # another person's line: which of the customer's own lines, if any
    return Outcome(messages=[say("slots.other_person"), *outcome.messages], ask_slot="line")
