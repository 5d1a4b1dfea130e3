"""Data agent: this month's usage, data refills."""

from __future__ import annotations

from typing import Any

from sangdam.agents.base import Agent, AgentContext, Outcome
from sangdam.agents.common import LINE_TOOLS, ask_line, confirm, fill_line_slot, resolve_line
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.format import gb, kperiod, say, speed, won
from sangdam.orchestrator.state import PendingAction, Step


class DataAgent(Agent):
    name = "data"
    intents = ("data.usage", "data.refill")
    tools = ("get_data_usage", "refill_data", "get_line", *LINE_TOOLS)

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        line = resolve_line(step, ctx, statuses=("active",))
        if line is None:
            return ask_line(ctx)
        step.slots["line_id"] = line["id"]
        if step.intent == "data.refill":
            return self._refill(step, ctx)
        u = ctx.call("get_data_usage", line_id=line["id"])
        ctx.blackboard.produce(step.intent, u)  # what the steps that need this month's usage read
        if step.silent:  # gathered for another step (a recommendation): the usage itself, nothing to say
            return Outcome()
        return Outcome(messages=self._usage(u, line["id"], ctx))

    def _usage(self, u: Any, line_id: str, ctx: AgentContext) -> list[str]:
        if u.unlimited:
            return [say("data.usage_unlimited", plan=u.plan_name, used=gb(u.used_gb))]
        messages = [say("data.usage", allowance=gb(u.allowance_gb), used=gb(u.used_gb), remaining=gb(u.remaining_gb), days=u.days_left_in_cycle)]
        if u.throttled:
            messages.append(say("data.throttled", speed=speed(u.throttle_kbps), price=won(self._refill_price(line_id, ctx))))
        if u.last_months:
            months = ", ".join(f"{kperiod(m.period)} {gb(m.data_gb)}" for m in u.last_months)
            messages.append(say("data.last_months", months=months))
        return messages

    def _refill_price(self, line_id: str, ctx: AgentContext) -> int:
        return ctx.call("get_line", line_id=line_id).plan.refill_price_per_gb_krw

    def _refill(self, step: Step, ctx: AgentContext) -> Outcome:
        amount = step.slots.get("gb") or dialogue.extract_gb(step.text or ctx.text)
        if amount is None:
            usage = ctx.call("get_data_usage", line_id=step.slots["line_id"])
            if usage.unlimited:  # the tool states the rule; no need to ask for an amount
                ctx.propose("refill_data", line_id=step.slots["line_id"], gb=1)
            return Outcome(messages=[say("data.ask_gb", available=gb(usage.refill_available_gb))], ask_slot="gb")
        if amount != int(amount):
            return Outcome(messages=[say("data.ask_whole_gb")], ask_slot="gb")
        args = {"line_id": step.slots["line_id"], "gb": int(amount)}
        proposal = ctx.propose("refill_data", **args)
        return confirm(ctx, step, [("refill_data", args)], proposal.summary_ko)

    def on_slot(self, step: Step, slot: str, ctx: AgentContext) -> Step | None:
        if slot == "line":
            return fill_line_slot(step, ctx)
        if slot == "gb":
            amount = dialogue.extract_gb(ctx.text)
            if amount is None:
                digits = [int(t) for t in ctx.text.replace("기가", " ").split() if t.isdigit()]
                amount = float(digits[0]) if len(digits) == 1 else None
            if amount is None:
                return None
            return step.model_copy(update={"slots": {**step.slots, "gb": amount}})
        return None

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        r = results[0]
        return Outcome(messages=[say("data.refilled", gb=gb(r.gb), charge=won(r.charge_krw), available=gb(r.refill_available_gb))])
