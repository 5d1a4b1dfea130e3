"""Line agent: suspending (lost, temporary, military) and resuming a line, as the packaged procedures line_suspend
and line_resume (resources/procedures/); what stays here reads answers and confirmations stored before them."""

from __future__ import annotations

from typing import Any

from sangdam.agents.base import Agent, AgentContext, Outcome
from sangdam.agents.common import LINE_TOOLS, fill_line_slot, last4
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.format import say
from sangdam.orchestrator.state import PendingAction, Step


class LineAgent(Agent):
    name = "line"
    intents = ("line.suspend", "line.resume")
    tools = ("get_line", "suspend_line", "resume_line", *LINE_TOOLS)

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        """Both intents run their packaged procedures (resources/procedures/line_suspend.yaml, line_resume.yaml,
        through ``ProcedureBackedAgent``); this runs only when those could not be loaded."""
        from sangdam.procedures.runner import BROKEN_KO

        return Outcome(messages=[BROKEN_KO])

    def on_slot(self, step: Step, slot: str, ctx: AgentContext) -> Step | None:
        # a slot question stored before the procedures served these intents (its step has no procedure position)
        if slot == "line":
            return fill_line_slot(step, ctx)
        if slot == "reason":
            reason = dialogue.suspend_reason(ctx.text)
            return step.model_copy(update={"slots": {**step.slots, "reason": reason}}) if reason else None
        return None

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        """A proposal stored before the procedures served these intents (its step has no procedure position)."""
        r = results[0]
        lines = {ln["id"]: ln for ln in ctx.call("list_lines").model_dump(mode="json")["lines"]}
        tail = last4(lines.get(r.line_id, {}).get("number", ""))
        if pending.intent == "line.resume":
            return Outcome(messages=[say("line.resumed", last4=tail)])
        messages = [say("line.suspended", last4=tail, reason=say(f"line.reasons.{r.suspend_reason}"))]
        if r.suspend_reason == "lost":
            messages.append(say("line.lost_advice"))
        return Outcome(messages=messages)
