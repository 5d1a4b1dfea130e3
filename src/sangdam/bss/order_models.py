"""The reference BSS's write side: order requests, dry-run quotes and completed orders.

Every write is a ``POST`` with an ``Idempotency-Key`` header. With ``?dryRun=true`` it answers ``200`` with a
:class:`…Quote` (every check run, the computed effect, nothing written); otherwise ``201`` with an order
envelope whose ``outcome`` is the result. The same key again answers the first order, writing nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Generic, Literal, TypeVar

from pydantic import Field

from sangdam.bss.schemas import ApiModel, Money, TariffRef

T = TypeVar("T")


class Quote(ApiModel, Generic[T]):
    dry_run: Literal[True] = True
    quote: T


class Order(ApiModel, Generic[T]):
    order_id: str = Field(description="Derived from the Idempotency-Key: a replay answers the same order")
    state: Literal["COMPLETED"] = "COMPLETED"
    outcome: T


# --- requests ------------------------------------------------------------------------------------------------
class TariffChangeRequest(ApiModel):
    target_tariff_id: str
    timing: Literal["NEXT_BILL_CYCLE", "IMMEDIATE"] = "NEXT_BILL_CYCLE"


class TopUpRequest(ApiModel):
    volume_mb: int = Field(description="Whole GB only, as MB (1 GB = 1024 MB)")


class RoamingActivationRequest(ApiModel):
    bundle_id: str | None = Field(default=None, description="Bundle to buy; null: pay-per-use roaming")


class SuspensionRequest(ApiModel):
    reason_code: Literal["LOST", "TEMPORARY", "MILITARY_SERVICE"]


class TroubleTicketRequest(ApiModel):
    category: Literal["TECHNICAL", "BILLING", "TARIFF", "ROAMING", "SUBSCRIPTION", "COMPLAINT", "OTHER"]
    description: str = Field(min_length=1, max_length=2000)
    subscription_id: str | None = None


class HandoffRequest(ApiModel):
    subscriber_id: str | None = Field(default=None, description="The verified subscriber, if any")
    summary: str = Field(min_length=1, max_length=2000)


# --- quotes (dry run) and outcomes ---------------------------------------------------------------------------
class PricedTariff(ApiModel):
    tariff_id: str
    display_name: str
    recurring_charge: Money


class TariffChangeQuote(ApiModel):
    subscription_id: str
    msisdn: str
    current_tariff: PricedTariff
    target_tariff: PricedTariff
    timing: str
    effective_date: dt.date
    prorated_charge: Money
    early_change_fee: Money
    supersedes_pending_tariff_id: str | None


class TariffChangeOutcome(ApiModel):
    subscription_id: str
    previous_tariff: TariffRef
    new_tariff: PricedTariff
    timing: str
    effective_date: dt.date
    prorated_charge: Money
    early_change_fee: Money
    invoice_id: str | None


class TopUpQuote(ApiModel):
    subscription_id: str
    msisdn: str
    volume_mb: float
    price_per_gb: Money
    charge: Money
    new_total_allowance_mb: float
    billing_period: str


class TopUpOutcome(ApiModel):
    subscription_id: str
    volume_mb: float
    charge: Money
    invoice_id: str
    total_allowance_mb: float
    topped_up_this_month_mb: float
    top_up_available_mb: float


class BundleTerms(ApiModel):
    bundle_id: str
    name: str
    validity_days: int
    data_allowance_mb: float


class RoamingActivationQuote(ApiModel):
    subscription_id: str
    msisdn: str
    bundle: BundleTerms | None
    charge: Money
    billing_period: str


class RoamingDeactivationQuote(ApiModel):
    subscription_id: str
    msisdn: str
    bundle_id: str | None


class RoamingOutcome(ApiModel):
    subscription_id: str
    roaming_active: bool
    bundle_id: str | None
    bundle_name: str | None
    charge: Money
    invoice_id: str | None


class SuspensionQuote(ApiModel):
    subscription_id: str
    msisdn: str
    reason_code: str
    new_state: str
    effective_date: dt.date


class ReactivationQuote(ApiModel):
    subscription_id: str
    msisdn: str
    current_state: str
    suspension_reason: str | None
    effective_date: dt.date


class StateChangeOutcome(ApiModel):
    subscription_id: str
    previous_state: str
    state: str
    suspension_reason: str | None
    effective_date: dt.date


class PaymentQuote(ApiModel):
    invoice_id: str
    billing_period: str
    amount: Money
    overdue: bool
    subscriptions_to_reactivate: list[str]
    remaining_overdue: Money


class PaymentOutcome(ApiModel):
    invoice_id: str
    billing_period: str
    amount: Money
    state: str
    reactivated_subscriptions: list[str]
    remaining_overdue: Money


class TicketQuote(ApiModel):
    category: str
    subscription_id: str | None
    description: str


class HandoffQuote(ApiModel):
    queue: str
    subscriber_id: str | None
    summary: str


class TicketOutcome(ApiModel):
    ticket_id: str
    category: str
    state: str
    subscription_id: str | None
    escalated_to_agent: bool


class TerminationQuote(ApiModel):
    subscription_id: str
    msisdn: str
    discount_payback: Money
    device_installment_remaining: Money
    early_termination_charge: Money
    as_of: dt.date


class TerminationOutcome(ApiModel):
    ticket_id: str
    subscription_id: str
    discount_payback: Money
    device_installment_remaining: Money
    early_termination_charge: Money
    escalated_to_agent: bool
