"""Billing computation for the packaged procedures ``billing_inquiry`` and ``billing_payment``: which bills a
request is about (parsing the request's words, selecting from ``get_bills``), how a bill differs from the previous
one (``explain_bill``), what a payment covers and what it resumed. The Korean text of every answer is the
procedures' YAML (templates ``billing.*`` of templates/ko.yaml).
"""

from __future__ import annotations

import re
from typing import Any

from sangdam.agents.common import last4
from sangdam.orchestrator import dialogue
from sangdam.procedures.functions import register_function

EXPLAIN = re.compile(r"(왜|많이|비싸|내역|상세|항목|늘었|올랐|차이|구성|명세|뭐가|무슨)")  # "왜 이렇게 많이 나왔어요?"
OVERDUE = re.compile(r"(미납|연체|밀린|안\s*낸|못\s*낸|안\s*냈|못\s*냈|체납)")  # "안 낸 요금 있어요?"


def _bill(bill: Any) -> dict[str, Any]:
    return {"id": bill.id, "line_id": bill.line_id, "last4": last4(bill.line_number or ""), "period": bill.period,
            "due_date": bill.due_date.isoformat(), "amount_krw": bill.amount_krw, "status": bill.status}


def _explanation(ctx: Any, bill_id: str) -> dict[str, Any]:
    """The bill's items and, when there is a previous bill, the difference to it (``trend`` up/down/same, the
    difference as a positive amount) and the items that changed."""
    exp = ctx.call("explain_bill", bill_id=bill_id)
    out: dict[str, Any] = {"items": [{"name": i.name, "amount_krw": i.amount_krw} for i in exp.bill.items],
                           "trend": None, "changes": []}
    if exp.previous_amount_krw is not None and exp.difference_krw is not None:
        diff = exp.difference_krw
        out.update(trend="up" if diff > 0 else "down" if diff < 0 else "same", previous_period=exp.previous_period,
                   previous_amount_krw=exp.previous_amount_krw, difference_krw=abs(diff),
                   changes=[{"name": c.name, "previous_amount_krw": c.previous_amount_krw or 0,
                             "amount_krw": c.amount_krw or 0} for c in exp.changes])
    return out


@register_function("billing_inquiry", tools=("get_bills", "explain_bill"))
def billing_inquiry(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The bills a question is about (``text``: the request). ``mode``: ``no_bills``; ``overdue`` (an overdue
    question: the overdue bills, oldest first); ``named`` (a period the customer named: its bills); ``latest``
    (the latest issued bill per line; this month's, still accumulating, only for a line with nothing older).
    ``several``: bills of more than one line; ``explain``: the request asks why or what (each bill then has its
    ``explanation``); ``total_overdue_krw``."""
    text = str(args.get("text") or "")
    bills = ctx.call("get_bills", months=12)
    out: dict[str, Any] = {"mode": "no_bills", "bills": [], "several": False, "explain": False,
                           "total_overdue_krw": bills.total_overdue_krw}
    if not bills.bills:
        return out
    if OVERDUE.search(text):
        overdue = sorted((b for b in bills.bills if b.status == "overdue"), key=lambda b: b.period)
        return {**out, "mode": "overdue", "bills": [_bill(b) for b in overdue]}
    period = dialogue.mentioned_period(text, ctx.today)
    chosen = [b for b in bills.bills if b.period == period]
    mode = "named"
    if not chosen:
        mode = "latest"
        current = f"{ctx.today.year:04d}-{ctx.today.month:02d}"
        latest: dict[str, Any] = {}
        for bill in sorted(bills.bills, key=lambda b: (b.period >= current, b.period)):
            if bill.line_id not in latest or (bill.period < current and bill.period > latest[bill.line_id].period):
                latest[bill.line_id] = bill
        chosen = list(latest.values())
    explain = bool(EXPLAIN.search(text))
    selected = []
    for bill in chosen:
        item = _bill(bill)
        if explain:
            item["explanation"] = _explanation(ctx, bill.id)
        selected.append(item)
    return {**out, "mode": mode, "bills": selected, "several": len(selected) > 1, "explain": explain}


@register_function("billing_payable", tools=("get_bills",))
def billing_payable(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
    """What a payment request covers (``text``: the request). ``mode``: ``payment_method`` (a change of how bills
    are paid, "자동이체 카드 바꾸고 싶어요": nothing is read), ``nothing`` or ``pay``; ``bills``: the unpaid bills
    (overdue or issued), only those of a named period ("10월 요금만") or only the overdue ones ("밀린 요금") when
    there are such, overdue first then by period; ``payment_total_krw``: their sum."""
    text = str(args.get("text") or "")
    if dialogue.changes_payment_method(text):
        return {"mode": "payment_method", "bills": [], "payment_total_krw": 0}
    bills = ctx.call("get_bills", months=12)
    unpaid = [b for b in bills.bills if b.status in ("overdue", "issued")]
    period = dialogue.mentioned_period(text, ctx.today)
    if period and any(b.period == period for b in unpaid):
        unpaid = [b for b in unpaid if b.period == period]
    elif OVERDUE.search(text) and any(b.status == "overdue" for b in unpaid):
        unpaid = [b for b in unpaid if b.status == "overdue"]
    unpaid.sort(key=lambda b: (b.status != "overdue", b.period))
    return {"mode": "pay" if unpaid else "nothing", "bills": [_bill(b) for b in unpaid],
            "payment_total_krw": sum(b.amount_krw for b in unpaid)}


@register_function("billing_resumed", tools=("list_lines",))
def billing_resumed(ctx: Any, args: dict[str, Any]) -> list[dict[str, Any]]:
    """The lines the committed payments (``paid``: the ``pay_bill`` results) resumed, in id order, each with the
    last 4 digits of its number (``list_lines`` is read only when there are such lines)."""
    paid = args.get("paid") or []
    resumed = sorted({line for result in paid if isinstance(result, dict)
                      for line in result.get("lines_resumed") or []})
    if not resumed:
        return []
    lines = {ln["id"]: ln for ln in ctx.call("list_lines").model_dump(mode="json")["lines"]}
    return [{"line_id": line, "last4": last4(lines.get(line, {}).get("number", ""))} for line in resumed]
