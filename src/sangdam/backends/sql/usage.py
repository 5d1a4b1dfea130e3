"""Read tools about data usage, plan recommendations and contracts."""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.domain import policy
from sangdam.domain.models import Plan
from sangdam.backends.sql import lookups
from sangdam.tools.base import ToolContext, ToolError
from sangdam.tools.inputs import LineArgs
from sangdam.tools.results import (
    ContractInfo,
    DataUsage,
    MonthlyUsage,
    PlanRecommendation,
    RecommendationResult,
)
from sangdam.backends.sql.views import contract_info, plan_info, switch_cost

HISTORY_MONTHS = 3


def _last_months(session: Session, ctx: ToolContext, line_id: str) -> list[MonthlyUsage]:
    totals = lookups.monthly_data_gb(session, line_id, lookups.last_full_months(ctx.today, HISTORY_MONTHS))
    return [MonthlyUsage(period=p, data_gb=gb) for p, gb in totals.items()]


def get_data_usage(session: Session, ctx: ToolContext, args: LineArgs) -> DataUsage:
    line = lookups.owned_line(session, ctx, args.line_id)
    allowance = lookups.allowance_gb(line)
    used = round(float(line.data_used_gb or 0), 2)
    cycle_end = policy.next_cycle_start(ctx.today) - dt.timedelta(days=1)
    unlimited = allowance is None
    return DataUsage(
        line_id=line.id,
        plan_name=line.plan.name,
        period=policy.period_of(ctx.today),
        used_gb=used,
        plan_data_gb=line.plan.data_gb,
        refill_gb=float(line.data_refill_gb or 0),
        allowance_gb=allowance,
        remaining_gb=None if unlimited else round(max(allowance - used, 0.0), 2),
        unlimited=unlimited,
        throttled=not unlimited and used >= allowance,
        throttle_kbps=line.plan.throttle_kbps,
        cycle_end=cycle_end,
        days_left_in_cycle=(cycle_end - ctx.today).days + 1,
        refill_available_gb=0 if unlimited else refill_available(line),
        last_months=_last_months(session, ctx, line.id),
    )


def refill_available(line) -> int:  # noqa: ANN001 - ORM Line
    """Whole GB that may still be refilled on ``line`` this month."""
    return max(policy.REFILL_MAX_GB_PER_MONTH - math.ceil(float(line.data_refill_gb or 0)), 0)


def recommend_plans(session: Session, ctx: ToolContext, args: LineArgs) -> RecommendationResult:
    """Plans of the same network whose allowance covers the heaviest of the last 3 full months, cheapest first.

    When the current plan already fits, only cheaper plans are worth suggesting; when it does not, bigger ones
    are. Each carries the monthly saving and the discount payback that switching now would cost.
    """
    line = lookups.owned_line(session, ctx, args.line_id)
    months = _last_months(session, ctx, line.id)
    if not months:
        raise ToolError(
            "insufficient_usage_data",
            f"line {line.id} has no usage in the last {HISTORY_MONTHS} full months to recommend from",
            {"line_id": line.id, "months": HISTORY_MONTHS},
        )
    avg_gb = round(sum(m.data_gb for m in months) / len(months), 2)
    max_gb = max(m.data_gb for m in months)
    current = line.plan

    def fits(plan: Plan) -> bool:
        return plan.data_gb is None or plan.data_gb >= max_gb

    current_fits = fits(current)
    stmt = select(Plan).where(Plan.network == current.network, Plan.id != current.id).order_by(Plan.monthly_fee, Plan.id)
    recommendations = []
    for plan in session.scalars(stmt):
        if not fits(plan) or (current_fits and plan.monthly_fee >= current.monthly_fee):
            continue
        saving = current.monthly_fee - plan.monthly_fee
        cost = switch_cost(line, plan, ctx.today, policy.next_cycle_start(ctx.today))  # changes apply next cycle by default
        recommendations.append(
            PlanRecommendation(
                plan=plan_info(plan),
                monthly_saving_krw=saving,
                switch_cost_krw=cost,
                first_year_saving_krw=12 * saving - cost,
                break_even_months=math.ceil(cost / saving) if cost > 0 and saving > 0 else None,
            )
        )
    return RecommendationResult(
        line_id=line.id,
        current_plan=plan_info(current),
        months=months,
        avg_monthly_gb=avg_gb,
        max_monthly_gb=max_gb,
        current_plan_fits=current_fits,
        recommendations=recommendations,
    )


def get_contract(session: Session, ctx: ToolContext, args: LineArgs) -> ContractInfo:
    line = lookups.owned_line(session, ctx, args.line_id)
    return contract_info(line, ctx.today)
