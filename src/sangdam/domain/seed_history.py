"""A demo line's recent history: itemised bills for the last three months and daily usage up to today.

Shared by the generated population and the showcase customers (``sangdam.domain.seed``). Everything is a pure
function of the :class:`DemoLine`, ``today`` and a seeded ``random.Random``, so the seed stays deterministic.

Conventions (documented in docs/demo.md):
- bills cover the three months before ``today``'s month; the older two are paid, the latest is ``issued`` until
  its due date (the 25th of this month, ``policy.due_date_for``) and paid after it; ``amount`` = sum of items;
- ``usage_daily.data_mb`` counts all traffic, throttled included; ``lines.data_used_gb`` is this month's sum of
  ``data_mb`` / 1024 (today included), rounded to 0.01 GB;
- a handset instalment is ``price // 24`` a month for 24 months from the contract's first month (the last one
  takes the remainder); ``device_installment_left`` is what the bills so far have not yet charged.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from sangdam.domain import policy
from sangdam.domain.fixtures import BillIn, BillItemIn, LineIn, PlanIn, UsageIn

INSTALLMENT_MONTHS = 24
MB_PER_GB = 1024


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` shifted by whole months, clamped to the end of shorter months."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    first = dt.date(year, month + 1, 1)
    return first.replace(day=min(day.day, policy.days_in_month(first)))


def past_periods(today: dt.date, count: int = 3) -> list[str]:
    """The ``count`` billing periods before today's month, oldest first."""
    first = today.replace(day=1)
    return [policy.period_of(add_months(first, -k)) for k in range(count, 0, -1)]


def period_index(period: str) -> int:
    year, month = (int(p) for p in period.split("-"))
    return year * 12 + month - 1


@dataclass
class DemoLine:
    """Everything the seed needs to know about one line to write it, its bills and its usage."""

    id: str
    number: str
    plan: PlanIn
    monthly_gb: list[float]  # traffic in each of the three past periods, oldest first
    this_month_gb: float  # traffic from the 1st of this month to today
    status: str = "active"
    suspend_reason: str | None = None
    mms_enabled: bool = True
    roaming_enabled: bool = False
    roaming_pass_id: str | None = None
    contract_kind: str = "none"
    contract_start: dt.date | None = None
    contract_end: dt.date | None = None
    device_model: str | None = None
    device_price: int = 0
    device_start: dt.date | None = None
    addons: list[tuple[str, int]] = field(default_factory=list)
    refill_gb: list[int] = field(default_factory=lambda: [0, 0, 0])  # bought in each past period
    roaming: list[tuple[str, int] | None] = field(default_factory=lambda: [None, None, None])
    voice_per_day: int = 10
    sms_per_day: int = 2
    usage_until: dt.date | None = None  # no traffic after this day (e.g. suspended)

    @property
    def monthly_discount(self) -> int:
        if self.contract_kind != "selective_discount":
            return 0
        return int(round(self.plan.monthly_fee * policy.SELECTIVE_DISCOUNT_RATE))


def installments(line: DemoLine) -> dict[str, int]:
    """Instalment charged in each period of the handset's 24 months, by period."""
    if not line.device_price or line.device_start is None:
        return {}
    monthly = line.device_price // INSTALLMENT_MONTHS
    start = period_index(policy.period_of(line.device_start))
    out = {}
    for k in range(INSTALLMENT_MONTHS):
        index = start + k
        amount = monthly if k < INSTALLMENT_MONTHS - 1 else line.device_price - monthly * (INSTALLMENT_MONTHS - 1)
        out[f"{index // 12:04d}-{index % 12 + 1:02d}"] = amount
    return out


def installment_left(line: DemoLine, today: dt.date) -> int:
    """Handset price not yet charged by the bills issued before ``today``'s month."""
    current = period_index(policy.period_of(today))
    charged = sum(a for p, a in installments(line).items() if period_index(p) < current)
    return line.device_price - charged if line.device_price else 0


def _discount_applies(line: DemoLine, period: str) -> bool:
    if line.contract_kind != "selective_discount" or not line.contract_start or not line.contract_end:
        return False
    p = period_index(period)
    return period_index(policy.period_of(line.contract_start)) <= p <= period_index(policy.period_of(line.contract_end))


def bill_items(line: DemoLine, period: str, slot: int, labels: dict[str, str]) -> list[BillItemIn]:
    """Itemised charges of ``line`` for ``period`` (``slot`` = its position among the past periods)."""
    items = [BillItemIn(name=labels["monthly_fee"], amount=line.plan.monthly_fee)]
    if _discount_applies(line, period):
        items.append(BillItemIn(name=labels["selective_discount"], amount=-line.monthly_discount))
    instalment = installments(line).get(period)
    if instalment:
        items.append(BillItemIn(name=labels["installment"], amount=instalment))
    for name, price in line.addons:
        items.append(BillItemIn(name=labels["addon"].format(name=name), amount=price))
    if line.refill_gb[slot]:
        gb = line.refill_gb[slot]
        items.append(BillItemIn(name=labels["refill"].format(gb=gb), amount=gb * line.plan.refill_price_per_gb))
    if line.roaming[slot]:
        name, price = line.roaming[slot]
        items.append(BillItemIn(name=labels["roaming"].format(name=name), amount=price))
    return items


def default_statuses(today: dt.date, periods: list[str]) -> list[str]:
    """Older bills paid; the latest ``issued`` until its due date, then paid (automatic transfer)."""
    latest = "issued" if today <= policy.due_date_for(periods[-1]) else "paid"
    return ["paid"] * (len(periods) - 1) + [latest]


def bills(
    line: DemoLine, today: dt.date, labels: dict[str, str], statuses: list[str] | None = None
) -> list[BillIn]:
    """The line's bills for the three past periods."""
    periods = past_periods(today)
    statuses = statuses or default_statuses(today, periods)
    return [
        BillIn(
            id=f"B-{line.id.removeprefix('L-')}-{period.replace('-', '')}",
            line_id=line.id,
            period=period,
            status=status,
            items=bill_items(line, period, slot, labels),
        )
        for slot, (period, status) in enumerate(zip(periods, statuses, strict=True))
    ]


def _spread(rng: random.Random, total: int, days: list[dt.date]) -> list[int]:
    """Split ``total`` MB over ``days`` with day-to-day variation (weekends heavier); sums exactly to total."""
    weights = [rng.uniform(0.55, 1.45) * (1.3 if d.weekday() >= 5 else 1.0) for d in days]
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    out = [int(r) for r in raw]
    # Largest remainders get the leftover megabytes, ties broken by date order (deterministic).
    order = sorted(range(len(days)), key=lambda i: (out[i] - raw[i], i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def usage(rng: random.Random, line: DemoLine, today: dt.date) -> tuple[list[UsageIn], float]:
    """Daily usage from the first past period to today, and this month's ``data_used_gb``."""
    first = dt.date.fromisoformat(past_periods(today)[0] + "-01")
    months: list[tuple[list[dt.date], float]] = []
    start = first
    for gb in line.monthly_gb:
        end = add_months(start, 1)
        months.append(([start + dt.timedelta(days=k) for k in range((end - start).days)], gb))
        start = end
    months.append(([start + dt.timedelta(days=k) for k in range(today.day)], line.this_month_gb))
    rows: list[UsageIn] = []
    this_month_mb = 0
    for index, (days, gb) in enumerate(months):
        if line.usage_until is not None:
            days = [d for d in days if d <= line.usage_until]
        if not days:
            continue
        spread = _spread(rng, int(round(gb * MB_PER_GB)), days)
        for day, mb in zip(days, spread, strict=True):
            voice = max(0, int(rng.gauss(line.voice_per_day, line.voice_per_day / 2)))
            sms = max(0, int(rng.gauss(line.sms_per_day, line.sms_per_day / 2 + 0.5)))
            rows.append(UsageIn(line_id=line.id, date=day, data_mb=mb, voice_min=voice, sms=sms))
        if index == len(months) - 1:
            this_month_mb = sum(spread)
    return rows, round(this_month_mb / MB_PER_GB, 2)


def line_record(line: DemoLine, today: dt.date, data_used_gb: float) -> LineIn:
    """The ``lines`` row of ``line`` as of ``today``."""
    return LineIn(
        id=line.id,
        number=line.number,
        plan_id=line.plan.id,
        status=line.status,
        roaming_enabled=line.roaming_enabled,
        data_used_gb=data_used_gb,
        data_refill_gb=0.0,
        contract_kind=line.contract_kind,
        contract_start=line.contract_start,
        contract_end=line.contract_end,
        monthly_discount=line.monthly_discount,
        device_model=line.device_model,
        device_installment_left=installment_left(line, today),
        suspend_reason=line.suspend_reason,
        mms_enabled=line.mms_enabled,
        roaming_pass_id=line.roaming_pass_id,
    )
