"""Conversions from ORM rows to result models, and the contract arithmetic several tools share."""

from __future__ import annotations

import datetime as dt

from sangdam.domain import policy
from sangdam.domain.models import Bill, Line, Outage, Plan, RoamingPass
from sangdam.tools.results import (
    BillInfo,
    BillItem,
    ContractInfo,
    LineSummary,
    OutageInfo,
    PlanInfo,
    RoamingPassInfo,
)


def plan_info(plan: Plan) -> PlanInfo:
    return PlanInfo(
        id=plan.id,
        name=plan.name,
        network=plan.network,
        monthly_fee_krw=plan.monthly_fee,
        data_gb=plan.data_gb,
        unlimited=plan.data_gb is None,
        throttle_kbps=plan.throttle_kbps,
        refill_price_per_gb_krw=plan.refill_price_per_gb,
        description=plan.description or "",
    )


def line_summary(line: Line) -> LineSummary:
    return LineSummary(id=line.id, number=line.number, status=line.status, plan_id=line.plan_id, plan_name=line.plan.name)


def bill_info(bill: Bill, line_number: str | None = None) -> BillInfo:
    return BillInfo(
        id=bill.id,
        line_id=bill.line_id,
        line_number=line_number,
        period=bill.period,
        due_date=bill.due_date,
        amount_krw=bill.amount,
        status=bill.status,
        items=[BillItem(name=str(i.get("name", "")), amount_krw=int(i.get("amount", 0))) for i in bill.items or []],
    )


def pass_info(rp: RoamingPass) -> RoamingPassInfo:
    return RoamingPassInfo(
        id=rp.id, name=rp.name, days=rp.days, data_gb=rp.data_gb, price_krw=rp.price, countries=list(rp.countries)
    )


def outage_info(outage: Outage) -> OutageInfo:
    return OutageInfo(
        id=outage.id,
        area=outage.area,
        service=outage.service,
        started_at=outage.started_at,
        expected_end=outage.expected_end,
        description=outage.description or "",
    )


def termination_amounts(line: Line, today: dt.date) -> tuple[int, int]:
    """(discount payback, device instalment left) if ``line``'s contract ended ``today``."""
    return policy.early_termination_amount(
        contract_kind=line.contract_kind,
        contract_start=line.contract_start,
        contract_end=line.contract_end,
        monthly_discount=line.monthly_discount or 0,
        device_installment_left=line.device_installment_left or 0,
        today=today,
    )


def switch_cost(line: Line, new_plan: Plan, today: dt.date, effective: dt.date) -> int:
    """Discount payback due if ``line`` moves to ``new_plan`` on ``effective`` (see ``policy.plan_change_payback``,
    reckoned as of ``today``): nothing when the contract has ended by the day the change takes effect."""
    if line.contract_end is not None and line.contract_end < effective:
        return 0
    return policy.plan_change_payback(
        contract_kind=line.contract_kind,
        contract_start=line.contract_start,
        contract_end=line.contract_end,
        monthly_discount=line.monthly_discount or 0,
        old_fee=line.plan.monthly_fee,
        new_fee=new_plan.monthly_fee,
        today=today,
    )


def contract_info(line: Line, today: dt.date) -> ContractInfo:
    payback, installment = termination_amounts(line, today)
    start, end = line.contract_start, line.contract_end
    elapsed = policy.months_elapsed(start, today) if start else None
    remaining = policy.months_elapsed(today, end) if end and end > today else (0 if end else None)
    days_to_end = (end - today).days if end else None
    return ContractInfo(
        line_id=line.id,
        contract_kind=line.contract_kind,
        contract_start=start,
        contract_end=end,
        months_elapsed=elapsed,
        months_remaining=remaining,
        days_to_end=days_to_end,
        ends_within_30_days=days_to_end is not None and 0 <= days_to_end <= 30,
        monthly_discount_krw=line.monthly_discount or 0,
        device_model=line.device_model,
        device_installment_left_krw=installment,
        discount_payback_krw=payback,
        early_termination_total_krw=payback + installment,
        as_of=today,
    )
