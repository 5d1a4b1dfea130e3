"""Result models of the canonical tools: the facts the orchestrator composes Korean replies from.

Money is integer KRW (``*_krw``), data sizes are GB floats (``*_gb``), dates are ``date``.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class VerifyIdentityResult(BaseModel):
    verified: bool
    customer_id: str | None = None
    customer_name: str | None = None


class PlanInfo(BaseModel):
    id: str
    name: str
    network: str
    monthly_fee_krw: int
    data_gb: float | None  # None = unlimited
    unlimited: bool
    throttle_kbps: int | None
    refill_price_per_gb_krw: int
    description: str


class PlanList(BaseModel):
    plans: list[PlanInfo]


class LineSummary(BaseModel):
    id: str
    number: str
    status: str
    plan_id: str
    plan_name: str


class CustomerInfo(BaseModel):
    id: str
    name: str
    phone: str
    email: str | None
    address: str | None
    birth_date: dt.date
    segment: str
    preferences: dict
    lines: list[LineSummary]


class LineList(BaseModel):
    lines: list[LineSummary]


class LineDetail(BaseModel):
    id: str
    number: str
    status: str
    suspend_reason: str | None
    plan: PlanInfo
    pending_plan: PlanInfo | None
    pending_plan_effective_date: dt.date | None
    roaming_enabled: bool
    roaming_pass_id: str | None
    mms_enabled: bool
    data_used_gb: float
    data_refill_gb: float
    contract_kind: str
    contract_end: dt.date | None
    device_model: str | None


class BillItem(BaseModel):
    name: str
    amount_krw: int


class BillInfo(BaseModel):
    id: str
    line_id: str
    line_number: str | None = None
    period: str
    due_date: dt.date
    amount_krw: int
    status: str
    items: list[BillItem]


class BillList(BaseModel):
    bills: list[BillInfo]
    total_overdue_krw: int


class BillItemChange(BaseModel):
    name: str
    amount_krw: int | None  # None: not on this bill
    previous_amount_krw: int | None  # None: not on the previous bill
    difference_krw: int


class BillExplanation(BaseModel):
    bill: BillInfo
    previous_bill_id: str | None
    previous_period: str
    previous_amount_krw: int | None
    difference_krw: int | None
    changes: list[BillItemChange]  # only items whose amount differs from the previous bill


class MonthlyUsage(BaseModel):
    period: str
    data_gb: float


class DataUsage(BaseModel):
    line_id: str
    plan_name: str
    period: str
    used_gb: float
    plan_data_gb: float | None
    refill_gb: float
    allowance_gb: float | None  # None = unlimited
    remaining_gb: float | None
    unlimited: bool
    throttled: bool
    throttle_kbps: int | None
    cycle_end: dt.date
    days_left_in_cycle: int  # today included
    refill_available_gb: int  # what may still be refilled this month (0 on unlimited plans)
    last_months: list[MonthlyUsage]


class PlanRecommendation(BaseModel):
    plan: PlanInfo
    monthly_saving_krw: int  # current fee minus this plan's fee (negative = costs more)
    switch_cost_krw: int  # discount payback due when switching now (0 if none)
    first_year_saving_krw: int  # 12 × monthly saving − switch cost
    break_even_months: int | None  # months until the saving covers the switch cost (None: never / no cost)


class RecommendationResult(BaseModel):
    line_id: str
    current_plan: PlanInfo
    months: list[MonthlyUsage]
    avg_monthly_gb: float
    max_monthly_gb: float
    current_plan_fits: bool
    recommendations: list[PlanRecommendation]  # cheapest first


class ContractInfo(BaseModel):
    line_id: str
    contract_kind: str
    contract_start: dt.date | None
    contract_end: dt.date | None
    months_elapsed: int | None
    months_remaining: int | None
    days_to_end: int | None
    ends_within_30_days: bool
    monthly_discount_krw: int
    device_model: str | None
    device_installment_left_krw: int
    discount_payback_krw: int
    early_termination_total_krw: int  # payback + device instalment left, as of today
    as_of: dt.date


class RoamingPassInfo(BaseModel):
    id: str
    name: str
    days: int
    data_gb: float
    price_krw: int
    countries: list[str]


class RoamingPassList(BaseModel):
    country: str | None  # resolved ISO code
    country_name: str | None
    passes: list[RoamingPassInfo]  # cheapest first


class OutageInfo(BaseModel):
    id: str
    area: str
    service: str
    started_at: dt.datetime
    expected_end: dt.datetime | None
    description: str


class OutageList(BaseModel):
    outages: list[OutageInfo]


class OverdueBill(BaseModel):
    id: str
    period: str
    amount_krw: int


class Diagnostics(BaseModel):
    line_id: str
    status: str
    suspend_reason: str | None
    plan_name: str
    data_used_gb: float
    allowance_gb: float | None
    data_cap_reached: bool
    throttle_kbps: int | None  # current speed limit when the cap is reached
    roaming_enabled: bool
    roaming_pass_id: str | None
    roaming_pass_name: str | None
    mms_enabled: bool
    outages: list[OutageInfo]
    overdue_bills: list[OverdueBill]
    findings: list[str]  # machine codes of everything abnormal, most blocking first


class PlanChangeResult(BaseModel):
    line_id: str
    old_plan_id: str
    old_plan_name: str
    new_plan_id: str
    new_plan_name: str
    new_monthly_fee_krw: int
    effective: str
    effective_date: dt.date
    prorated_charge_krw: int  # immediate: added to this month's bill (negative = credit)
    switch_cost_krw: int  # discount payback charged to this month's bill
    bill_id: str | None


class RefillResult(BaseModel):
    line_id: str
    gb: int
    charge_krw: int
    bill_id: str
    allowance_gb: float
    refilled_this_month_gb: float
    refill_available_gb: int


class RoamingResult(BaseModel):
    line_id: str
    roaming_enabled: bool
    pass_id: str | None
    pass_name: str | None
    charge_krw: int
    bill_id: str | None


class LineStatusResult(BaseModel):
    line_id: str
    old_status: str
    status: str
    suspend_reason: str | None
    effective_date: dt.date


class PaymentResult(BaseModel):
    bill_id: str
    period: str
    amount_krw: int
    status: str
    lines_resumed: list[str]  # lines whose non-payment suspension was lifted
    remaining_overdue_krw: int


class TicketResult(BaseModel):
    ticket_id: str
    category: str
    status: str
    line_id: str | None
    handed_off: bool


class CancellationResult(BaseModel):
    ticket_id: str
    line_id: str
    discount_payback_krw: int
    device_installment_left_krw: int
    early_termination_total_krw: int
    handed_off: bool
