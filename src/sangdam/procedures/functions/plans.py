"""Plans: the computation behind plan.info, plan.recommend and plan.change (procedures plan_info, plan_recommend,
plan_change in resources/procedures): which catalogue plans a request names, whether it asks about the customer's
own plan, the recommendation from the usage and contract results its step depends on (with the discount payback a
move costs), and when a change takes effect. Korean text, questions and proposals are the procedures'.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sangdam.agents.common import recommended_pick
from sangdam.domain import policy
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.blackboard import MissingResult
from sangdam.orchestrator.format import gb, speed, won
from sangdam.orchestrator.repetition import without_restated
from sangdam.procedures.extractors import register_extractor
from sangdam.procedures.functions import FunctionError, register_function
from sangdam.tools.results import ContractInfo, DataUsage

# the customer's own plan: "내 요금제", "지금 쓰는 요금제", "현재 요금제"
MINE = re.compile(r"((?:^|\s)(내|제|저의|나의|우리)(?=\s|가|꺼|거)|지금\s*(쓰|사용|이용)|현재|쓰고\s*있는|이용\s*중|사용\s*중"
                  r"|(?:^|\s)[이그저]\s*(?:회선|번호|폰|핸드폰|휴대폰)|\d{4}\s*(?:회선|번호))")  # "그 회선", "0013 번호"
# a pointer at the plan just recommended: "그걸로", "추천해 준 거", "첫 번째"
RECOMMENDED = re.compile(r"(추천|그걸로|그거로|그것으로|그 요금제|첫\s*번째|1번)")
SHOWN = 2  # plans described or recommended in one reply


def _catalogue(ctx: Any) -> list[dict[str, Any]]:
    """The operator's plans (the database, not the demo file), read once per turn through the blackboard."""
    return (ctx.blackboard.get("list_plans") or ctx.call("list_plans").model_dump(mode="json"))["plans"]


def _named(ctx: Any, text: str) -> list[dict[str, Any]]:
    return dialogue.match_by_name(text or ctx.text, _catalogue(ctx))


@register_function("plan_info_needs_identity", tools=("list_plans",))
def plan_info_needs_identity(ctx: Any, args: dict[str, Any]) -> bool:
    """plan.info reveals account data only about the customer's own plan ("제 요금제 뭐예요?"), and not when the
    request names a catalogue plan ("제가 5G 라이트 쓰면 얼마예요?")."""
    text = str(args.get("text") or "")
    return bool(MINE.search(text)) and not _named(ctx, text)


@register_function("mentions_own_plan")
def mentions_own_plan(ctx: Any, args: dict[str, Any]) -> bool:
    """Whether the request asks about the customer's own plan."""
    return bool(MINE.search(str(args.get("text") or "")))


@register_function("named_plans", tools=("list_plans",))
def named_plans(ctx: Any, args: dict[str, Any]) -> list[dict[str, Any]]:
    """The catalogue plans the request names (at most two, best match first), each with its description less
    what the detail text states already (its fee, data size and speed: ``without_restated``) and its throttle
    speed (None when it has none)."""
    out = []
    for p in _named(ctx, str(args.get("text") or ""))[:SHOWN]:
        throttle = p.get("throttle_kbps") or None
        stated = [won(p["monthly_fee_krw"]), gb(p["data_gb"]), speed(throttle) if throttle else ""]
        out.append({**p, "throttle_kbps": throttle, "description": without_restated(p.get("description") or "", stated)})
    return out


@register_function("plan_names", tools=("list_plans",))
def plan_names(ctx: Any, args: dict[str, Any]) -> str:
    """The catalogue's plan names, listed for the customer to pick from ("5G 라이트, 5G 스탠다드, …")."""
    return ", ".join(p["name"] for p in _catalogue(ctx))


def switch_cost(contract: ContractInfo, current_fee: int, new_fee: int, effective: dt.date) -> int:
    """Discount payback a move from ``current_fee`` to ``new_fee`` taking effect on ``effective`` costs, read from
    the contract result: its payback as of today when the move is to a cheaper plan while the contract still runs
    on that day; nothing otherwise (``policy.plan_change_payback``: a move up, or any other contract, costs
    nothing; the device instalment keeps being paid monthly)."""
    if contract.contract_end is not None and contract.contract_end < effective:
        return 0
    return contract.discount_payback_krw if new_fee < current_fee else 0


@register_function("recommend", tools=("recommend_plans",))
def recommend(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Plans that fit the line's use, from the results the running step depends on: the usage report
    (``data.usage``: the last full months) and the contract (``contract.info``: the discount payback a move to a
    cheaper plan costs). ``recommend_plans`` gives only what neither holds: the catalogue's plans that fit, with
    their monthly saving. Usage and contract are never fetched or reckoned again here; one of them absent is a
    ``MissingResult`` (the step fails and says what it could not do).

    Returns the step's result (line, average and peak monthly GB, switch cost per plan) with what the reply
    shows: the current plan's name, whether cheaper plans fit (``cheaper``), and the plans recommended
    (``picks``, at most two; none when the current plan fits best). The picks are remembered as the
    recommendation "그걸로" points at (``state.last_recommended``)."""
    from sangdam.orchestrator.planner import blocked_message, needs

    step = ctx.step
    if step is None:
        raise FunctionError("recommend reads the results of the running step's dependencies (ctx.step is not set)")
    inputs = ctx.blackboard.inputs(step, needs(step.intent), blocked=blocked_message(step.intent))
    usage = ctx.blackboard.result(inputs, "data.usage", DataUsage)
    contract = ctx.blackboard.result(inputs, "contract.info", ContractInfo)
    if contract.line_id != usage.line_id:  # read for different lines: neither fits the other
        raise MissingResult(step.intent, ["contract.info"], blocked_message(step.intent))
    rec = ctx.call("recommend_plans", line_id=usage.line_id)  # the line the usage was read for
    months = [m.data_gb for m in usage.last_months]
    avg, peak = round(sum(months) / len(months), 2), max(months)  # the tool refuses a line without months
    effective = policy.next_cycle_start(ctx.today)  # a change applies next cycle unless asked otherwise
    costs = {r.plan.id: switch_cost(contract, rec.current_plan.monthly_fee_krw, r.plan.monthly_fee_krw, effective)
             for r in rec.recommendations}
    cheaper = [r for r in rec.recommendations if r.monthly_saving_krw > 0]
    if rec.current_plan_fits and not cheaper:
        picks: list[Any] = []
        ctx.state.last_recommended = []
    else:
        picks = cheaper[:SHOWN] if cheaper else rec.recommendations[:SHOWN]
        if picks:
            ctx.state.last_recommended = [r.plan.id for r in picks]
    return {
        "line_id": usage.line_id, "avg_monthly_gb": avg, "max_monthly_gb": peak, "switch_cost_krw": costs,
        "current_plan_name": rec.current_plan.name, "cheaper": bool(cheaper),
        "picks": [{"id": r.plan.id, "name": r.plan.name, "monthly_fee_krw": r.plan.monthly_fee_krw,
                   "data_gb": r.plan.data_gb, "monthly_saving_krw": r.monthly_saving_krw,
                   "extra_krw": max(-r.monthly_saving_krw, 0), "switch_cost_krw": costs[r.plan.id]} for r in picks],
    }


@register_function("prorated")
def prorated(ctx: Any, args: dict[str, Any]) -> dict[str, int]:
    """An immediate change's prorated difference (``change_plan``'s ``prorated_charge_krw``, negative: a credit)
    as the amount charged and the amount credited, each ≥ 0."""
    try:
        amount = int(args["amount_krw"])
    except (KeyError, TypeError, ValueError):
        raise FunctionError("prorated needs amount_krw, a number of won") from None
    return {"charge_krw": max(amount, 0), "credit_krw": max(-amount, 0)}


# -- extractors (ask steps of plan_change) ------------------------------------------------------------------------
@register_extractor("plan_target", tools=("list_plans",), from_request=True)
def plan_target(ctx: Any, text: str) -> str | None:
    """The plan a change is to: one the message names (its id), else one of the plans just recommended when the
    message points at it ("그걸로 해 주세요", "추천해 준 걸로": the first; "두 번째 걸로"; "제일 싼 걸로": the cheapest);
    None when it names none."""
    named = dialogue.match_by_name(text, _catalogue(ctx))
    if named:
        return named[0]["id"]
    shown = list(ctx.state.last_recommended or [])
    if (pick := recommended_pick(text, shown, _catalogue(ctx))) is not None:  # "제일 싼 걸로", "두 번째 걸로"
        return pick
    if shown and RECOMMENDED.search(text):
        return shown[0]
    return None


@register_extractor("plan_effective", from_request=True)
def plan_effective(ctx: Any, text: str) -> str:
    """When a plan change takes effect: ``immediate`` when the message asks for it now ("바로", "오늘부터"),
    else ``next_cycle`` (the first day of next month)."""
    return "immediate" if dialogue.wants_immediate(text) else "next_cycle"
