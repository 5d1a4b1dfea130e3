"""Billing agent: bills, why a bill changed, paying bills."""

from __future__ import annotations

import re
from typing import Any

from sangdam.agents.base import Agent, AgentContext, Outcome
from sangdam.agents.common import LINE_TOOLS, confirm, last4
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.format import kdate, kperiod, say, won
from sangdam.orchestrator.state import PendingAction, Step

_EXPLAIN = re.compile(r"(왜|많이|비싸|내역|상세|항목|늘었|올랐|차이|구성|명세|뭐가|무슨)")
_OVERDUE = re.compile(r"(미납|연체|밀린|안\s*낸|못\s*낸|안\s*냈|못\s*냈|체납)")


class BillingAgent(Agent):
    name = "billing"
    intents = ("billing.inquiry", "billing.payment")
    tools = ("get_bills", "explain_bill", "pay_bill", *LINE_TOOLS)

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        if step.intent == "billing.payment":
            if dialogue.changes_payment_method(step.text or ctx.text):  # "자동이체 카드 바꾸고 싶어요": not a payment
                return Outcome(messages=[say("billing.payment_method")])
            return self._pay(step, ctx)
        return self._inquiry(step, ctx)

    def _inquiry(self, step: Step, ctx: AgentContext) -> Outcome:
        text = step.text or ctx.text
        bills = ctx.call("get_bills", months=12)
        if not bills.bills:
            return Outcome(messages=[say("billing.no_bills")])
        if _OVERDUE.search(text):  # "안 낸 요금 있어요?": the overdue question, answered directly
            return Outcome(messages=self._overdue(bills))
        period = dialogue.mentioned_period(text, ctx.today)
        named = [b for b in bills.bills if b.period == period]
        if named:
            return Outcome(messages=[m for b in named for m in self._describe(b, len(named) > 1, text, ctx)])
        # The most recent issued bill per line; this month's bill is still accumulating (a refill or a
        # roaming pass adds to it), so it is shown only when a line has nothing older.
        current = f"{ctx.today.year:04d}-{ctx.today.month:02d}"
        latest: dict[str, Any] = {}
        for bill in sorted(bills.bills, key=lambda b: (b.period >= current, b.period)):
            if bill.line_id not in latest or (bill.period < current and bill.period > latest[bill.line_id].period):
                latest[bill.line_id] = bill
        messages = [m for bill in latest.values() for m in self._describe(bill, len(latest) > 1, text, ctx)]
        if bills.total_overdue_krw > 0:
            messages.append(say("billing.overdue_total", amount=won(bills.total_overdue_krw)))
        return Outcome(messages=messages)

    def _describe(self, bill: Any, several: bool, text: str, ctx: AgentContext) -> list[str]:
        key = "billing.bill_for_line" if several else "billing.bill"
        out = [say(key, last4=last4(bill.line_number or ""), period=kperiod(bill.period), amount=won(bill.amount_krw),
                   due=kdate(bill.due_date), status=say(f"billing.status.{bill.status}"))]
        if _EXPLAIN.search(text):
            out.extend(self._explain(bill.id, ctx))
        return out

    def _overdue(self, bills: Any) -> list[str]:
        overdue = [b for b in bills.bills if b.status == "overdue"]
        if not overdue:
            return [say("billing.no_overdue")]
        items = [say("billing.pay_item", period=kperiod(b.period), amount=won(b.amount_krw), status=say("billing.status.overdue"))
                 for b in sorted(overdue, key=lambda b: b.period)]
        return [say("billing.overdue_total", amount=won(bills.total_overdue_krw)), *items]

    def _explain(self, bill_id: str, ctx: AgentContext) -> list[str]:
        exp = ctx.call("explain_bill", bill_id=bill_id)
        out = [say("billing.items_header")]
        out += [say("billing.item", name=i.name, amount=won(i.amount_krw)) for i in exp.bill.items]
        if exp.previous_amount_krw is not None and exp.difference_krw is not None:
            prev = kperiod(exp.previous_period)
            if exp.difference_krw > 0:
                out.append(say("billing.diff_up", prev_period=prev, prev_amount=won(exp.previous_amount_krw), diff=won(exp.difference_krw)))
            elif exp.difference_krw < 0:
                out.append(say("billing.diff_down", prev_period=prev, prev_amount=won(exp.previous_amount_krw), diff=won(-exp.difference_krw)))
            else:
                out.append(say("billing.diff_same", prev_period=prev))
            if exp.changes:
                out.append(say("billing.changes_header"))
                for c in exp.changes:
                    out.append(say("billing.change_item", name=c.name,
                                   prev=won(c.previous_amount_krw or 0), now=won(c.amount_krw or 0)))
        return out

    def _pay(self, step: Step, ctx: AgentContext) -> Outcome:
        text = step.text or ctx.text
        bills = ctx.call("get_bills", months=12)
        unpaid = [b for b in bills.bills if b.status in ("overdue", "issued")]
        period = dialogue.mentioned_period(text, ctx.today)
        if period and any(b.period == period for b in unpaid):  # "10월 요금만 낼게요"
            unpaid = [b for b in unpaid if b.period == period]
        elif _OVERDUE.search(text) and any(b.status == "overdue" for b in unpaid):  # "밀린 요금": overdue only
            unpaid = [b for b in unpaid if b.status == "overdue"]
        unpaid.sort(key=lambda b: (b.status != "overdue", b.period))
        if not unpaid:
            return Outcome(messages=[say("billing.nothing_to_pay")])
        for bill in unpaid:  # every rule checked before anything is proposed
            ctx.propose("pay_bill", bill_id=bill.id)
        lines = [say("billing.pay_item", period=kperiod(b.period), amount=won(b.amount_krw),
                     status=say(f"billing.status.{b.status}")) for b in unpaid]
        total = sum(b.amount_krw for b in unpaid)
        ctx.blackboard.add_fact({"payment_total_krw": total})  # a sum of tool amounts, computed in code
        summary = "\n".join([say("billing.pay_proposal", total=won(total)), *lines])
        return confirm(ctx, step, [("pay_bill", {"bill_id": b.id}) for b in unpaid], summary)

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        messages = [say("billing.paid", period=kperiod(r.period), amount=won(r.amount_krw)) for r in results]
        resumed = {ln for r in results for ln in r.lines_resumed}
        if resumed:
            lines = {ln["id"]: ln for ln in ctx.call("list_lines").model_dump(mode="json")["lines"]}
            for line_id in sorted(resumed):
                messages.append(say("billing.resumed", last4=last4(lines.get(line_id, {}).get("number", ""))))
        return Outcome(messages=messages)
