"""The reference BSS's API models: its own vocabulary, deliberately unlike Sangdam's tables and tools.

camelCase JSON, its own resource names (subscribers, subscriptions, tariffs, invoices, roaming bundles, trouble
tickets, network incidents), money as a decimal string with a currency, data volumes in MB, upper-case enum
states, ISO dates and offset date-times, paginated collections and one error envelope. Sangdam reaches it only
through the ``rest`` adapter's mapping file (``resources/backends/reference-bss.mapping.yaml``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """camelCase on the wire; Python code uses snake_case names."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class Money(ApiModel):
    """An amount as a decimal string (no float rounding on the wire) and its ISO-4217 currency."""

    amount: str = Field(examples=["55000"])
    currency: Literal["KRW"] = "KRW"


def krw(value: int | None) -> Money | None:
    """``55000`` → ``{"amount": "55000", "currency": "KRW"}`` (None stays None)."""
    return None if value is None else Money(amount=str(int(value)))


def mb(gb: float | None) -> float | None:
    """GB → MB (×1024, exact in binary floating point, so the adapter's MB → GB gives back the same number)."""
    return None if gb is None else float(gb) * 1024


class PageInfo(ApiModel):
    next: str | None = Field(description="Cursor of the next page (pass as `cursor`), null on the last page")


# --- errors --------------------------------------------------------------------------------------------------
class ErrorBody(ApiModel):
    code: str = Field(examples=["BILLING_OVERDUE"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(ApiModel):
    error: ErrorBody


# --- catalogue -----------------------------------------------------------------------------------------------
class TariffRef(ApiModel):
    tariff_id: str
    display_name: str


class Tariff(ApiModel):
    tariff_id: str
    display_name: str
    technology: str = Field(examples=["5G", "LTE"])
    recurring_charge: Money
    data_allowance_mb: float | None = Field(description="null: unlimited data")
    unlimited_data: bool
    throttle_speed_kbps: int | None
    top_up_price_per_gb: Money
    marketing_text: str


class TariffPage(ApiModel):
    data: list[Tariff]
    page: PageInfo


class RoamingBundle(ApiModel):
    bundle_id: str
    name: str
    validity_days: int
    data_allowance_mb: float
    price: Money
    destinations: list[str] = Field(description="ISO-3166 alpha-2 codes")


class DestinationFilter(ApiModel):
    destination: str | None


class RoamingBundlePage(ApiModel):
    data: list[RoamingBundle]
    page: PageInfo
    filter: DestinationFilter


# --- subscribers and subscriptions ---------------------------------------------------------------------------
class SubscriberMatch(ApiModel):
    subscriber_id: str
    full_name: str


class SubscriberMatchPage(ApiModel):
    data: list[SubscriberMatch]
    page: PageInfo


class DirectoryEntry(ApiModel):
    subscriber_id: str
    display_name: str


class Directory(ApiModel):
    data: list[DirectoryEntry]


class SubscriptionSummary(ApiModel):
    subscription_id: str
    msisdn: str
    state: str = Field(examples=["ACTIVE", "SUSPENDED", "LOST", "TERMINATED"])
    tariff: TariffRef


class SubscriptionPage(ApiModel):
    data: list[SubscriptionSummary]
    page: PageInfo


class Subscriber(ApiModel):
    subscriber_id: str
    full_name: str
    contact_msisdn: str
    email: str | None
    postal_address: str | None
    date_of_birth: dt.date
    customer_segment: str = Field(examples=["STANDARD", "VIP"])
    preferences: dict[str, Any]
    subscriptions: list[SubscriptionSummary] | None = Field(
        default=None, description="Only with `expand=subscriptions`")


class PendingTariffChange(ApiModel):
    tariff: Tariff
    effective_date: dt.date


class RoamingState(ApiModel):
    active: bool
    bundle_id: str | None
    bundle_name: str | None = None


class Device(ApiModel):
    model: str


class ContractRef(ApiModel):
    type: str = Field(examples=["NONE", "SIM_ONLY_DISCOUNT", "DEVICE_INSTALLMENT"])
    end_date: dt.date | None


class SubscriptionDetail(ApiModel):
    subscription_id: str
    msisdn: str
    state: str
    suspension_reason: str | None
    tariff: Tariff
    pending_tariff_change: PendingTariffChange | None
    roaming: RoamingState
    mms_provisioned: bool
    data_used_mb: float
    data_top_up_mb: float
    contract: ContractRef
    device: Device | None


class MonthlyVolume(ApiModel):
    billing_period: str
    used_mb: float


class UsageSummary(ApiModel):
    subscription_id: str
    tariff_name: str
    billing_period: str
    used_mb: float
    tariff_allowance_mb: float | None
    top_up_mb: float
    total_allowance_mb: float | None
    remaining_mb: float | None
    unlimited: bool
    throttled: bool
    throttle_speed_kbps: int | None
    cycle_end_date: dt.date
    days_left_in_cycle: int
    top_up_available_mb: float
    history: list[MonthlyVolume]


class TariffOffer(ApiModel):
    tariff: Tariff
    monthly_saving: Money
    switching_cost: Money
    first_year_saving: Money
    break_even_months: int | None


class TariffRecommendations(ApiModel):
    subscription_id: str
    current_tariff: Tariff
    history: list[MonthlyVolume]
    average_monthly_mb: float
    peak_monthly_mb: float
    current_tariff_fits: bool
    offers: list[TariffOffer]


class ContractTerms(ApiModel):
    subscription_id: str
    type: str
    start_date: dt.date | None
    end_date: dt.date | None
    months_elapsed: int | None
    months_remaining: int | None
    days_to_end: int | None
    ends_within_30_days: bool
    monthly_discount: Money
    device: Device | None
    device_installment_remaining: Money
    discount_payback: Money
    early_termination_charge: Money
    as_of: dt.date


# --- billing -------------------------------------------------------------------------------------------------
class Charge(ApiModel):
    description: str
    amount: Money


class Invoice(ApiModel):
    invoice_id: str
    subscription_id: str
    msisdn: str | None
    billing_period: str = Field(examples=["2026-10"])
    due_date: dt.date
    total_amount: Money
    state: str = Field(examples=["OPEN", "SETTLED", "OVERDUE"])
    charges: list[Charge]


class BalanceSummary(ApiModel):
    overdue_amount: Money


class InvoicePage(ApiModel):
    data: list[Invoice]
    page: PageInfo
    summary: BalanceSummary


class ChargeChange(ApiModel):
    description: str
    amount: Money | None
    previous_amount: Money | None
    delta: Money


class InvoiceComparison(ApiModel):
    invoice: Invoice
    previous_invoice_id: str | None
    previous_billing_period: str
    previous_total: Money | None
    total_delta: Money | None
    charge_changes: list[ChargeChange]


# --- network -------------------------------------------------------------------------------------------------
class NetworkIncident(ApiModel):
    incident_id: str
    area: str
    affected_service: str = Field(examples=["DATA", "VOICE", "ALL"])
    started_at: dt.datetime
    expected_resolution: dt.datetime | None
    summary: str


class NetworkIncidentPage(ApiModel):
    data: list[NetworkIncident]
    page: PageInfo


class OverdueInvoice(ApiModel):
    invoice_id: str
    billing_period: str
    amount: Money


class DiagnosticsReport(ApiModel):
    subscription_id: str
    state: str
    suspension_reason: str | None
    tariff_name: str
    data_used_mb: float
    total_allowance_mb: float | None
    data_cap_reached: bool
    current_throttle_kbps: int | None
    roaming: RoamingState
    mms_provisioned: bool
    incidents: list[NetworkIncident]
    overdue_invoices: list[OverdueInvoice]
    findings: list[str] = Field(examples=[["SUBSCRIPTION_SUSPENDED", "BILLING_OVERDUE"]])
