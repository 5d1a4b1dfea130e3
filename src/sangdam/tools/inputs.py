"""Input models of the canonical tools (their JSON Schemas are what the LLM sees)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StringConstraints, field_validator

from sangdam.config import today
from sangdam.domain import policy
from sangdam.tools.base import ToolArgs

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
LineId = Annotated[Id, Field(description="Line id, e.g. from list_lines")]
BillId = Annotated[Id, Field(description="Bill id, e.g. from get_bills")]
TICKET_CATEGORIES = ("tech_support", "billing", "plan", "roaming", "line", "complaint", "other")


def normalise_phone(value: object) -> str:
    """Korean mobile number in any common form (``010-1234-5678``, ``01012345678``, ``+82 10-1234-5678``)
    → digits only with the leading 0 (``01012345678``)."""
    digits = re.sub(r"\D", "", str(value))
    if digits.startswith("82") and len(digits) in (11, 12) and str(value).strip().startswith(("+", "82", "0082")):
        digits = "0" + digits[2:]
    elif digits.startswith("0082"):
        digits = "0" + digits[4:]
    if not re.fullmatch(r"01\d{8,9}", digits):
        raise ValueError("not a Korean mobile number (expected e.g. 010-1234-5678)")
    return digits


def parse_birth_date(value: object) -> dt.date:
    """``1985-03-14``, ``1985.03.14``, ``19850314`` or ``850314`` (YYMMDD; years after this one are 19xx)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    digits = re.sub(r"\D", "", text)
    try:
        if len(digits) == 8:
            return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        if len(digits) == 6:
            yy = int(digits[:2])
            # Two-digit years: a person is born in the past, so 00..(this year) mean 20xx, later ones 19xx.
            century = 2000 if yy <= today().year % 100 else 1900
            return dt.date(century + yy, int(digits[2:4]), int(digits[4:]))
    except ValueError:
        raise ValueError("not a valid calendar date") from None
    raise ValueError("expected a birth date such as 1985-03-14 or 850314")


class VerifyIdentityArgs(ToolArgs):
    phone: Annotated[str, BeforeValidator(normalise_phone), Field(description="Mobile number, e.g. 010-1234-5678")]
    birth_date: Annotated[
        dt.date, BeforeValidator(parse_birth_date), Field(description="Birth date, YYYY-MM-DD (YYMMDD accepted)")
    ]


class LineArgs(ToolArgs):
    line_id: LineId


class BillArgs(ToolArgs):
    bill_id: BillId


class GetBillsArgs(ToolArgs):
    line_id: LineId | None = Field(default=None, description="Only this line's bills (default: all lines)")
    status: Literal["issued", "paid", "overdue"] | None = Field(default=None, description="Only bills in this status")
    months: int = Field(default=6, ge=1, le=24, description="How many most recent billing months")


class ListPlansArgs(ToolArgs):
    network: Literal["5G", "LTE"] | None = Field(default=None, description="Only plans of this network")


class RoamingPassesArgs(ToolArgs):
    country: str | None = Field(
        default=None, max_length=40, description="Destination: ISO code (JP) or name (일본, Japan)"
    )


class OutagesArgs(ToolArgs):
    area: str | None = Field(default=None, max_length=80, description="Area, e.g. 서울 강남구 (default: all)")


class ChangePlanArgs(ToolArgs):
    line_id: LineId
    plan_id: Id = Field(description="Target plan id, e.g. from list_plans")
    effective: Literal["next_cycle", "immediate"] = Field(
        default="next_cycle", description="next_cycle (default, 1st of next month) or immediate (prorated)"
    )


class RefillDataArgs(ToolArgs):
    line_id: LineId
    gb: int = Field(
        description=f"Whole GB to add, {policy.REFILL_MIN_GB}-{policy.REFILL_MAX_GB_PER_REQUEST} per request",
        json_schema_extra={"minimum": policy.REFILL_MIN_GB, "maximum": policy.REFILL_MAX_GB_PER_REQUEST},
    )

    @field_validator("gb", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> object:
        # Pydantic would accept True as 1 and "2" as 2; a refill amount must be a real whole number.
        if isinstance(value, bool):
            raise ValueError("must be a whole number of GB")
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("must be a whole number of GB (no fractions)")
        return value


class EnableRoamingArgs(ToolArgs):
    line_id: LineId
    pass_id: Id | None = Field(default=None, description="Roaming pass to buy (default: pay-per-use roaming)")


class SuspendLineArgs(ToolArgs):
    line_id: LineId
    reason: Literal[policy.SUSPEND_REASONS] = Field(description="lost | temporary | military")  # type: ignore[valid-type]


class CreateTicketArgs(ToolArgs):
    category: Literal[TICKET_CATEGORIES] = Field(description="Ticket queue")  # type: ignore[valid-type]
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] = Field(
        description="What the customer needs, for the human agent"
    )
    line_id: LineId | None = Field(default=None, description="The line concerned, if any")


class TransferArgs(ToolArgs):
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] = Field(
        description="Conversation summary for the human agent"
    )
