"""The reference BSS's read operations (``/api/v1``): identity search, directory, subscribers, subscriptions,
usage, contracts, tariff offers, invoices, roaming bundles, network incidents and diagnostics."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import select

from sangdam.bss import calls
from sangdam.bss import schemas as s
from sangdam.bss import views as v
from sangdam.bss.errors import BssError
from sangdam.bss.schemas import ErrorEnvelope
from sangdam.domain.db import session_scope
from sangdam.domain.models import Customer
from sangdam.tools.inputs import normalise_phone

router = APIRouter(prefix="/api/v1")
ERRORS = {code: {"model": ErrorEnvelope} for code in (400, 401, 404, 409, 422)}
SUB = "/subscribers/{subscriberId}"
SUBSCRIPTION = SUB + "/subscriptions/{subscriptionId}"
Limit = Annotated[int | None, Query(description="Page size, 1-100 (default 20)")]
Cursor = Annotated[str | None, Query(description="`page.next` of the previous page")]
SubscriberId = Annotated[str, Path(alias="subscriberId", max_length=40)]
SubscriptionId = Annotated[str, Path(alias="subscriptionId", max_length=40)]
InvoiceId = Annotated[str, Path(alias="invoiceId", max_length=40)]


def _bss_value(table: dict[str, str], value: str | None, name: str) -> str | None:
    if value is None:
        return None
    for ours, theirs in table.items():
        if theirs == value:
            return ours
    raise BssError(422, "VALIDATION_FAILED", f"{name} must be one of {sorted(table.values())}", {"parameter": name})


# --- identity ------------------------------------------------------------------------------------------------
def _msisdn_spellings(digits: str) -> list[str]:
    mid = 3 if len(digits) == 10 else 4
    dashed = f"{digits[:3]}-{digits[3:3 + mid]}-{digits[3 + mid:]}"
    return [digits, dashed, dashed.replace("-", " "), f"+82{digits[1:]}", f"+82-{dashed[1:]}", f"+82 {dashed[1:]}"]


@router.get("/subscribers", operation_id="searchSubscribers", response_model=s.SubscriberMatchPage,
            responses=ERRORS, tags=["identity"])
def search_subscribers(request: Request, msisdn: Annotated[str, Query(description="Mobile number, any format")],
                       date_of_birth: Annotated[dt.date, Query(alias="dateOfBirth")], limit: Limit = None,
                       cursor: Cursor = None) -> dict:
    """Subscribers whose contact number is ``msisdn`` and who were born on ``dateOfBirth`` (identity check)."""
    try:
        digits = normalise_phone(msisdn)
    except ValueError as exc:
        raise BssError(422, "VALIDATION_FAILED", str(exc), {"parameter": "msisdn"}) from None
    with session_scope(calls.state_of(request).engine) as session:
        rows = session.scalars(select(Customer).where(Customer.phone.in_(_msisdn_spellings(digits)),
                                                      Customer.birth_date == date_of_birth).order_by(Customer.id))
        matches = [s.SubscriberMatch(subscriber_id=c.id, full_name=c.name) for c in rows]
    data, page = calls.page(matches, limit, cursor)
    return {"data": data, "page": page}


@router.get("/subscriber-directory", operation_id="getSubscriberDirectory", response_model=s.Directory,
            responses=ERRORS, tags=["identity"])
def subscriber_directory(request: Request, subscriber_ids: Annotated[str, Query(
        alias="subscriberIds", description="Comma-separated subscriber ids (at most 200)")]) -> dict:
    """Display names of the listed subscribers that exist."""
    ids = sorted({i.strip() for i in subscriber_ids.split(",") if i.strip()})
    if len(ids) > 200:
        raise BssError(422, "VALIDATION_FAILED", "at most 200 subscriberIds", {"parameter": "subscriberIds"})
    with session_scope(calls.state_of(request).engine) as session:
        rows = session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids)).order_by(Customer.id))
        return {"data": [s.DirectoryEntry(subscriber_id=i, display_name=n) for i, n in rows]}


@router.get(SUB, operation_id="getSubscriber", response_model=s.Subscriber, response_model_exclude_none=False,
            responses=ERRORS, tags=["subscribers"])
def get_subscriber(request: Request, subscriber_id: SubscriberId, expand: str | None = None) -> s.Subscriber:
    """One subscriber; ``expand=subscriptions`` embeds their subscriptions."""
    return v.subscriber(calls.read(request, "get_customer", subscriber_id, {}), expand == "subscriptions")


# --- subscriptions -------------------------------------------------------------------------------------------
@router.get(SUB + "/subscriptions", operation_id="listSubscriptions", response_model=s.SubscriptionPage,
            responses=ERRORS, tags=["subscriptions"])
def list_subscriptions(request: Request, subscriber_id: SubscriberId, limit: Limit = None,
                       cursor: Cursor = None) -> dict:
    lines = calls.read(request, "list_lines", subscriber_id, {}).lines
    data, page = calls.page([v.subscription_summary(line) for line in lines], limit, cursor)
    return {"data": data, "page": page}


@router.get(SUBSCRIPTION, operation_id="getSubscription", response_model=s.SubscriptionDetail, responses=ERRORS,
            tags=["subscriptions"])
def get_subscription(request: Request, subscriber_id: SubscriberId,
                     subscription_id: SubscriptionId) -> s.SubscriptionDetail:
    return v.subscription_detail(calls.read(request, "get_line", subscriber_id, {"line_id": subscription_id}))


@router.get(SUBSCRIPTION + "/usage-summary", operation_id="getUsageSummary", response_model=s.UsageSummary,
            responses=ERRORS, tags=["usage"])
def usage_summary(request: Request, subscriber_id: SubscriberId,
                  subscription_id: SubscriptionId) -> s.UsageSummary:
    """This billing cycle's data use against the allowance, and the last three full months."""
    return v.usage_summary(calls.read(request, "get_data_usage", subscriber_id, {"line_id": subscription_id}))


@router.get(SUBSCRIPTION + "/tariff-recommendations", operation_id="listTariffRecommendations",
            response_model=s.TariffRecommendations, responses=ERRORS, tags=["offers"])
def tariff_recommendations(request: Request, subscriber_id: SubscriberId,
                           subscription_id: SubscriptionId) -> s.TariffRecommendations:
    """Tariffs of the same technology that fit the last three full months' use, cheapest first."""
    return v.recommendations(calls.read(request, "recommend_plans", subscriber_id, {"line_id": subscription_id}))


@router.get(SUBSCRIPTION + "/contract-terms", operation_id="getContractTerms", response_model=s.ContractTerms,
            responses=ERRORS, tags=["subscriptions"])
def contract_terms(request: Request, subscriber_id: SubscriberId,
                   subscription_id: SubscriptionId) -> s.ContractTerms:
    """Commitment, discount, device instalment and the early-termination charge as of the business date."""
    return v.contract_terms(calls.read(request, "get_contract", subscriber_id, {"line_id": subscription_id}))


@router.get(SUBSCRIPTION + "/diagnostics", operation_id="runSubscriptionDiagnostics",
            response_model=s.DiagnosticsReport, responses=ERRORS, tags=["network"])
def diagnostics(request: Request, subscriber_id: SubscriberId,
                subscription_id: SubscriptionId) -> s.DiagnosticsReport:
    """Network-side state of a subscription, nearby incidents, overdue invoices and findings (worst first)."""
    return v.diagnostics(calls.read(request, "check_line_diagnostics", subscriber_id, {"line_id": subscription_id}))


# --- billing -------------------------------------------------------------------------------------------------
@router.get(SUB + "/invoices", operation_id="listInvoices", response_model=s.InvoicePage, responses=ERRORS,
            tags=["billing"])
def list_invoices(request: Request, subscriber_id: SubscriberId,
                  subscription_id: Annotated[str | None, Query(alias="subscriptionId")] = None,
                  state: Annotated[str | None, Query(description="OPEN | SETTLED | OVERDUE")] = None,
                  billing_months: Annotated[int, Query(alias="billingMonths", ge=1, le=24)] = 6,
                  limit: Limit = None, cursor: Cursor = None) -> dict:
    """Invoices of the most recent ``billingMonths`` billing periods, newest first; ``summary.overdueAmount`` is
    the subscriber's whole overdue balance."""
    args = {"line_id": subscription_id, "status": _bss_value(v.INVOICE_STATES, state, "state"),
            "months": billing_months}
    bills = calls.read(request, "get_bills", subscriber_id, {k: x for k, x in args.items() if x is not None})
    data, page = calls.page([v.invoice(b) for b in bills.bills], limit, cursor)
    return {"data": data, "page": page, "summary": {"overdueAmount": s.krw(bills.total_overdue_krw)}}


@router.get(SUB + "/invoices/{invoiceId}", operation_id="getInvoice", response_model=s.Invoice, responses=ERRORS,
            tags=["billing"])
def get_invoice(request: Request, subscriber_id: SubscriberId,
                invoice_id: InvoiceId) -> s.Invoice:
    return v.invoice(calls.read(request, "explain_bill", subscriber_id, {"bill_id": invoice_id}).bill)


@router.get(SUB + "/invoices/{invoiceId}/comparison", operation_id="compareInvoice",
            response_model=s.InvoiceComparison, responses=ERRORS, tags=["billing"])
def compare_invoice(request: Request, subscriber_id: SubscriberId,
                    invoice_id: InvoiceId) -> s.InvoiceComparison:
    """An invoice and how its charges differ from the same subscription's previous period."""
    return v.comparison(calls.read(request, "explain_bill", subscriber_id, {"bill_id": invoice_id}))


# --- catalogue and network -----------------------------------------------------------------------------------
@router.get("/tariffs", operation_id="listTariffs", response_model=s.TariffPage, responses=ERRORS,
            tags=["catalogue"])
def list_tariffs(request: Request, technology: Annotated[str | None, Query(description="5G | LTE")] = None,
                 limit: Limit = None, cursor: Cursor = None) -> dict:
    """The tariff catalogue, cheapest first."""
    if technology is not None and technology not in ("5G", "LTE"):
        raise BssError(422, "VALIDATION_FAILED", "technology must be 5G or LTE", {"parameter": "technology"})
    plans = calls.read(request, "list_plans", None, {"network": technology} if technology else {}).plans
    data, page = calls.page([v.tariff(p) for p in plans], limit, cursor)
    return {"data": data, "page": page}


@router.get("/roaming/bundles", operation_id="listRoamingBundles", response_model=s.RoamingBundlePage,
            responses=ERRORS, tags=["roaming"])
def list_roaming_bundles(request: Request, destination: Annotated[str | None, Query(
        description="ISO-3166 alpha-2 code")] = None, limit: Limit = None, cursor: Cursor = None) -> dict:
    """Roaming bundles, cheapest first; with ``destination`` only those valid there."""
    if destination is not None and not re.fullmatch(r"[A-Za-z]{2}", destination):
        raise BssError(422, "VALIDATION_FAILED", "destination must be an ISO-3166 alpha-2 code",
                       {"parameter": "destination"})
    found = calls.read(request, "list_roaming_passes", None, {"country": destination} if destination else {})
    data, page = calls.page([v.bundle(p) for p in found.passes], limit, cursor)
    return {"data": data, "page": page, "filter": {"destination": found.country}}


@router.get("/network/incidents", operation_id="listNetworkIncidents", response_model=s.NetworkIncidentPage,
            responses=ERRORS, tags=["network"])
def list_network_incidents(request: Request, area: Annotated[str | None, Query(max_length=80)] = None,
                           limit: Limit = None, cursor: Cursor = None) -> dict:
    """Ongoing network incidents, oldest first; with ``area`` only those there (e.g. ``서울 강남구``)."""
    found = calls.read(request, "get_outages", None, {"area": area} if area else {}).outages
    data, page = calls.page([v.incident(o) for o in found], limit, cursor)
    return {"data": data, "page": page}
