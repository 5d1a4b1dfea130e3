"""The built-in tools' contract: name, descriptions, risk tier, identity requirement, input and result models, and
the Korean sentence that states a write's effect before the customer agrees.

Where they run is not here: the operator's systems serve them through the configured backend (``sql``: the demo
tables, ``sangdam.backends.sql``; ``rest``: the operator's REST API). ``verify_identity`` runs in Sangdam
(``tools/identity.py``). The public contract of the 23 names is ``registry.CANONICAL_NAMES``.
"""

from __future__ import annotations

from typing import Any

from sangdam.tools import identity, messages
from sangdam.tools.base import NoArgs, RiskTier, Tool, ToolContext
from sangdam.tools.inputs import (
    BillArgs,
    ChangePlanArgs,
    CreateTicketArgs,
    EnableRoamingArgs,
    GetBillsArgs,
    LineArgs,
    ListPlansArgs,
    OutagesArgs,
    RefillDataArgs,
    RoamingPassesArgs,
    SuspendLineArgs,
    TransferArgs,
)
from sangdam.tools.results import (
    BillExplanation,
    BillList,
    CancellationResult,
    ContractInfo,
    CustomerInfo,
    DataUsage,
    Diagnostics,
    LineDetail,
    LineList,
    LineStatusResult,
    OutageList,
    PaymentResult,
    PlanChangeResult,
    PlanList,
    RecommendationResult,
    RefillResult,
    RoamingPassList,
    RoamingResult,
    TicketResult,
)


# --- Korean statements of an effect, and Sangdam's additions to a result -----------------------------------------
def with_stored_preferences(ctx: ToolContext, info: CustomerInfo) -> CustomerInfo:
    """What the customer told Sangdam ("문자로 안내해 주세요") over what the operator's profile holds."""
    from sangdam.personalization.preferences import stored_preferences

    stored = stored_preferences(ctx.engine, info.id) if ctx.customer_id else {}
    return info.model_copy(update={"preferences": {**info.preferences, **stored}}) if stored else info


def summarise_pay_bill(effect: dict[str, Any]) -> str:
    parts = [messages.text("proposals", "pay_bill", effect)]
    if effect["lines_to_resume"]:
        parts.append(messages.text("proposals", "pay_bill_resumes", {"count": len(effect["lines_to_resume"])}))
    return " ".join(parts)


def summarise_change_plan(effect: dict[str, Any]) -> str:
    key = "change_plan_immediate" if effect["effective"] == "immediate" else "change_plan"
    parts = [messages.text("proposals", key, effect)]
    if effect["effective"] == "immediate" and effect["prorated_charge_krw"] < 0:
        parts.append(messages.text("proposals", "change_plan_credit", {"credit_krw": -effect["prorated_charge_krw"]}))
    elif effect["effective"] == "immediate" and effect["prorated_charge_krw"] > 0:
        parts.append(messages.text("proposals", "change_plan_prorated", effect))
    if effect["switch_cost_krw"] > 0:
        parts.append(messages.text("proposals", "change_plan_switch_cost", effect))
    return " ".join(p for p in parts if p)


def summarise_enable_roaming(effect: dict[str, Any]) -> str:
    return messages.proposal("enable_roaming_pass" if effect["pass_id"] else "enable_roaming")(effect)


TOOLS: list[Tool] = [
    *identity.TOOLS,
    Tool("get_customer", "Profile of the verified customer (name, contact, address, preferences, lines).",
         RiskTier.read, True, NoArgs, CustomerInfo, enrich=with_stored_preferences),
    Tool("list_lines", "The verified customer's lines with number, status and plan.",
         RiskTier.read, True, NoArgs, LineList),
    Tool("get_line", "Details of one line: plan, pending plan change, status, roaming, data used, contract.",
         RiskTier.read, True, LineArgs, LineDetail),
    Tool("get_bills", "The customer's bills (most recent months first), optionally one line's or one status.",
         RiskTier.read, True, GetBillsArgs, BillList),
    Tool("explain_bill", "Items of one bill and what changed versus the same line's previous month.",
         RiskTier.read, True, BillArgs, BillExplanation),
    Tool("list_plans", "The operator's plans (cheapest first), optionally of one network.",
         RiskTier.read, False, ListPlansArgs, PlanList),
    Tool("pay_bill", "Pay one bill in full; paying the last overdue bill lifts a non-payment suspension.",
         RiskTier.write, True, BillArgs, PaymentResult, summarise=summarise_pay_bill),
    Tool("create_ticket", "Open a ticket for follow-up by the operator's staff (e.g. an unresolved technical issue).",
         RiskTier.write, True, CreateTicketArgs, TicketResult, summarise=messages.proposal("create_ticket")),
    Tool("transfer_to_human", "Hand the conversation to a human agent with a summary (opens a handoff ticket).",
         RiskTier.write, False, TransferArgs, TicketResult, summarise=messages.proposal("transfer_to_human")),
    Tool("request_cancellation", "Request cancellation of a line: opens a cancellation ticket stating the "
         "early-termination amount and hands off to a human (the bot never closes a line).",
         RiskTier.irreversible, True, LineArgs, CancellationResult,
         summarise=messages.proposal("request_cancellation")),
    Tool("change_plan", "Change a line's plan: next_cycle (default, from the 1st of next month) or immediate "
         "(prorated difference on this month's bill). Active lines only.",
         RiskTier.write, True, ChangePlanArgs, PlanChangeResult, summarise=summarise_change_plan),
    Tool("refill_data", "Add whole GB of data to a capped plan this month (1-5 GB per request, 10 GB per month), "
         "charged to this month's bill at the plan's refill price.",
         RiskTier.write, True, RefillDataArgs, RefillResult, summarise=messages.proposal("refill_data")),
    Tool("enable_roaming", "Turn roaming on for an active line, optionally buying a roaming pass (price added to "
         "this month's bill).",
         RiskTier.write, True, EnableRoamingArgs, RoamingResult, summarise=summarise_enable_roaming),
    Tool("disable_roaming", "Turn roaming off (an active pass ends without refund).",
         RiskTier.write, True, LineArgs, RoamingResult, summarise=messages.proposal("disable_roaming")),
    Tool("suspend_line", "Suspend an active line: lost (phone lost or stolen), temporary, or military service.",
         RiskTier.write, True, SuspendLineArgs, LineStatusResult, summarise=messages.proposal("suspend_line")),
    Tool("resume_line", "Resume a suspended or lost line; refused while the customer has an overdue bill.",
         RiskTier.write, True, LineArgs, LineStatusResult, summarise=messages.proposal("resume_line")),
    Tool("list_roaming_passes", "Roaming passes, cheapest first; with a country (ISO code or Korean/English name) "
         "only the passes that cover it.",
         RiskTier.read, False, RoamingPassesArgs, RoamingPassList),
    Tool("check_line_diagnostics", "Network-side facts of a line for troubleshooting: status, data cap and "
         "throttle, roaming, MMS provisioning, outages at the customer's address, overdue bills.",
         RiskTier.read, True, LineArgs, Diagnostics),
    Tool("get_outages", "Ongoing network outages, optionally only those in an area.",
         RiskTier.read, False, OutagesArgs, OutageList),
    Tool("get_data_usage", "This month's data used, allowance incl. refills, remaining, throttling, days left in "
         "the cycle, refill still available, and the last 3 months' totals.",
         RiskTier.read, True, LineArgs, DataUsage),
    Tool("recommend_plans", "Plans that fit the line's last 3 full months of data use, cheapest first, with the "
         "monthly saving and the cost of switching now.",
         RiskTier.read, True, LineArgs, RecommendationResult),
    Tool("get_contract", "Contract of a line (kind, dates, discount, device instalment) with the early-termination "
         "amount as of today.",
         RiskTier.read, True, LineArgs, ContractInfo),
]
