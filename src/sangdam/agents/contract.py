"""Contract agent: contract terms, early-termination amount, cancellation requests (handed to a human)."""

from __future__ import annotations

from typing import Any

from sangdam.agents.base import Agent, AgentContext, Outcome
from sangdam.agents.common import LINE_TOOLS, ask_line, confirm, fill_line_slot, resolve_line
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.format import kdate, say, won
from sangdam.orchestrator.state import PendingAction, Step


class ContractAgent(Agent):
    name = "contract"
    intents = ("contract.info", "contract.cancel")
    tools = ("get_contract", "request_cancellation", *LINE_TOOLS)

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        if step.intent == "contract.cancel" and not dialogue.names_cancellation(step.text or ctx.text):
            return Outcome(messages=[say("contract.cancel_unnamed")])  # "네 접수해 주세요" is no cancellation
        line = resolve_line(step, ctx)
        if line is None:
            return ask_line(ctx)
        step.slots["line_id"] = line["id"]
        c = ctx.call("get_contract", line_id=line["id"])
        if step.intent == "contract.info":
            ctx.blackboard.produce(step.intent, c)  # what the steps that need the contract read
            if step.silent:  # gathered for another step (a recommendation): nothing to say
                return Outcome()
        if step.intent == "contract.cancel":
            args = {"line_id": line["id"]}
            ctx.propose("request_cancellation", **args)
            summary = say("contract.cancel_proposal", total=won(c.early_termination_total_krw))
            # the proposal states the total: the early-termination sentence would say it twice
            return confirm(ctx, step, [("request_cancellation", args)], "\n".join([*_describe(c, etf=False), summary]))
        return Outcome(messages=_describe(c))

    def on_slot(self, step: Step, slot: str, ctx: AgentContext) -> Step | None:
        return fill_line_slot(step, ctx) if slot == "line" else None

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        r = results[0]
        return Outcome(messages=[say("contract.cancel_done", ticket=r.ticket_id)], handoff=r.handed_off)


def _describe(c: Any, *, etf: bool = True) -> list[str]:
    """The contract in sentences; the instalment left is stated once (the early-termination sentence refers to it)."""
    out: list[str] = []
    if c.contract_kind == "none" and not c.device_installment_left_krw:
        return [say("contract.none")]
    if c.contract_kind == "selective_discount" and c.contract_start and c.contract_end:
        out.append(say("contract.selective", discount=won(c.monthly_discount_krw), start=kdate(c.contract_start), end=kdate(c.contract_end)))
        if c.days_to_end is not None and c.days_to_end <= 0:
            out.append(say("contract.ended"))
        elif c.ends_within_30_days:
            out.append(say("contract.ending_soon", days=c.days_to_end))
    if c.device_installment_left_krw:
        out.append(say("contract.installment", device=c.device_model or "", left=won(c.device_installment_left_krw)))
    if not etf:
        return out
    if c.discount_payback_krw and c.device_installment_left_krw:
        out.append(say("contract.etf", payback=won(c.discount_payback_krw), total=won(c.early_termination_total_krw)))
    elif c.discount_payback_krw:  # one part only: its amount is the total, said once
        out.append(say("contract.etf_payback_only", payback=won(c.discount_payback_krw)))
    elif c.device_installment_left_krw:
        out.append(say("contract.etf_installment_only"))
    else:
        out.append(say("contract.etf_none"))
    return out
