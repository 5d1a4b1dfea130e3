"""Hand-made showcase customers (``resources/demo/showcase.yaml``), placed relative to ``today``.

Identity facts (id, name, phone, birth date, address) are fixed so demos and docs can name them; the situation
(overdue bill, contract ending, data cap reached...) is built around ``today`` so it holds on any demo date.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sangdam.domain.fixtures import CustomerIn, OutageIn, PlanIn
from sangdam.domain.seed_history import (
    DemoLine,
    add_months,
    bills,
    default_statuses,
    line_record,
    past_periods,
    usage,
)

SHOWCASE_PREFIX = "C-DEMO-"


def _contract(spec: dict[str, Any], today: dt.date, devices: dict[str, int]) -> dict[str, Any]:
    """DemoLine contract fields from a YAML ``contract`` spec (``start_months_ago`` or ``ends_in_days``)."""
    kind = spec.get("kind", "none")
    if kind == "none":
        return {}
    if "ends_in_days" in spec:
        end = today + dt.timedelta(days=spec["ends_in_days"])
        start = add_months(end + dt.timedelta(days=1), -24)
    else:
        start = add_months(today, -spec["start_months_ago"]) - dt.timedelta(days=3)
        end = add_months(start, 24) - dt.timedelta(days=1)
    out: dict[str, Any] = {"contract_kind": kind, "contract_start": start, "contract_end": end}
    if spec.get("device"):
        out |= {"device_model": spec["device"], "device_price": devices[spec["device"]], "device_start": start}
    return out


def _demo_line(spec: dict[str, Any], plans: dict[str, PlanIn], today: dt.date, devices: dict[str, int]) -> DemoLine:
    plan = plans[spec["plan_id"]]
    use = spec["usage"]
    this_month = plan.data_gb if use["this_month_gb"] == "cap" else use["this_month_gb"]
    line = DemoLine(
        id=spec["id"],
        number=spec["number"],
        plan=plan,
        monthly_gb=list(use["monthly_gb"]),
        this_month_gb=float(this_month),
        status=spec.get("status", "active"),
        suspend_reason=spec.get("suspend_reason"),
        mms_enabled=spec.get("mms_enabled", True),
        refill_gb=list(use.get("refill_gb", [0, 0, 0])),
        **_contract(spec.get("contract", {}), today, devices),
    )
    if line.suspend_reason == "nonpayment":
        # Suspended on the 1st of this month: no traffic since then.
        line.usage_until = today.replace(day=1) - dt.timedelta(days=1)
    return line


def _statuses(situation: str, today: dt.date) -> list[str]:
    periods = past_periods(today)
    statuses = default_statuses(today, periods)
    if situation == "overdue":
        # The bill due on the 25th of last month is unpaid; the latest one too once its due date has passed.
        statuses[1] = "overdue"
        if statuses[2] == "paid":
            statuses[2] = "overdue"
    return statuses


def showcase_customers(
    doc: dict[str, Any],
    plans: dict[str, PlanIn],
    today: dt.date,
    rng: random.Random,
    labels: dict[str, str],
    devices: dict[str, int],
) -> list[CustomerIn]:
    """The showcase customers of ``doc`` (showcase.yaml) with lines, bills and usage as of ``today``."""
    customers = []
    for spec in doc["customers"]:
        lines, line_rows, bill_rows, usage_rows = [], [], [], []
        for line_spec in spec["lines"]:
            line = _demo_line(line_spec, plans, today, devices)
            days, used = usage(rng, line, today)
            lines.append(line)
            line_rows.append(line_record(line, today, used))
            bill_rows += bills(line, today, labels, _statuses(spec["situation"], today))
            usage_rows += days
        earliest = min([line.contract_start for line in lines if line.contract_start] + [today])
        customers.append(
            CustomerIn(
                id=spec["id"],
                name=spec["name"],
                birth_date=spec["birth_date"],
                phone=spec["phone"],
                email=spec["email"],
                address=spec["address"],
                segment=spec["segment"],
                preferences=dict(spec.get("preferences", {})),
                created_at=dt.datetime.combine(add_months(earliest, -30), dt.time(10, 30)),
                lines=line_rows,
                bills=bill_rows,
                usage_daily=usage_rows,
            )
        )
    return customers


def _at(today: dt.date, spec: dict[str, int]) -> dt.datetime:
    return dt.datetime.combine(today + dt.timedelta(days=spec["days"]), dt.time(spec["hour"]))


def active_outage(doc: dict[str, Any], today: dt.date, description: str) -> OutageIn:
    """The outage in progress today (in the area of the ``area_outage`` showcase customer)."""
    spec = doc["active_outage"]
    return OutageIn(
        id=spec["id"],
        area=spec["area"],
        service=spec["service"],
        started_at=_at(today, spec["started_at"]),
        expected_end=_at(today, spec["expected_end"]),
        resolved=False,
        description=description,
    )
