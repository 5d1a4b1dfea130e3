"""Sangdam's tool results and effects, re-told in the reference BSS's vocabulary.

The BSS delegates its business logic to Sangdam's tool layer over its *own* database; these functions turn what
the tools answer into the BSS's resources (camelCase, upper-case codes, money strings, MB, offset date-times).
The ``rest`` adapter's mapping file is the exact inverse.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sangdam.bss import order_models as om
from sangdam.bss import schemas as s
from sangdam.bss.schemas import krw, mb
from sangdam.tools import results as r

KST = dt.timezone(dt.timedelta(hours=9), "KST")

# Sangdam value → BSS code. Values not listed are sent upper-cased.
SUBSCRIPTION_STATES = {"active": "ACTIVE", "suspended": "SUSPENDED", "lost": "LOST", "closed": "TERMINATED"}
SUSPENSION_REASONS = {"lost": "LOST", "temporary": "TEMPORARY", "military": "MILITARY_SERVICE",
                      "nonpayment": "NON_PAYMENT"}
INVOICE_STATES = {"issued": "OPEN", "paid": "SETTLED", "overdue": "OVERDUE"}
CONTRACT_TYPES = {"none": "NONE", "selective_discount": "SIM_ONLY_DISCOUNT", "device_installment": "DEVICE_INSTALLMENT"}
TICKET_CATEGORIES = {"tech_support": "TECHNICAL", "billing": "BILLING", "plan": "TARIFF", "roaming": "ROAMING",
                     "line": "SUBSCRIPTION", "complaint": "COMPLAINT", "other": "OTHER", "handoff": "AGENT_HANDOFF",
                     "cancellation": "TERMINATION"}
FINDINGS = {"line_suspended": "SUBSCRIPTION_SUSPENDED", "line_lost": "SUBSCRIPTION_LOST",
            "line_closed": "SUBSCRIPTION_TERMINATED", "overdue_bill": "BILLING_OVERDUE",
            "outage_in_area": "NETWORK_INCIDENT_NEARBY", "data_cap_reached": "DATA_CAP_REACHED",
            "mms_disabled": "MMS_NOT_PROVISIONED"}
TIMINGS = {"next_cycle": "NEXT_BILL_CYCLE", "immediate": "IMMEDIATE"}


def code(table: dict[str, str], value: str | None) -> str | None:
    """The BSS code of a Sangdam value (``None`` stays ``None``)."""
    return None if value is None else table.get(value, value.upper())


def sangdam_value(table: dict[str, str], bss_code: str) -> str:
    """Inverse of :func:`code` for request bodies (``NEXT_BILL_CYCLE`` → ``next_cycle``)."""
    for ours, theirs in table.items():
        if theirs == bss_code:
            return ours
    return bss_code.lower()


def offset_time(value: dt.datetime | None) -> dt.datetime | None:
    """Sangdam's naive local (KST) time as an offset date-time (``+09:00``)."""
    return None if value is None else value.replace(tzinfo=KST)


# --- reads ---------------------------------------------------------------------------------------------------
def tariff(p: r.PlanInfo) -> s.Tariff:
    return s.Tariff(tariff_id=p.id, display_name=p.name, technology=p.network, recurring_charge=krw(p.monthly_fee_krw),
                    data_allowance_mb=mb(p.data_gb), unlimited_data=p.unlimited, throttle_speed_kbps=p.throttle_kbps,
                    top_up_price_per_gb=krw(p.refill_price_per_gb_krw), marketing_text=p.description)


def subscription_summary(line: r.LineSummary) -> s.SubscriptionSummary:
    return s.SubscriptionSummary(subscription_id=line.id, msisdn=line.number,
                                 state=code(SUBSCRIPTION_STATES, line.status),
                                 tariff=s.TariffRef(tariff_id=line.plan_id, display_name=line.plan_name))


def subscriber(c: r.CustomerInfo, expand: bool) -> s.Subscriber:
    return s.Subscriber(subscriber_id=c.id, full_name=c.name, contact_msisdn=c.phone, email=c.email,
                        postal_address=c.address, date_of_birth=c.birth_date, customer_segment=c.segment.upper(),
                        preferences=c.preferences,
                        subscriptions=[subscription_summary(line) for line in c.lines] if expand else None)


def device(model: str | None) -> s.Device | None:
    return s.Device(model=model) if model else None


def subscription_detail(d: r.LineDetail) -> s.SubscriptionDetail:
    pending = (s.PendingTariffChange(tariff=tariff(d.pending_plan), effective_date=d.pending_plan_effective_date)
               if d.pending_plan is not None and d.pending_plan_effective_date is not None else None)
    return s.SubscriptionDetail(
        subscription_id=d.id, msisdn=d.number, state=code(SUBSCRIPTION_STATES, d.status),
        suspension_reason=code(SUSPENSION_REASONS, d.suspend_reason), tariff=tariff(d.plan),
        pending_tariff_change=pending, roaming=s.RoamingState(active=d.roaming_enabled, bundle_id=d.roaming_pass_id),
        mms_provisioned=d.mms_enabled, data_used_mb=mb(d.data_used_gb), data_top_up_mb=mb(d.data_refill_gb),
        contract=s.ContractRef(type=code(CONTRACT_TYPES, d.contract_kind), end_date=d.contract_end),
        device=device(d.device_model))


def history(months: list[r.MonthlyUsage]) -> list[s.MonthlyVolume]:
    return [s.MonthlyVolume(billing_period=m.period, used_mb=mb(m.data_gb)) for m in months]


def usage_summary(u: r.DataUsage) -> s.UsageSummary:
    return s.UsageSummary(
        subscription_id=u.line_id, tariff_name=u.plan_name, billing_period=u.period, used_mb=mb(u.used_gb),
        tariff_allowance_mb=mb(u.plan_data_gb), top_up_mb=mb(u.refill_gb), total_allowance_mb=mb(u.allowance_gb),
        remaining_mb=mb(u.remaining_gb), unlimited=u.unlimited, throttled=u.throttled,
        throttle_speed_kbps=u.throttle_kbps, cycle_end_date=u.cycle_end, days_left_in_cycle=u.days_left_in_cycle,
        top_up_available_mb=mb(u.refill_available_gb), history=history(u.last_months))


def recommendations(rec: r.RecommendationResult) -> s.TariffRecommendations:
    offers = [s.TariffOffer(tariff=tariff(o.plan), monthly_saving=krw(o.monthly_saving_krw),
                            switching_cost=krw(o.switch_cost_krw), first_year_saving=krw(o.first_year_saving_krw),
                            break_even_months=o.break_even_months) for o in rec.recommendations]
    return s.TariffRecommendations(
        subscription_id=rec.line_id, current_tariff=tariff(rec.current_plan), history=history(rec.months),
        average_monthly_mb=mb(rec.avg_monthly_gb), peak_monthly_mb=mb(rec.max_monthly_gb),
        current_tariff_fits=rec.current_plan_fits, offers=offers)


def contract_terms(c: r.ContractInfo) -> s.ContractTerms:
    return s.ContractTerms(
        subscription_id=c.line_id, type=code(CONTRACT_TYPES, c.contract_kind), start_date=c.contract_start,
        end_date=c.contract_end, months_elapsed=c.months_elapsed, months_remaining=c.months_remaining,
        days_to_end=c.days_to_end, ends_within_30_days=c.ends_within_30_days,
        monthly_discount=krw(c.monthly_discount_krw), device=device(c.device_model),
        device_installment_remaining=krw(c.device_installment_left_krw), discount_payback=krw(c.discount_payback_krw),
        early_termination_charge=krw(c.early_termination_total_krw), as_of=c.as_of)


def invoice(b: r.BillInfo) -> s.Invoice:
    return s.Invoice(invoice_id=b.id, subscription_id=b.line_id, msisdn=b.line_number, billing_period=b.period,
                     due_date=b.due_date, total_amount=krw(b.amount_krw), state=code(INVOICE_STATES, b.status),
                     charges=[s.Charge(description=i.name, amount=krw(i.amount_krw)) for i in b.items])


def comparison(e: r.BillExplanation) -> s.InvoiceComparison:
    changes = [s.ChargeChange(description=c.name, amount=krw(c.amount_krw), previous_amount=krw(c.previous_amount_krw),
                              delta=krw(c.difference_krw)) for c in e.changes]
    return s.InvoiceComparison(invoice=invoice(e.bill), previous_invoice_id=e.previous_bill_id,
                               previous_billing_period=e.previous_period, previous_total=krw(e.previous_amount_krw),
                               total_delta=krw(e.difference_krw), charge_changes=changes)


def bundle(p: r.RoamingPassInfo) -> s.RoamingBundle:
    return s.RoamingBundle(bundle_id=p.id, name=p.name, validity_days=p.days, data_allowance_mb=mb(p.data_gb),
                           price=krw(p.price_krw), destinations=p.countries)


def incident(o: r.OutageInfo) -> s.NetworkIncident:
    return s.NetworkIncident(incident_id=o.id, area=o.area, affected_service=o.service.upper(),
                             started_at=offset_time(o.started_at), expected_resolution=offset_time(o.expected_end),
                             summary=o.description)


def diagnostics(d: r.Diagnostics) -> s.DiagnosticsReport:
    return s.DiagnosticsReport(
        subscription_id=d.line_id, state=code(SUBSCRIPTION_STATES, d.status),
        suspension_reason=code(SUSPENSION_REASONS, d.suspend_reason), tariff_name=d.plan_name,
        data_used_mb=mb(d.data_used_gb), total_allowance_mb=mb(d.allowance_gb), data_cap_reached=d.data_cap_reached,
        current_throttle_kbps=d.throttle_kbps,
        roaming=s.RoamingState(active=d.roaming_enabled, bundle_id=d.roaming_pass_id, bundle_name=d.roaming_pass_name),
        mms_provisioned=d.mms_enabled, incidents=[incident(o) for o in d.outages],
        overdue_invoices=[s.OverdueInvoice(invoice_id=b.id, billing_period=b.period, amount=krw(b.amount_krw))
                          for b in d.overdue_bills],
        findings=[code(FINDINGS, f) for f in d.findings])


# --- writes: quotes (from a tool's effect) and outcomes (from its result) ---------------------------------------
def _priced(plan_id: str, name: str, fee: int) -> om.PricedTariff:
    return om.PricedTariff(tariff_id=plan_id, display_name=name, recurring_charge=krw(fee))


def tariff_change_quote(e: dict[str, Any]) -> om.TariffChangeQuote:
    return om.TariffChangeQuote(
        subscription_id=e["line_id"], msisdn=e["line_number"],
        current_tariff=_priced(e["old_plan_id"], e["old_plan_name"], e["old_monthly_fee_krw"]),
        target_tariff=_priced(e["new_plan_id"], e["new_plan_name"], e["new_monthly_fee_krw"]),
        timing=code(TIMINGS, e["effective"]), effective_date=e["effective_date"],
        prorated_charge=krw(e["prorated_charge_krw"]), early_change_fee=krw(e["switch_cost_krw"]),
        supersedes_pending_tariff_id=e["replaces_pending_plan_id"])


def tariff_change_outcome(x: r.PlanChangeResult) -> om.TariffChangeOutcome:
    return om.TariffChangeOutcome(
        subscription_id=x.line_id, previous_tariff=s.TariffRef(tariff_id=x.old_plan_id, display_name=x.old_plan_name),
        new_tariff=_priced(x.new_plan_id, x.new_plan_name, x.new_monthly_fee_krw), timing=code(TIMINGS, x.effective),
        effective_date=x.effective_date, prorated_charge=krw(x.prorated_charge_krw),
        early_change_fee=krw(x.switch_cost_krw), invoice_id=x.bill_id)


def top_up_quote(e: dict[str, Any]) -> om.TopUpQuote:
    return om.TopUpQuote(subscription_id=e["line_id"], msisdn=e["line_number"], volume_mb=mb(e["gb"]),
                         price_per_gb=krw(e["price_per_gb_krw"]), charge=krw(e["charge_krw"]),
                         new_total_allowance_mb=mb(e["new_allowance_gb"]), billing_period=e["bill_period"])


def top_up_outcome(x: r.RefillResult) -> om.TopUpOutcome:
    return om.TopUpOutcome(subscription_id=x.line_id, volume_mb=mb(x.gb), charge=krw(x.charge_krw), invoice_id=x.bill_id,
                           total_allowance_mb=mb(x.allowance_gb), topped_up_this_month_mb=mb(x.refilled_this_month_gb),
                           top_up_available_mb=mb(x.refill_available_gb))


def roaming_activation_quote(e: dict[str, Any]) -> om.RoamingActivationQuote:
    terms = (om.BundleTerms(bundle_id=e["pass_id"], name=e["pass_name"], validity_days=e["pass_days"],
                            data_allowance_mb=mb(e["pass_data_gb"])) if e["pass_id"] else None)
    return om.RoamingActivationQuote(subscription_id=e["line_id"], msisdn=e["line_number"], bundle=terms,
                                     charge=krw(e["charge_krw"]), billing_period=e["bill_period"])


def roaming_deactivation_quote(e: dict[str, Any]) -> om.RoamingDeactivationQuote:
    return om.RoamingDeactivationQuote(subscription_id=e["line_id"], msisdn=e["line_number"], bundle_id=e["pass_id"])


def roaming_outcome(x: r.RoamingResult) -> om.RoamingOutcome:
    return om.RoamingOutcome(subscription_id=x.line_id, roaming_active=x.roaming_enabled, bundle_id=x.pass_id,
                             bundle_name=x.pass_name, charge=krw(x.charge_krw), invoice_id=x.bill_id)


def suspension_quote(e: dict[str, Any]) -> om.SuspensionQuote:
    return om.SuspensionQuote(subscription_id=e["line_id"], msisdn=e["line_number"],
                              reason_code=code(SUSPENSION_REASONS, e["reason"]),
                              new_state=code(SUBSCRIPTION_STATES, e["new_status"]), effective_date=e["effective_date"])


def reactivation_quote(e: dict[str, Any]) -> om.ReactivationQuote:
    return om.ReactivationQuote(subscription_id=e["line_id"], msisdn=e["line_number"],
                                current_state=code(SUBSCRIPTION_STATES, e["old_status"]),
                                suspension_reason=code(SUSPENSION_REASONS, e["reason"]),
                                effective_date=e["effective_date"])


def state_change_outcome(x: r.LineStatusResult) -> om.StateChangeOutcome:
    return om.StateChangeOutcome(subscription_id=x.line_id, previous_state=code(SUBSCRIPTION_STATES, x.old_status),
                                 state=code(SUBSCRIPTION_STATES, x.status),
                                 suspension_reason=code(SUSPENSION_REASONS, x.suspend_reason),
                                 effective_date=x.effective_date)


def payment_quote(e: dict[str, Any]) -> om.PaymentQuote:
    return om.PaymentQuote(invoice_id=e["bill_id"], billing_period=e["period"], amount=krw(e["amount_krw"]),
                           overdue=e["was_overdue"], subscriptions_to_reactivate=e["lines_to_resume"],
                           remaining_overdue=krw(e["remaining_overdue_krw"]))


def payment_outcome(x: r.PaymentResult) -> om.PaymentOutcome:
    return om.PaymentOutcome(invoice_id=x.bill_id, billing_period=x.period, amount=krw(x.amount_krw),
                             state=code(INVOICE_STATES, x.status), reactivated_subscriptions=x.lines_resumed,
                             remaining_overdue=krw(x.remaining_overdue_krw))


def ticket_quote(e: dict[str, Any]) -> om.TicketQuote:
    return om.TicketQuote(category=code(TICKET_CATEGORIES, e["category"]), subscription_id=e["line_id"],
                          description=e["summary"])


def handoff_quote(e: dict[str, Any]) -> om.HandoffQuote:
    return om.HandoffQuote(queue=code(TICKET_CATEGORIES, e["category"]), subscriber_id=e["customer_id"],
                           summary=e["summary"])


def ticket_outcome(x: r.TicketResult) -> om.TicketOutcome:
    return om.TicketOutcome(ticket_id=x.ticket_id, category=code(TICKET_CATEGORIES, x.category),
                            state=x.status.upper(), subscription_id=x.line_id, escalated_to_agent=x.handed_off)


def termination_quote(e: dict[str, Any]) -> om.TerminationQuote:
    return om.TerminationQuote(subscription_id=e["line_id"], msisdn=e["line_number"],
                               discount_payback=krw(e["discount_payback_krw"]),
                               device_installment_remaining=krw(e["device_installment_left_krw"]),
                               early_termination_charge=krw(e["early_termination_total_krw"]), as_of=e["as_of"])


def termination_outcome(x: r.CancellationResult) -> om.TerminationOutcome:
    return om.TerminationOutcome(ticket_id=x.ticket_id, subscription_id=x.line_id,
                                 discount_payback=krw(x.discount_payback_krw),
                                 device_installment_remaining=krw(x.device_installment_left_krw),
                                 early_termination_charge=krw(x.early_termination_total_krw),
                                 escalated_to_agent=x.handed_off)
