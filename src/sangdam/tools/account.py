"""Read tools about the customer and the account: profile, lines, bills, plans (identity: ``tools/identity.py``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.domain import policy
from sangdam.domain.models import Bill, Customer, Line, Plan
from sangdam.tools import lookups
from sangdam.tools.base import NoArgs, RiskTier, Tool, ToolContext
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
from sangdam.tools.views import bill_info, line_summary, plan_info


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


def with_stored_preferences(ctx: ToolContext, info: CustomerInfo) -> CustomerInfo:
    """What the customer told Sangdam ("문자로 안내해 주세요") over what the operator's profile holds."""
    from sangdam.personalization.preferences import stored_preferences

    stored = stored_preferences(ctx.engine, info.id) if ctx.customer_id else {}
    return info.model_copy(update={"preferences": {**info.preferences, **stored}}) if stored else info


TOOLS = [
    Tool("get_customer", "Profile of the verified customer (name, contact, address, preferences, lines).",
         RiskTier.read, True, NoArgs, CustomerInfo, handler=get_customer, enrich=with_stored_preferences),
    Tool("list_lines", "The verified customer's lines with number, status and plan.",
         RiskTier.read, True, NoArgs, LineList, handler=list_lines),
    Tool("get_line", "Details of one line: plan, pending plan change, status, roaming, data used, contract.",
         RiskTier.read, True, LineArgs, LineDetail, handler=get_line),
    Tool("get_bills", "The customer's bills (most recent months first), optionally one line's or one status.",
         RiskTier.read, True, GetBillsArgs, BillList, handler=get_bills),
    Tool("explain_bill", "Items of one bill and what changed versus the same line's previous month.",
         RiskTier.read, True, BillArgs, BillExplanation, handler=explain_bill),
    Tool("list_plans", "The operator's plans (cheapest first), optionally of one network.",
         RiskTier.read, False, ListPlansArgs, PlanList, handler=list_plans),
]
