"""The reference BSS's loyalty programme (``/api/v1/subscribers/{subscriberId}/loyalty-account``): a subscriber's
membership tier and point balance.

No built-in Sangdam tool reads it: it is the operation an operator imports (``sangdam tools import openapi``) and
serves with a procedure of its own (docs/procedures.md). The membership records are the BSS's own seed data, kept
here (the demo database's schema is Sangdam's and has no loyalty table); points are decimal strings like money.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import Field

from sangdam.bss import calls
from sangdam.bss.schemas import ApiModel, ErrorEnvelope

router = APIRouter(prefix="/api/v1")
ERRORS = {code: {"model": ErrorEnvelope} for code in (401, 404, 422)}


class LoyaltySeed(ApiModel):
    tier: Literal["VIP", "GOLD", "SILVER"]
    point_balance: int
    points_expiring: int  # expire at the end of the business month
    member_since: dt.date


# Demo subscribers with a membership (docs/demo.md); every other subscriber has none.
MEMBERSHIPS: dict[str, LoyaltySeed] = {
    "C-DEMO-LOST": LoyaltySeed(tier="GOLD", point_balance=12500, points_expiring=1200,
                               member_since=dt.date(2019, 3, 2)),
    "C-DEMO-LIGHT": LoyaltySeed(tier="VIP", point_balance=48300, points_expiring=0,
                                member_since=dt.date(2008, 6, 17)),
    "C-DEMO-CONTRACT": LoyaltySeed(tier="SILVER", point_balance=3150, points_expiring=400,
                                   member_since=dt.date(2024, 12, 18)),
    "C-DEMO-HEAVY": LoyaltySeed(tier="SILVER", point_balance=870, points_expiring=0,
                                member_since=dt.date(2023, 1, 9)),
}


class LoyaltyAccount(ApiModel):
    """A subscriber's membership: ``membershipStatus`` NONE (and null tier and points) when they have none."""

    subscriber_id: str
    membership_status: Literal["ACTIVE", "NONE"]
    tier: Literal["VIP", "GOLD", "SILVER"] | None = Field(description="Membership tier, null without a membership")
    point_balance: str | None = Field(description="Points available now (decimal string)", examples=["12500"])
    points_expiring: str | None = Field(description="Points that expire at the end of this month (decimal string)")
    points_expire_on: dt.date | None = Field(description="When ``pointsExpiring`` expire")
    member_since: dt.date | None
    as_of: dt.date = Field(description="The business date of the balance")


def _month_end(day: dt.date) -> dt.date:
    first_next = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return first_next - dt.timedelta(days=1)


@router.get("/subscribers/{subscriberId}/loyalty-account", operation_id="getLoyaltyAccount",
            response_model=LoyaltyAccount, response_model_exclude_none=False, responses=ERRORS, tags=["loyalty"])
def get_loyalty_account(request: Request,
                        subscriber_id: Annotated[str, Path(alias="subscriberId", max_length=40)]) -> LoyaltyAccount:
    """The subscriber's membership tier and point balance as of the business date (``NONE`` without one)."""
    state = calls.state_of(request)
    calls.require_subscriber(state, subscriber_id)
    seed = MEMBERSHIPS.get(subscriber_id)
    if seed is None:
        return LoyaltyAccount(subscriber_id=subscriber_id, membership_status="NONE", tier=None, point_balance=None,
                              points_expiring=None, points_expire_on=None, member_since=None, as_of=state.today)
    return LoyaltyAccount(subscriber_id=subscriber_id, membership_status="ACTIVE", tier=seed.tier,
                          point_balance=str(seed.point_balance), points_expiring=str(seed.points_expiring),
                          points_expire_on=_month_end(state.today), member_since=seed.member_since,
                          as_of=state.today)
