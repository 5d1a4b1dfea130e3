"""Read tools about the customer and the account: profile, lines, bills, plans (identity: ``tools/identity.py``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.domain import policy
from sangdam.domain.models import Bill, Customer, Line, Plan
from sangdam.backends.sql import lookups
from sangdam.tools.base import NoArgs, ToolContext
from sangdam.tools.inputs import BillArgs, GetBillsArgs, LineArgs, ListPlansArgs
from sangdam.tools.results import (
    BillExplanation,
    BillItemChange,
    BillList,
    CustomerInfo,
    LineDetail,
    LineList,
    PlanList,
)
from sangdam.backends.sql.views import bill_info, line_summary, plan_info


def get_customer(session: Session, ctx: ToolContext, args: NoArgs) -> CustomerInfo:
    cust = lookups.customer(session, ctx)
    return CustomerInfo(
        id=cust.id,
        name=cust.name,
        phone=cust.phone,
        email=cust.email,
        address=cust.address,
        birth_date=cust.birth_date,
        segment=cust.segment,
        preferences=dict(cust.preferences or {}),
        lines=[line_summary(line) for line in cust.lines],
    )


def list_lines(session: Session, ctx: ToolContext, args: NoArgs) -> LineList:
    lines = session.scalars(select(Line).where(Line.customer_id == ctx.customer_id).order_by(Line.id)).all()
    return LineList(lines=[line_summary(line) for line in lines])


def get_line(session: Session, ctx: ToolContext, args: LineArgs) -> LineDetail:
    line = lookups.owned_line(session, ctx, args.line_id)
    pending = session.get(Plan, line.pending_plan_id) if line.pending_plan_id else None
    return LineDetail(
        id=line.id,
        number=line.number,
        status=line.status,
        suspend_reason=line.suspend_reason,
        plan=plan_info(line.plan),
        pending_plan=plan_info(pending) if pending else None,
        pending_plan_effective_date=policy.next_cycle_start(ctx.today) if pending else None,
        roaming_enabled=line.roaming_enabled,
        roaming_pass_id=line.roaming_pass_id,
        mms_enabled=line.mms_enabled,
        data_used_gb=line.data_used_gb,
        data_refill_gb=line.data_refill_gb,
        contract_kind=line.contract_kind,
        contract_end=line.contract_end,
        device_model=line.device_model,
    )


def get_bills(session: Session, ctx: ToolContext, args: GetBillsArgs) -> BillList:
    stmt = select(Bill).where(Bill.customer_id == ctx.customer_id)
    if args.line_id:
        lookups.owned_line(session, ctx, args.line_id)
        stmt = stmt.where(Bill.line_id == args.line_id)
    if args.status:
        stmt = stmt.where(Bill.status == args.status)
    bills = session.scalars(stmt.order_by(Bill.period.desc(), Bill.line_id)).all()
    periods = sorted({b.period for b in bills}, reverse=True)[: args.months]
    numbers = {line.id: line.number for line in session.scalars(select(Line).where(Line.customer_id == ctx.customer_id))}
    overdue = sum(b.amount for b in lookups.overdue_bills(session, ctx.customer_id))
    return BillList(
        bills=[bill_info(b, numbers.get(b.line_id)) for b in bills if b.period in periods],
        total_overdue_krw=overdue,
    )


def explain_bill(session: Session, ctx: ToolContext, args: BillArgs) -> BillExplanation:
    bill = lookups.owned_bill(session, ctx, args.bill_id)
    prev_period = lookups.prev_period(bill.period)
    prev = session.scalars(select(Bill).where(Bill.line_id == bill.line_id, Bill.period == prev_period)).first()
    current_items = _sum_by_name(bill.items)
    prev_items = _sum_by_name(prev.items) if prev else {}
    changes = []
    for name in [*current_items, *(n for n in prev_items if n not in current_items)]:
        now, before = current_items.get(name), prev_items.get(name)
        diff = (now or 0) - (before or 0)
        if prev is not None and diff != 0:
            changes.append(
                BillItemChange(name=name, amount_krw=now, previous_amount_krw=before, difference_krw=diff)
            )
    return BillExplanation(
        bill=bill_info(bill, session.get(Line, bill.line_id).number),
        previous_bill_id=prev.id if prev else None,
        previous_period=prev_period,
        previous_amount_krw=prev.amount if prev else None,
        difference_krw=bill.amount - prev.amount if prev else None,
        changes=changes,
    )


def _sum_by_name(items: list | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items or []:
        name = str(item.get("name", ""))
        out[name] = out.get(name, 0) + int(item.get("amount", 0))
    return out


def list_plans(session: Session, ctx: ToolContext, args: ListPlansArgs) -> PlanList:
    stmt = select(Plan).order_by(Plan.monthly_fee, Plan.id)
    if args.network:
        stmt = stmt.where(Plan.network == args.network)
    return PlanList(plans=[plan_info(p) for p in session.scalars(stmt)])


