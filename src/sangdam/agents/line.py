"""Line agent: suspending (lost, temporary, military) and resuming a line."""

from __future__ import annotations

from typing import Any

from sangdam.agents.base import Agent, AgentContext, Outcome
from sangdam.agents.common import LINE_TOOLS, ask_line, confirm, fill_line_slot, last4, resolve_line
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.format import say
from sangdam.orchestrator.state import PendingAction, Step


class LineAgent(Agent):
    name = "line"
    intents = ("line.suspend", "line.resume")
    tools = ("get_line", "suspend_line", "resume_line", *LINE_TOOLS)

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        wanted = ("active",) if step.intent == "line.suspend" else ("suspended", "lost")
        line = resolve_line(step, ctx, statuses=wanted)
        if line is None:
            return ask_line(ctx)
        step.slots["line_id"] = line["id"]
        if step.intent == "line.resume":
            if line["status"] == "active":
                return Outcome(messages=[say("line.already_active")])
            args = {"line_id": line["id"]}
            proposal = ctx.propose("resume_line", **args)  # refused here while a bill is overdue
            return confirm(ctx, step, [("resume_line", args)], proposal.summary_ko)
        if line["status"] != "active":
            return Outcome(messages=[say("line.already_suspended", last4=last4(line["number"]))])
        reason = step.slots.get("reason") or dialogue.suspend_reason(step.text or ctx.text)
        if reason is None:
            return Outcome(messages=[say("line.ask_reason")], ask_slot="reason")
        args = {"line_id": line["id"], "reason": reason}
        proposal = ctx.propose("suspend_line", **args)
        return confirm(ctx, step, [("suspend_line", args)], proposal.summary_ko)

    def on_slot(self, step: Step, slot: str, ctx: AgentContext) -> Step | None:
        if slot == "line":
            return fill_line_slot(step, ctx)
        if slot == "reason":
            reason = dialogue.suspend_reason(ctx.text)
            return step.model_copy(update={"slots": {**step.slots, "reason": reason}}) if reason else None
        return None

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        r = results[0]
        lines = {ln["id"]: ln for ln in ctx.call("list_lines").model_dump(mode="json")["lines"]}
        tail = last4(lines.get(r.line_id, {}).get("number", ""))
        if pending.intent == "line.resume":
            return Outcome(messages=[say("line.resumed", last4=tail)])
        messages = [say("line.suspended", last4=tail, reason=say(f"line.reasons.{r.suspend_reason}"))]
        if r.suspend_reason == "lost":
            messages.append(say("line.lost_advice"))
        return Outcome(messages=messages)
