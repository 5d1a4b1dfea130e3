"""The fixture contract: pydantic models of every record a fixture file (or the demo seed) may hold.

Field names are those of the domain model (``sangdam.domain.models``); defaults are filled in here, so a
validated :class:`FixtureSet` is complete. Loading into the database lives in ``sangdam.domain.fixtures``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from sangdam.domain import policy

_PHONE = r"^0\d{1,2}-\d{3,4}-\d{4}$"
_PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"
DEFAULT_CREATED_AT = dt.datetime(2020, 1, 1)


class _In(BaseModel):
    # Unknown keys are errors: a typo such as ``monthly_fees`` must not be silently ignored.
    model_config = ConfigDict(extra="forbid")


def _as_datetime(value: Any) -> Any:
    """YAML turns ``2026-11-15`` into a date; a datetime field takes it as midnight."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    return value


DateTime = Annotated[dt.datetime, BeforeValidator(_as_datetime)]


class PlanIn(_In):
    """A tariff plan. ``data_gb`` must be given; ``null`` means unlimited."""

    id: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=80)
    network: Literal["5G", "LTE"]
    monthly_fee: int = Field(ge=0, description="KRW per month")
    data_gb: float | None = Field(ge=0, description="monthly allowance in GB; null = unlimited")
    throttle_kbps: int | None = Field(default=None, ge=0, description="speed after the allowance is used")
    refill_price_per_gb: int = Field(default=0, ge=0, description="KRW per extra GB")
    description: str = ""


class RoamingPassIn(_In):
    """A roaming data pass sold for a number of days in a list of countries."""

    id: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=80)
    days: int = Field(ge=1)
    data_gb: float = Field(ge=0)
    price: int = Field(ge=0, description="KRW")
    countries: list[str] = Field(default_factory=list, description="ISO-3166 alpha-2 codes")

    @field_validator("countries")
    @classmethod
    def _iso_codes(cls, countries: list[str]) -> list[str]:
        bad = [c for c in countries if len(c) != 2 or not c.isascii() or not c.isalpha() or not c.isupper()]
        if bad:
            raise ValueError(f"countries must be ISO-3166 alpha-2 codes in capitals (e.g. JP), got {bad}")
        return countries


class LineIn(_In):
    """A subscriber line. ``number`` defaults to the customer's phone for the customer's first line."""

    id: str = Field(min_length=1, max_length=40)
    number: str | None = Field(default=None, pattern=_PHONE)
    plan_id: str
    status: Literal["active", "suspended", "lost", "closed"] = "active"
    roaming_enabled: bool = False
    data_used_gb: float = Field(default=0.0, ge=0, description="this month")
    data_refill_gb: float = Field(default=0.0, ge=0, description="extra GB bought this month")
    contract_kind: Literal["none", "selective_discount", "device_installment"] = "none"
    contract_start: dt.date | None = None
    contract_end: dt.date | None = None
    monthly_discount: int = Field(default=0, ge=0, description="KRW per month (selective discount)")
    device_model: str | None = None
    device_installment_left: int = Field(default=0, ge=0, description="KRW still owed for the handset")
    suspend_reason: Literal["lost", "temporary", "military", "nonpayment"] | None = None
    mms_enabled: bool = True
    roaming_pass_id: str | None = None
    pending_plan_id: str | None = None

    @model_validator(mode="after")
    def _contract_dates(self) -> LineIn:
        if self.contract_kind == "selective_discount" and (self.contract_start is None or self.contract_end is None):
            raise ValueError("a selective_discount contract needs contract_start and contract_end")
        if self.contract_start and self.contract_end and self.contract_end < self.contract_start:
            raise ValueError("contract_end is before contract_start")
        return self


class BillItemIn(_In):
    """One line of a bill; discounts are negative."""

    name: str = Field(min_length=1)
    amount: int


class BillIn(_In):
    """A monthly bill of one line.

    Defaults: ``id`` = ``B-<line id>-<YYYYMM>``, ``line_id`` = the customer's only line, ``due_date`` = the
    policy's due date of the period, ``amount`` = the sum of ``items`` (when both are given they must agree).
    """

    id: str | None = Field(default=None, min_length=1, max_length=40)
    line_id: str | None = None
    period: str = Field(pattern=_PERIOD, description="YYYY-MM")
    due_date: dt.date | None = None
    amount: int | None = None
    status: Literal["issued", "paid", "overdue"] = "issued"
    items: list[BillItemIn] = Field(default_factory=list)

    @field_validator("period", mode="before")
    @classmethod
    def _period_text(cls, value: Any) -> Any:
        # YAML may read 2026-10-01 as a date when an author writes a full date.
        if isinstance(value, dt.date):
            return policy.period_of(value)
        return value

    @model_validator(mode="after")
    def _amount_matches_items(self) -> BillIn:
        total = sum(item.amount for item in self.items)
        if self.amount is None:
            if not self.items:
                raise ValueError("give amount, items or both")
            self.amount = total
        elif self.items and self.amount != total:
            raise ValueError(f"amount {self.amount} differs from the sum of items {total}")
        if self.due_date is None:
            self.due_date = policy.due_date_for(self.period)
        return self


class UsageIn(_In):
    """Usage of one line on one day. ``line_id`` defaults to the customer's only line."""

    line_id: str | None = None
    date: dt.date
    data_mb: int = Field(default=0, ge=0)
    voice_min: int = Field(default=0, ge=0)
    sms: int = Field(default=0, ge=0)


class CustomerIn(_In):
    """A customer with nested lines, bills and daily usage. ``phone`` defaults to the first line's number."""

    id: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=80)
    birth_date: dt.date
    phone: str | None = Field(default=None, pattern=_PHONE)
    email: str | None = None
    address: str | None = None
    segment: str = "standard"
    preferences: dict[str, Any] = Field(default_factory=dict)
    created_at: DateTime = DEFAULT_CREATED_AT
    lines: list[LineIn] = Field(default_factory=list)
    bills: list[BillIn] = Field(default_factory=list)
    usage_daily: list[UsageIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fill_defaults(self) -> CustomerIn:
        if self.lines:
            first = self.lines[0]
            if first.number is None:
                if self.phone is None:
                    raise ValueError("give the customer's phone or the first line's number")
                first.number = self.phone
            if self.phone is None:
                self.phone = first.number
        elif self.phone is None:
            raise ValueError("phone is required for a customer without lines")
        only_line = self.lines[0].id if len(self.lines) == 1 else None
        for record in (*self.bills, *self.usage_daily):
            if record.line_id is None and only_line:
                record.line_id = only_line
        for bill in self.bills:
            if bill.id is None and bill.line_id:
                bill.id = f"B-{bill.line_id}-{bill.period.replace('-', '')}"
        return self


class OutageIn(_In):
    """A network outage in an area: ``"<시·도> <시·군·구>"``, the first two words of an address."""

    id: str = Field(min_length=1, max_length=40)
    area: str = Field(min_length=1, max_length=80)
    service: Literal["data", "voice", "all"] = "data"
    started_at: DateTime
    expected_end: DateTime | None = None
    resolved: bool = False
    description: str = ""


class TicketIn(_In):
    """A support ticket. ``created_at`` defaults to 09:00 on the fixture's ``today``."""

    id: str = Field(min_length=1, max_length=40)
    customer_id: str | None = None
    line_id: str | None = None
    category: str = Field(min_length=1, max_length=40)
    status: Literal["open", "in_progress", "closed"] = "open"
    summary: str = ""
    created_at: DateTime | None = None


class FixtureSet(_In):
    """A whole world of telecom data: the ``fixtures:`` block of a scenario, or the demo seed."""

    today: dt.date | None = Field(default=None, description="the scenario's business date (used by the runner)")
    plans: list[PlanIn] = Field(default_factory=list)
    roaming_passes: list[RoamingPassIn] = Field(default_factory=list)
    customers: list[CustomerIn] = Field(default_factory=list)
    outages: list[OutageIn] = Field(default_factory=list)
    tickets: list[TicketIn] = Field(default_factory=list)
