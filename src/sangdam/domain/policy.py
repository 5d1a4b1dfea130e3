"""The demo operator's business policy, in one place.

Tools enforce these rules in code; the knowledge base documents describe the same numbers. An operator adapts
Sangdam to its own policy by changing this module (and its documents), never a prompt.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

# --- data refill -------------------------------------------------------------------------------------------
REFILL_MIN_GB = 1
REFILL_MAX_GB_PER_REQUEST = 5
REFILL_MAX_GB_PER_MONTH = 10

# --- billing -----------------------------------------------------------------------------------------------
BILL_DUE_DAY = 25  # a month's bill is due on the 25th of the following month

# --- early termination (selective discount, 선택약정) ---------------------------------------------------------
# (months elapsed up to and including, share of the discount received so far that is paid back)
ETF_SCHEDULE: tuple[tuple[int, float], ...] = ((6, 1.0), (12, 0.5))
ETF_SHARE_AFTER = 0.3
SELECTIVE_DISCOUNT_RATE = 0.25  # 25% of the monthly fee

# --- lines -------------------------------------------------------------------------------------------------
SUSPEND_REASONS = ("lost", "temporary", "military")
WRITABLE_LINE_STATUSES = ("active",)

# --- identity ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Backoff:
    """Failed identity checks allowed before waiting: ``free`` failures within ``window``, then a wait after the
    latest failure of ``first_wait``, doubling with each further failure, at most ``max_wait``."""

    free: int
    first_wait: dt.timedelta
    max_wait: dt.timedelta
    window: dt.timedelta

    def locked_until(self, failures: list[dt.datetime]) -> dt.datetime | None:
        """When the next attempt may be made, given the failures (oldest first) counted in the window."""
        extra = len(failures) - self.free
        if extra < 0:
            return None
        return max(failures) + min(self.first_wait * 2**extra, self.max_wait)


# A conversation never verifies again after this many failures (tool calls stop; "상담사 연결" is offered).
IDENTITY_CONVERSATION_MAX_FAILURES = 3
# One client address or session, across conversations and numbers: 3 free per hour, then 30 s, 60 s … ≤ 15 min.
IDENTITY_SOURCE_BACKOFF = Backoff(free=3, first_wait=dt.timedelta(seconds=30), max_wait=dt.timedelta(minutes=15),
                                  window=dt.timedelta(hours=1))
# One number, in-chat only (agents and authenticated channels are never blocked): 5 free a day, then 5 min,
# 10 min … ≤ 1 h. Short on purpose: a stranger who knows the number must not lock its owner out for the day.
IDENTITY_NUMBER_BACKOFF = Backoff(free=5, first_wait=dt.timedelta(minutes=5), max_wait=dt.timedelta(hours=1),
                                  window=dt.timedelta(days=1))


def months_elapsed(start: dt.date, today: dt.date) -> int:
    """Whole months from ``start`` to ``today`` (a month counts once its day-of-month is reached)."""
    months = (today.year - start.year) * 12 + (today.month - start.month)
    if today.day < start.day:
        months -= 1
    return max(months, 0)


def etf_share(elapsed_months: int) -> float:
    """Share of the discount received so far that is paid back on early termination."""
    for upto, share in ETF_SCHEDULE:
        if elapsed_months <= upto:
            return share
    return ETF_SHARE_AFTER


def early_termination_amount(
    *,
    contract_kind: str,
    contract_start: dt.date | None,
    contract_end: dt.date | None,
    monthly_discount: int,
    device_installment_left: int,
    today: dt.date,
) -> tuple[int, int]:
    """(discount payback, device installment left) owed if the contract ended ``today``, in KRW.

    The payback applies to a selective-discount contract that has not yet ended: discount received so far
    × 100% when at most 6 months have elapsed, × 50% when at most 12, × 30% after; 0 from ``contract_end`` on.
    The device instalment still owed is always due in full.
    """
    payback = 0
    if contract_kind == "selective_discount" and contract_start and contract_end and today < contract_end:
        elapsed = months_elapsed(contract_start, today)
        received = monthly_discount * elapsed
        payback = int(round(received * etf_share(elapsed)))
    return payback, int(device_installment_left or 0)


def days_in_month(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def prorated_difference(old_fee: int, new_fee: int, today: dt.date) -> int:
    """Fee difference for the rest of the month (today included) on an immediate plan change, in KRW.

    Positive: the customer pays more this month; negative: a credit.
    """
    total = days_in_month(today)
    remaining = total - today.day + 1
    return int(round((new_fee - old_fee) * remaining / total))


def next_cycle_start(today: dt.date) -> dt.date:
    """First day of next month: when a ``next_cycle`` plan change takes effect."""
    return (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def period_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def due_date_for(period: str) -> dt.date:
    """Due date of the bill of ``period`` (YYYY-MM): the BILL_DUE_DAY of the following month."""
    year, month = (int(p) for p in period.split("-"))
    first = dt.date(year, month, 1)
    return next_cycle_start(first).replace(day=BILL_DUE_DAY)


def plan_change_payback(
    *,
    contract_kind: str,
    contract_start: dt.date | None,
    contract_end: dt.date | None,
    monthly_discount: int,
    old_fee: int,
    new_fee: int,
    today: dt.date,
) -> int:
    """Discount payback owed when a contract line moves to a *cheaper* plan, in KRW.

    Moving a selective-discount line down before ``contract_end`` re-signs the discount on a smaller fee, so the
    discount received so far is paid back on the early-termination schedule; moving up (or any other contract
    kind) costs nothing. The device instalment is not due: it keeps being paid monthly.
    """
    if new_fee >= old_fee:
        return 0
    payback, _ = early_termination_amount(
        contract_kind=contract_kind,
        contract_start=contract_start,
        contract_end=contract_end,
        monthly_discount=monthly_discount,
        device_installment_left=0,
        today=today,
    )
    return payback
