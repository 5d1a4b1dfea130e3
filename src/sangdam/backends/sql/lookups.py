"""Shared queries of the tools: ownership-checked loads, the current bill, overdue bills, usage and areas.

Ownership rule: a line or bill that is not the verified customer's is reported exactly like one that does not
exist (``not_found``), so the bot can never confirm another customer's data, or even its existence.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sangdam.domain import policy
from sangdam.domain.models import Bill, Customer, Line, Outage, Plan, RoamingPass, UsageDaily
from sangdam.tools import messages
from sangdam.tools.base import ToolContext, ToolError

MB_PER_GB = 1024


def owned_line(session: Session, ctx: ToolContext, line_id: str) -> Line:
    """The verified customer's line ``line_id``, else ``not_found``."""
    line = session.get(Line, line_id)
    if line is None or line.customer_id != ctx.customer_id:
        raise ToolError("not_found", f"line {line_id!r} not found for this customer", {"kind": "line", "id": line_id})
    return line


def owned_bill(session: Session, ctx: ToolContext, bill_id: str) -> Bill:
    """The verified customer's bill ``bill_id``, else ``not_found``."""
    bill = session.get(Bill, bill_id)
    if bill is None or bill.customer_id != ctx.customer_id:
        raise ToolError("not_found", f"bill {bill_id!r} not found for this customer", {"kind": "bill", "id": bill_id})
    return bill


def customer(session: Session, ctx: ToolContext) -> Customer:
    found = session.get(Customer, ctx.customer_id)
    if found is None:
        raise ToolError("not_found", f"customer {ctx.customer_id!r} not found", {"kind": "customer"})
    return found


def plan(session: Session, plan_id: str) -> Plan:
    found = session.get(Plan, plan_id)
    if found is None:
        raise ToolError("not_found", f"plan {plan_id!r} does not exist", {"kind": "plan", "id": plan_id})
    return found


def roaming_pass(session: Session, pass_id: str) -> RoamingPass:
    found = session.get(RoamingPass, pass_id)
    if found is None:
        raise ToolError("not_found", f"roaming pass {pass_id!r} does not exist", {"kind": "roaming_pass", "id": pass_id})
    return found


def require_status(line: Line, allowed: tuple[str, ...], action: str) -> None:
    """``line_not_active`` unless the line's status is one of ``allowed``."""
    if line.status not in allowed:
        raise ToolError(
            "line_not_active",
            f"{action} needs a line in status {'/'.join(allowed)}; line {line.id} is {line.status}",
            {"line_id": line.id, "status": line.status, "status_ko": messages.text("statuses", line.status)},
        )


def overdue_bills(session: Session, customer_id: str) -> list[Bill]:
    """The customer's bills in status ``overdue``, oldest first."""
    stmt = select(Bill).where(Bill.customer_id == customer_id, Bill.status == "overdue").order_by(Bill.period)
    return list(session.scalars(stmt))


def current_bill(session: Session, line: Line, today: dt.date) -> Bill:
    """The bill of ``today``'s month for ``line``, created (``issued``) if it does not exist yet."""
    period = policy.period_of(today)
    bill = session.scalars(select(Bill).where(Bill.line_id == line.id, Bill.period == period)).first()
    if bill is None:
        bill_id = f"B-{line.id}-{period}"
        if len(bill_id) > 40 or session.get(Bill, bill_id) is not None:
            bill_id = f"B-{uuid.uuid4().hex[:12].upper()}"
        bill = Bill(
            id=bill_id,
            customer_id=line.customer_id,
            line_id=line.id,
            period=period,
            due_date=policy.due_date_for(period),
            amount=0,
            status="issued",
            items=[],
        )
        session.add(bill)
    return bill


def add_bill_item(bill: Bill, name: str, amount: int) -> None:
    """Append ``{name, amount}`` and keep ``amount`` the sum of its items' change.

    A new charge on an already paid bill reopens it (``issued``): what was added is still owed.
    """
    bill.items = [*(bill.items or []), {"name": name, "amount": int(amount)}]  # reassign so the JSON is saved
    bill.amount = int(bill.amount or 0) + int(amount)
    if bill.status == "paid" and amount > 0:
        bill.status = "issued"


def prev_period(period: str) -> str:
    year, month = (int(p) for p in period.split("-"))
    return f"{year - 1:04d}-12" if month == 1 else f"{year:04d}-{month - 1:02d}"


def last_full_months(today: dt.date, count: int = 3) -> list[str]:
    """The ``count`` complete months before ``today``'s month, oldest first (``YYYY-MM``)."""
    periods = [prev_period(policy.period_of(today))]
    while len(periods) < count:
        periods.append(prev_period(periods[-1]))
    return list(reversed(periods))


def monthly_data_gb(session: Session, line_id: str, periods: list[str]) -> dict[str, float]:
    """Data used per month (GB, 2 decimals) for the months of ``periods`` that have usage rows."""
    first = dt.date.fromisoformat(periods[0] + "-01")
    last = policy.next_cycle_start(dt.date.fromisoformat(periods[-1] + "-01"))
    stmt = select(UsageDaily.date, UsageDaily.data_mb).where(
        UsageDaily.line_id == line_id, UsageDaily.date >= first, UsageDaily.date < last
    )
    totals: dict[str, int] = defaultdict(int)
    for day, mb in session.execute(stmt):
        totals[policy.period_of(day)] += int(mb or 0)
    return {p: round(totals[p] / MB_PER_GB, 2) for p in periods if p in totals}


def month_usage_rows(session: Session, line_id: str, today: dt.date) -> int:
    stmt = select(func.count()).where(UsageDaily.line_id == line_id, UsageDaily.date >= today.replace(day=1))
    return int(session.scalar(stmt) or 0)


def allowance_gb(line: Line) -> float | None:
    """This month's data allowance (plan + refills), or None for unlimited plans."""
    if line.plan.data_gb is None:
        return None
    return float(line.plan.data_gb) + float(line.data_refill_gb or 0)


def area_matches(area: str, text: str) -> bool:
    """Whether two place descriptions name the same area.

    Token prefixes, either way round: outage ``서울 강남구`` matches address ``서울특별시 강남구 테헤란로 1`` and
    query ``강남``.
    """
    a, b = area.split(), text.split()
    if not a or not b:
        return False

    def covered(small: list[str], big: list[str]) -> bool:
        return all(any(tok.startswith(s) for tok in big) for s in small)

    return covered(a, b) or covered(b, a)


def active_outages(session: Session, today: dt.date, area: str | None = None) -> list[Outage]:
    """Unresolved outages that have started by ``today``, optionally only those matching ``area``."""
    start_of_tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
    stmt = select(Outage).where(Outage.resolved.is_(False), Outage.started_at < start_of_tomorrow)
    outages = list(session.scalars(stmt.order_by(Outage.started_at)))
    if area:
        outages = [o for o in outages if area_matches(o.area, area)]
    return outages


def new_ticket_id() -> str:
    return f"T-{uuid.uuid4().hex[:10].upper()}"
