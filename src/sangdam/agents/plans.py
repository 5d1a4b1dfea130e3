"""Plans agent: plan catalogue, personalised recommendation, plan change."""

from __future__ import annotations

import re
from typing import Any

from sangdam.agents.base import Agent, AgentContext, Outcome
from sangdam.agents.common import LINE_TOOLS, ask_line, confirm, fill_line_slot, resolve_line
from sangdam.domain import policy
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.blackboard import MissingResult
from sangdam.orchestrator.format import gb, kdate, say, speed, won
from sangdam.orchestrator.planner import blocked_message, needs
from sangdam.orchestrator.repetition import without_restated
from sangdam.orchestrator.state import PendingAction, Step
from sangdam.tools.results import ContractInfo, DataUsage

_MINE = re.compile(r"((?:^|\s)(내|제|저의|나의|우리)(?=\s|가|꺼|거)|지금\s*(쓰|사용|이용)|현재|쓰고\s*있는|이용\s*중|사용\s*중)")
_RECOMMENDED = re.compile(r"(추천|그걸로|그거로|그것으로|그 요금제|첫\s*번째|1번)")


class PlansAgent(Agent):
    name = "plans"
    intents = ("plan.info", "plan.recommend", "plan.change")
    tools = ("list_plans", "get_line", "recommend_plans", "change_plan", *LINE_TOOLS)

    def needs_identity(self, step: Step, ctx: AgentContext) -> bool:
        if step.intent != "plan.info":
            return True
        return bool(_MINE.search(step.text)) and not self._named_plans(step, ctx)

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        if step.intent == "plan.recommend":
            return self._recommend(step, ctx)
        if step.intent == "plan.change":
            return self._change(step, ctx)
        return self._info(step, ctx)

    # -- info -------------------------------------------------------------------------------------------------
    def _named_plans(self, step: Step, ctx: AgentContext) -> list[dict[str, Any]]:
        """Plans of the operator's catalogue (the database, not the demo file) named in the step's text."""
        plans = (ctx.blackboard.get("list_plans") or ctx.call("list_plans").model_dump(mode="json"))["plans"]
        return dialogue.match_by_name(step.text or ctx.text, plans)

    def _info(self, step: Step, ctx: AgentContext) -> Outcome:
        named = self._named_plans(step, ctx)
        if named:
            return Outcome(messages=[_detail(p) for p in named[:2]])
        if ctx.customer_id and _MINE.search(step.text or ctx.text):
            line = resolve_line(step, ctx)
            if line is None:
                return ask_line(ctx)
            detail = ctx.call("get_line", line_id=line["id"])
            messages = [say("plans.current", name=detail.plan.name, fee=won(detail.plan.monthly_fee_krw), data=gb(detail.plan.data_gb))]
            if detail.pending_plan is not None:
                messages.append(say("plans.pending", name=detail.pending_plan.name, date=kdate(detail.pending_plan_effective_date)))
            return Outcome(messages=messages)
        plans = ctx.call("list_plans").plans
        items = [say("plans.item", name=p.name, network=p.network, fee=won(p.monthly_fee_krw), data=gb(p.data_gb)) for p in plans]
        return Outcome(messages=[say("plans.list_header"), *items])

    # -- recommend --------------------------------------------------------------------------------------------
    def _recommend(self, step: Step, ctx: AgentContext) -> Outcome:
        """Plans that fit the line's use, from the results this step depends on: this month's usage report
        (``data.usage``: the last full months) and the contract (``contract.info``: the discount payback a move
        to a cheaper plan costs). ``recommend_plans`` gives only what neither holds: the catalogue's plans that
        fit, with their monthly saving. Usage and contract are never fetched or reckoned again here."""
        inputs = ctx.blackboard.inputs(step, needs(step.intent), blocked=blocked_message(step.intent))
        usage = ctx.blackboard.result(inputs, "data.usage", DataUsage)
        contract = ctx.blackboard.result(inputs, "contract.info", ContractInfo)
        if contract.line_id != usage.line_id:  # read for different lines: neither fits the other
            raise MissingResult(step.intent, ["contract.info"], blocked_message(step.intent))
        rec = ctx.call("recommend_plans", line_id=usage.line_id)  # the line the usage was read for
        months = [m.data_gb for m in usage.last_months]
        avg, peak = round(sum(months) / len(months), 2), max(months)  # the tool refuses a line without months
        effective = policy.next_cycle_start(ctx.today)  # a change applies next cycle unless asked otherwise
        switch_costs = {r.plan.id: _switch_cost(contract, rec.current_plan.monthly_fee_krw, r.plan.monthly_fee_krw, effective)
                        for r in rec.recommendations}
        ctx.blackboard.produce(step.intent, {"line_id": usage.line_id, "avg_monthly_gb": avg, "max_monthly_gb": peak,
                                             "switch_cost_krw": switch_costs})
        messages = [say("plans.usage_basis", avg=gb(avg), max=gb(peak))]
        cheaper = [r for r in rec.recommendations if r.monthly_saving_krw > 0]
        if rec.current_plan_fits and not cheaper:
            messages.append(say("plans.fits_already", name=rec.current_plan.name))
            ctx.state.last_recommended = []
            return Outcome(messages=messages)
        picks = cheaper[:2] if cheaper else rec.recommendations[:2]
        if not picks:
            messages.append(say("plans.fits_already", name=rec.current_plan.name))
            return Outcome(messages=messages)
        messages.append(say("plans.recommend_header") if cheaper else say("plans.recommend_more_data"))
        for r in picks:
            p = r.plan
            if r.monthly_saving_krw > 0:
                messages.append(say("plans.recommend_item", name=p.name, fee=won(p.monthly_fee_krw), data=gb(p.data_gb), saving=won(r.monthly_saving_krw)))
            else:
                messages.append(say("plans.recommend_item_more", name=p.name, fee=won(p.monthly_fee_krw), data=gb(p.data_gb), extra=won(-r.monthly_saving_krw)))
            if switch_costs[p.id] > 0:
                messages.append(say("plans.switch_cost", cost=won(switch_costs[p.id])))
        messages.append(say("plans.recommend_change_hint"))
        ctx.state.last_recommended = [r.plan.id for r in picks]
        return Outcome(messages=messages)

    # -- change -----------------------------------------------------------------------------------------------
    def _target_plan(self, step: Step, ctx: AgentContext) -> str | None:
        if step.slots.get("plan_id"):
            return step.slots["plan_id"]
        named = self._named_plans(step, ctx)
        if named:
            return named[0]["id"]
        if ctx.state.last_recommended and _RECOMMENDED.search(step.text or ctx.text):
            return ctx.state.last_recommended[0]
        return None

    def _change(self, step: Step, ctx: AgentContext) -> Outcome:
        line = resolve_line(step, ctx, statuses=("active",))
        if line is None:
            return ask_line(ctx)
        plan_id = self._target_plan(step, ctx)
        if plan_id is None:
            names = ", ".join(p.name for p in ctx.call("list_plans").plans)
            return Outcome(messages=[say("plans.ask_plan", names=names)], ask_slot="plan")
        effective = "immediate" if (step.slots.get("effective") == "immediate" or dialogue.wants_immediate(step.text or ctx.text)) else "next_cycle"
        args = {"line_id": line["id"], "plan_id": plan_id, "effective": effective}
        proposal = ctx.propose("change_plan", **args)
        return confirm(ctx, step, [("change_plan", args)], proposal.summary_ko)

    def on_slot(self, step: Step, slot: str, ctx: AgentContext) -> Step | None:
        if slot == "line":
            return fill_line_slot(step, ctx)
        if slot == "plan":
            plans = ctx.call("list_plans").model_dump(mode="json")["plans"]
            named = dialogue.match_by_name(ctx.text, plans)
            if not named:
                return None
            return step.model_copy(update={"slots": {**step.slots, "plan_id": named[0]["id"]}, "text": step.text + " " + ctx.text})
        return None

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        r = results[0]
        if r.effective == "immediate":
            messages = [say("plans.changed_now", new=r.new_plan_name)]
            if r.prorated_charge_krw > 0:
                messages.append(say("plans.prorated_charge", amount=won(r.prorated_charge_krw)))
            elif r.prorated_charge_krw < 0:
                messages.append(say("plans.prorated_credit", amount=won(-r.prorated_charge_krw)))
        else:
            messages = [say("plans.changed_next", new=r.new_plan_name, date=kdate(r.effective_date))]
        if r.switch_cost_krw > 0:
            messages.append(say("plans.switch_cost_charged", amount=won(r.switch_cost_krw)))
        return Outcome(messages=messages)


def _switch_cost(contract: ContractInfo, current_fee: int, new_fee: int, effective: Any) -> int:
    """Discount payback a move from ``current_fee`` to ``new_fee`` taking effect on ``effective`` costs, read from
    the contract result: its payback as of today when the move is to a cheaper plan while the contract still runs
    on that day; nothing otherwise (``policy.plan_change_payback``: a move up, or any other contract, costs
    nothing; the device instalment keeps being paid monthly)."""
    if contract.contract_end is not None and contract.contract_end < effective:
        return 0
    return contract.discount_payback_krw if new_fee < current_fee else 0


def _detail(p: dict[str, Any]) -> str:
    fee, data = won(p["monthly_fee_krw"]), gb(p["data_gb"])
    throttle = speed(p["throttle_kbps"]) if p.get("throttle_kbps") else ""
    # the catalogue description adds taglines and extras; its data size and speed are the templates' to state
    description = without_restated(p["description"] or "", [fee, data, throttle])
    text = say("plans.detail", name=p["name"], network=p["network"], fee=fee, data=data, description=description)
    if throttle:
        text += " " + say("plans.throttle", speed=throttle)
    return text
