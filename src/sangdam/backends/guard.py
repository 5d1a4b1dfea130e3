"""Sangdam's own check of every backend's preview against the operator's rules (``domain/policy.py``).

Whatever adapter serves a write, the customer is asked to agree to an effect that Sangdam has checked itself: the
amounts follow from the rules (a refill costs GB × the price per GB, an immediate plan change the prorated fee
difference), the dates are the ones the rules give, the values are ones the rules allow. A backend whose preview
disagrees (a mapping error, a different release of the BSS, a bug) gets no confirmation question: the write is
refused with ``policy_mismatch`` and logged for the operator, and the customer is offered a human agent.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sangdam.domain import policy
from sangdam.tools.base import ToolError

_log = logging.getLogger(__name__)


def problems(tool: str, effect: dict[str, Any], today: dt.date) -> list[str]:
    """What in ``effect`` (a validated Effect model dump) the rules contradict; empty when it is consistent."""
    out: list[str] = []

    def expect(what: str, got: Any, want: Any) -> None:
        if got != want:
            out.append(f"{what}: got {got!r}, the rules give {want!r}")

    if tool == "refill_data":
        if not policy.REFILL_MIN_GB <= effect["gb"] <= policy.REFILL_MAX_GB_PER_REQUEST:
            out.append(f"gb: {effect['gb']} is outside {policy.REFILL_MIN_GB}-{policy.REFILL_MAX_GB_PER_REQUEST}")
        expect("charge_krw", effect["charge_krw"], effect["gb"] * effect["price_per_gb_krw"])
        expect("bill_period", effect["bill_period"], policy.period_of(today))
    elif tool == "change_plan":
        immediate = effect["effective"] == "immediate"
        expect("effective_date", effect["effective_date"], today if immediate else policy.next_cycle_start(today))
        prorated = policy.prorated_difference(effect["old_monthly_fee_krw"], effect["new_monthly_fee_krw"], today)
        expect("prorated_charge_krw", effect["prorated_charge_krw"], prorated if immediate else 0)
        if effect["switch_cost_krw"] < 0:
            out.append(f"switch_cost_krw: {effect['switch_cost_krw']} is negative")
    elif tool == "enable_roaming":
        if effect["charge_krw"] < 0:
            out.append(f"charge_krw: {effect['charge_krw']} is negative")
        expect("bill_period", effect["bill_period"], policy.period_of(today))
    elif tool == "suspend_line":
        if effect["reason"] not in policy.SUSPEND_REASONS:
            out.append(f"reason: {effect['reason']!r} is not one of {', '.join(policy.SUSPEND_REASONS)}")
        expect("effective_date", effect["effective_date"], today)
    elif tool == "resume_line":
        expect("effective_date", effect["effective_date"], today)
    elif tool == "pay_bill":
        if effect["amount_krw"] <= 0:
            out.append(f"amount_krw: {effect['amount_krw']} is not a positive amount")
    elif tool == "request_cancellation":
        expect("early_termination_total_krw", effect["early_termination_total_krw"],
               effect["discount_payback_krw"] + effect["device_installment_left_krw"])
    return out


def check(tool: str, effect: dict[str, Any], today: dt.date) -> None:
    """Raise ``policy_mismatch`` when the rules contradict ``effect`` (see :func:`problems`)."""
    found = problems(tool, effect, today)
    if found:
        _log.error("%s: the backend's preview contradicts policy.py: %s", tool, "; ".join(found))
        raise ToolError("policy_mismatch", f"{tool}: the backend's preview contradicts the rules: " + "; ".join(found),
                        {"tool": tool, "problems": found})
