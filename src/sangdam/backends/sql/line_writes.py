"""Write tools on a line: plan change, data refill, roaming, suspension and resumption.

Each tool is a ``plan`` (every business rule; returns the effect; writes nothing) and an ``apply`` (performs
exactly that effect). ``Tool.preview`` shows the plan; ``Tool.run`` does both in one transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from sangdam.domain import policy
from sangdam.backends.sql import lookups
from sangdam.tools import messages
from sangdam.tools.base import ToolContext, ToolError
from sangdam.tools.inputs import ChangePlanArgs, EnableRoamingArgs, LineArgs, RefillDataArgs, SuspendLineArgs
from sangdam.tools.results import LineStatusResult, PlanChangeResult, RefillResult, RoamingResult
from sangdam.backends.sql.usage import refill_available
from sangdam.backends.sql.views import switch_cost

SUSPENDED_STATUSES = ("suspended", "lost")


def _refuse_if_overdue(session: Session, customer_id: str, action: str) -> None:
    overdue = lookups.overdue_bills(session, customer_id)
    if overdue:
        total = sum(b.amount for b in overdue)
        raise ToolError(
            "overdue_bill",
            f"{action} refused: {len(overdue)} overdue bill(s) totalling {total} KRW must be paid first",
            {"overdue_count": len(overdue), "overdue_total_krw": total, "bill_ids": [b.id for b in overdue]},
        )


# --- change_plan ---------------------------------------------------------------------------------------------
def plan_change_plan(session: Session, ctx: ToolContext, args: ChangePlanArgs) -> dict[str, Any]:
    line = lookups.owned_line(session, ctx, args.line_id)
    lookups.require_status(line, policy.WRITABLE_LINE_STATUSES, "change_plan")
    new = lookups.plan(session, args.plan_id)
    if new.id == line.plan_id:
        raise ToolError("same_plan", f"line {line.id} is already on {new.id}", {"plan_name": new.name})
    if args.effective == "next_cycle" and line.pending_plan_id == new.id:
        raise ToolError(
            "plan_change_already_pending",
            f"line {line.id} is already scheduled to move to {new.id} next cycle",
            {"plan_name": new.name, "effective_date": policy.next_cycle_start(ctx.today)},
        )
    immediate = args.effective == "immediate"
    effective_date = ctx.today if immediate else policy.next_cycle_start(ctx.today)
    return {
        "line_id": line.id,
        "line_number": line.number,
        "old_plan_id": line.plan_id,
        "old_plan_name": line.plan.name,
        "old_monthly_fee_krw": line.plan.monthly_fee,
        "new_plan_id": new.id,
        "new_plan_name": new.name,
        "new_monthly_fee_krw": new.monthly_fee,
        "effective": args.effective,
        "effective_date": effective_date,
        "prorated_charge_krw": policy.prorated_difference(line.plan.monthly_fee, new.monthly_fee, ctx.today)
        if immediate
        else 0,
        # owed only if the contract still runs when the change takes effect ("약정 끝나면 바꿔 주세요")
        "switch_cost_krw": switch_cost(line, new, ctx.today, effective_date),
        "replaces_pending_plan_id": line.pending_plan_id,
    }


def apply_change_plan(session: Session, ctx: ToolContext, args: ChangePlanArgs, effect: dict) -> PlanChangeResult:
    line = lookups.owned_line(session, ctx, args.line_id)
    bill = None
    if args.effective == "immediate":
        line.plan_id = effect["new_plan_id"]
        line.pending_plan_id = None
        if effect["prorated_charge_krw"]:
            bill = lookups.current_bill(session, line, ctx.today)
            lookups.add_bill_item(bill, messages.text("bill_items", "plan_proration", effect), effect["prorated_charge_krw"])
    else:
        line.pending_plan_id = effect["new_plan_id"]
    if effect["switch_cost_krw"] > 0:
        bill = lookups.current_bill(session, line, ctx.today)
        lookups.add_bill_item(bill, messages.text("bill_items", "discount_payback", effect), effect["switch_cost_krw"])
    return PlanChangeResult(
        line_id=line.id,
        old_plan_id=effect["old_plan_id"],
        old_plan_name=effect["old_plan_name"],
        new_plan_id=effect["new_plan_id"],
        new_plan_name=effect["new_plan_name"],
        new_monthly_fee_krw=effect["new_monthly_fee_krw"],
        effective=args.effective,
        effective_date=effect["effective_date"],
        prorated_charge_krw=effect["prorated_charge_krw"],
        switch_cost_krw=effect["switch_cost_krw"],
        bill_id=bill.id if bill else None,
    )


# --- refill_data ---------------------------------------------------------------------------------------------
def plan_refill_data(session: Session, ctx: ToolContext, args: RefillDataArgs) -> dict[str, Any]:
    line = lookups.owned_line(session, ctx, args.line_id)
    lookups.require_status(line, policy.WRITABLE_LINE_STATUSES, "refill_data")
    if line.plan.data_gb is None:
        raise ToolError("unlimited_plan", f"plan {line.plan_id} is unlimited; nothing to refill",
                        {"plan_name": line.plan.name})
    if not policy.REFILL_MIN_GB <= args.gb <= policy.REFILL_MAX_GB_PER_REQUEST:
        raise ToolError(
            "refill_amount_out_of_range",
            f"refill must be {policy.REFILL_MIN_GB}-{policy.REFILL_MAX_GB_PER_REQUEST} GB per request, got {args.gb}",
            {"min_gb": policy.REFILL_MIN_GB, "max_gb": policy.REFILL_MAX_GB_PER_REQUEST, "requested_gb": args.gb},
        )
    available = refill_available(line)
    if args.gb > available:
        raise ToolError(
            "refill_limit_exceeded",
            f"at most {policy.REFILL_MAX_GB_PER_MONTH} GB per line per month; {available} GB left this month",
            {"available_gb": available, "month_max_gb": policy.REFILL_MAX_GB_PER_MONTH,
             "requested_gb": args.gb, "refilled_gb": float(line.data_refill_gb or 0)},
        )
    return {
        "line_id": line.id,
        "line_number": line.number,
        "gb": args.gb,
        "price_per_gb_krw": line.plan.refill_price_per_gb,
        "charge_krw": args.gb * line.plan.refill_price_per_gb,
        "new_allowance_gb": float(lookups.allowance_gb(line) or 0) + args.gb,
        "bill_period": policy.period_of(ctx.today),
    }


def apply_refill_data(session: Session, ctx: ToolContext, args: RefillDataArgs, effect: dict) -> RefillResult:
    line = lookups.owned_line(session, ctx, args.line_id)
    line.data_refill_gb = float(line.data_refill_gb or 0) + args.gb
    bill = lookups.current_bill(session, line, ctx.today)
    lookups.add_bill_item(bill, messages.text("bill_items", "refill", effect), effect["charge_krw"])
    return RefillResult(
        line_id=line.id,
        gb=args.gb,
        charge_krw=effect["charge_krw"],
        bill_id=bill.id,
        allowance_gb=effect["new_allowance_gb"],
        refilled_this_month_gb=line.data_refill_gb,
        refill_available_gb=refill_available(line),
    )


# --- roaming -------------------------------------------------------------------------------------------------
def plan_enable_roaming(session: Session, ctx: ToolContext, args: EnableRoamingArgs) -> dict[str, Any]:
    line = lookups.owned_line(session, ctx, args.line_id)
    lookups.require_status(line, policy.WRITABLE_LINE_STATUSES, "enable_roaming")
    _refuse_if_overdue(session, line.customer_id, "enable_roaming")
    rp = lookups.roaming_pass(session, args.pass_id) if args.pass_id else None
    if rp is None and line.roaming_enabled:
        raise ToolError("roaming_already_enabled", f"roaming is already on for line {line.id}", {"line_id": line.id})
    if rp is not None and line.roaming_enabled and line.roaming_pass_id == rp.id:
        # Buying the same active pass twice is almost always a duplicated request, not a second trip.
        raise ToolError("roaming_pass_already_active", f"pass {rp.id} is already active on line {line.id}",
                        {"pass_name": rp.name})
    return {
        "line_id": line.id,
        "line_number": line.number,
        "pass_id": rp.id if rp else None,
        "pass_name": rp.name if rp else None,
        "pass_days": rp.days if rp else None,
        "pass_data_gb": rp.data_gb if rp else None,
        "charge_krw": rp.price if rp else 0,
        "bill_period": policy.period_of(ctx.today),
    }


def apply_enable_roaming(session: Session, ctx: ToolContext, args: EnableRoamingArgs, effect: dict) -> RoamingResult:
    line = lookups.owned_line(session, ctx, args.line_id)
    line.roaming_enabled = True
    bill = None
    if effect["pass_id"]:
        line.roaming_pass_id = effect["pass_id"]
        bill = lookups.current_bill(session, line, ctx.today)
        lookups.add_bill_item(bill, messages.text("bill_items", "roaming_pass", effect), effect["charge_krw"])
    return RoamingResult(line_id=line.id, roaming_enabled=True, pass_id=line.roaming_pass_id,
                         pass_name=effect["pass_name"], charge_krw=effect["charge_krw"], bill_id=bill.id if bill else None)


def plan_disable_roaming(session: Session, ctx: ToolContext, args: LineArgs) -> dict[str, Any]:
    line = lookups.owned_line(session, ctx, args.line_id)
    lookups.require_status(line, ("active", *SUSPENDED_STATUSES), "disable_roaming")
    if not line.roaming_enabled:
        raise ToolError("roaming_not_enabled", f"roaming is already off for line {line.id}", {"line_id": line.id})
    return {"line_id": line.id, "line_number": line.number, "pass_id": line.roaming_pass_id}


def apply_disable_roaming(session: Session, ctx: ToolContext, args: LineArgs, effect: dict) -> RoamingResult:
    line = lookups.owned_line(session, ctx, args.line_id)
    line.roaming_enabled = False
    line.roaming_pass_id = None  # an unused pass is not refunded (the proposal says so)
    return RoamingResult(line_id=line.id, roaming_enabled=False, pass_id=None, pass_name=None, charge_krw=0,
                         bill_id=None)


# --- suspend / resume ----------------------------------------------------------------------------------------
def plan_suspend_line(session: Session, ctx: ToolContext, args: SuspendLineArgs) -> dict[str, Any]:
    line = lookups.owned_line(session, ctx, args.line_id)
    if line.status in SUSPENDED_STATUSES:
        raise ToolError("line_already_suspended", f"line {line.id} is already {line.status}",
                        {"line_id": line.id, "status_ko": messages.text("statuses", line.status)})
    lookups.require_status(line, policy.WRITABLE_LINE_STATUSES, "suspend_line")
    return {
        "line_id": line.id,
        "line_number": line.number,
        "reason": args.reason,
        "reason_ko": messages.text("suspend_reasons", args.reason),
        "new_status": "lost" if args.reason == "lost" else "suspended",
        "effective_date": ctx.today,
    }


def apply_suspend_line(session: Session, ctx: ToolContext, args: SuspendLineArgs, effect: dict) -> LineStatusResult:
    line = lookups.owned_line(session, ctx, args.line_id)
    old = line.status
    line.status = effect["new_status"]
    line.suspend_reason = args.reason
    return LineStatusResult(line_id=line.id, old_status=old, status=line.status, suspend_reason=args.reason,
                            effective_date=ctx.today)


def plan_resume_line(session: Session, ctx: ToolContext, args: LineArgs) -> dict[str, Any]:
    line = lookups.owned_line(session, ctx, args.line_id)
    if line.status not in SUSPENDED_STATUSES:
        raise ToolError("line_not_suspended", f"line {line.id} is {line.status}, not suspended or lost",
                        {"line_id": line.id, "status_ko": messages.text("statuses", line.status)})
    _refuse_if_overdue(session, line.customer_id, "resume_line")
    return {
        "line_id": line.id,
        "line_number": line.number,
        "old_status": line.status,
        "reason": line.suspend_reason,
        "effective_date": ctx.today,
    }


def apply_resume_line(session: Session, ctx: ToolContext, args: LineArgs, effect: dict) -> LineStatusResult:
    line = lookups.owned_line(session, ctx, args.line_id)
    old = line.status
    line.status = "active"
    line.suspend_reason = None
    return LineStatusResult(line_id=line.id, old_status=old, status="active", suspend_reason=None,
                            effective_date=ctx.today)
