"""The reference BSS's write operations: every one a ``POST`` with an ``Idempotency-Key`` header and a dry-run
form (``?dryRun=true`` → ``200`` quote, nothing written; otherwise ``201`` order, the same key answering the
first order again)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select

from sangdam.bss import calls
from sangdam.bss import order_models as om
from sangdam.bss import views as v
from sangdam.bss.errors import BssError
from sangdam.bss.schemas import ErrorEnvelope
from sangdam.domain.db import session_scope
from sangdam.domain.models import Ticket
from sangdam.tools.execution import executed_keys

router = APIRouter(prefix="/api/v1")
SUB = "/subscribers/{subscriberId}"
SUBSCRIPTION = SUB + "/subscriptions/{subscriptionId}"
MAX_OPEN_TICKETS = 5  # the BSS's own rule (Sangdam's tools know nothing of it): TOO_MANY_OPEN_TICKETS

SubscriberId = Annotated[str, Path(alias="subscriberId", max_length=40)]
SubscriptionId = Annotated[str, Path(alias="subscriptionId", max_length=40)]
InvoiceId = Annotated[str, Path(alias="invoiceId", max_length=40)]
DryRun = Annotated[bool, Query(alias="dryRun", description="true: run every check and return the quote; "
                                                           "nothing is written")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=120, description=(
    "Required unless dryRun: the same key again answers the first order and writes nothing"))]


def _responses(quote: type[BaseModel], outcome: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    errors = {code: {"model": ErrorEnvelope} for code in (400, 401, 404, 409, 422)}
    return {200: {"model": om.Quote[quote], "description": "Dry run: the quote, nothing written"},
            201: {"model": om.Order[outcome], "description": "Order completed (or replayed for the same key)"},
            **errors}


def _order(request: Request, tool: str, subscriber_id: str | None, args: dict[str, Any], dry_run: bool,
           key: str | None, quote: Callable[[dict[str, Any]], BaseModel], outcome: Callable[[Any], BaseModel],
           check: Callable[[], None] | None = None) -> JSONResponse:
    state = calls.state_of(request)
    if subscriber_id is not None:
        calls.require_subscriber(state, subscriber_id)
    replay = bool(key) and not dry_run and bool(executed_keys(state.engine, {key}))
    if check is not None and not replay:  # a replay answers the first order even if the rule would refuse now
        check()
    if dry_run:
        effect = calls.preview(state, tool, subscriber_id, args).effect
        return JSONResponse({"dryRun": True, "quote": quote(effect).model_dump(mode="json")}, status_code=200)
    if not key:
        raise BssError(400, "IDEMPOTENCY_KEY_REQUIRED", "writes need an Idempotency-Key header (or dryRun=true)")
    result = calls.commit(state, tool, subscriber_id, args, key)
    body = {"orderId": calls.order_id(key), "state": "COMPLETED", "outcome": outcome(result).model_dump(mode="json")}
    return JSONResponse(body, status_code=201)


@router.post(SUBSCRIPTION + "/tariff-changes", operation_id="orderTariffChange", status_code=201,
             responses=_responses(om.TariffChangeQuote, om.TariffChangeOutcome), tags=["orders"])
def order_tariff_change(request: Request, subscriber_id: SubscriberId, subscription_id: SubscriptionId,
                        body: om.TariffChangeRequest, dry_run: DryRun = False,
                        idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Move a subscription to another tariff from the next bill cycle or immediately (prorated)."""
    args = {"line_id": subscription_id, "plan_id": body.target_tariff_id,
            "effective": v.sangdam_value(v.TIMINGS, body.timing)}
    return _order(request, "change_plan", subscriber_id, args, dry_run, idempotency_key, v.tariff_change_quote,
                  v.tariff_change_outcome)


@router.post(SUBSCRIPTION + "/data-top-ups", operation_id="orderDataTopUp", status_code=201,
             responses=_responses(om.TopUpQuote, om.TopUpOutcome), tags=["orders"])
def order_data_top_up(request: Request, subscriber_id: SubscriberId, subscription_id: SubscriptionId,
                      body: om.TopUpRequest, dry_run: DryRun = False,
                      idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Add data for this month, charged to the current invoice (whole GB, 1-5 GB per order, 10 GB per month)."""
    if body.volume_mb % 1024:
        raise BssError(422, "VALIDATION_FAILED", "volumeMb must be a whole number of GB (multiple of 1024)",
                       {"parameter": "volumeMb"})
    args = {"line_id": subscription_id, "gb": body.volume_mb // 1024}
    return _order(request, "refill_data", subscriber_id, args, dry_run, idempotency_key, v.top_up_quote,
                  v.top_up_outcome)


@router.post(SUBSCRIPTION + "/roaming/activation", operation_id="activateRoaming", status_code=201,
             responses=_responses(om.RoamingActivationQuote, om.RoamingOutcome), tags=["orders"])
def activate_roaming(request: Request, subscriber_id: SubscriberId, subscription_id: SubscriptionId,
                     body: om.RoamingActivationRequest, dry_run: DryRun = False,
                     idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Turn roaming on, optionally buying a bundle (charged to the current invoice)."""
    args = {"line_id": subscription_id, "pass_id": body.bundle_id}
    return _order(request, "enable_roaming", subscriber_id, args, dry_run, idempotency_key,
                  v.roaming_activation_quote, v.roaming_outcome)


@router.post(SUBSCRIPTION + "/roaming/deactivation", operation_id="deactivateRoaming", status_code=201,
             responses=_responses(om.RoamingDeactivationQuote, om.RoamingOutcome), tags=["orders"])
def deactivate_roaming(request: Request, subscriber_id: SubscriberId, subscription_id: SubscriptionId,
                       dry_run: DryRun = False, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Turn roaming off (an active bundle ends without refund)."""
    return _order(request, "disable_roaming", subscriber_id, {"line_id": subscription_id}, dry_run, idempotency_key,
                  v.roaming_deactivation_quote, v.roaming_outcome)


@router.post(SUBSCRIPTION + "/suspension", operation_id="suspendSubscription", status_code=201,
             responses=_responses(om.SuspensionQuote, om.StateChangeOutcome), tags=["orders"])
def suspend_subscription(request: Request, subscriber_id: SubscriberId, subscription_id: SubscriptionId,
                         body: om.SuspensionRequest, dry_run: DryRun = False,
                         idempotency_key: IdempotencyKey = None) -> JSONResponse:
    args = {"line_id": subscription_id, "reason": v.sangdam_value(v.SUSPENSION_REASONS, body.reason_code)}
    return _order(request, "suspend_line", subscriber_id, args, dry_run, idempotency_key, v.suspension_quote,
                  v.state_change_outcome)


@router.post(SUBSCRIPTION + "/reactivation", operation_id="reactivateSubscription", status_code=201,
             responses=_responses(om.ReactivationQuote, om.StateChangeOutcome), tags=["orders"])
def reactivate_subscription(request: Request, subscriber_id: SubscriberId, subscription_id: SubscriptionId,
                            dry_run: DryRun = False, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Lift a suspension; refused while the subscriber has an overdue invoice."""
    return _order(request, "resume_line", subscriber_id, {"line_id": subscription_id}, dry_run, idempotency_key,
                  v.reactivation_quote, v.state_change_outcome)


@router.post(SUB + "/invoices/{invoiceId}/payments", operation_id="payInvoice", status_code=201,
             responses=_responses(om.PaymentQuote, om.PaymentOutcome), tags=["orders"])
def pay_invoice(request: Request, subscriber_id: SubscriberId, invoice_id: InvoiceId, dry_run: DryRun = False,
                idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Pay an invoice in full; settling the last overdue one reactivates subscriptions barred for non-payment."""
    return _order(request, "pay_bill", subscriber_id, {"bill_id": invoice_id}, dry_run, idempotency_key,
                  v.payment_quote, v.payment_outcome)


@router.post(SUB + "/trouble-tickets", operation_id="openTroubleTicket", status_code=201,
             responses=_responses(om.TicketQuote, om.TicketOutcome), tags=["orders"])
def open_trouble_ticket(request: Request, subscriber_id: SubscriberId, body: om.TroubleTicketRequest,
                        dry_run: DryRun = False, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Open a ticket for the operator's staff. Refused (``TOO_MANY_OPEN_TICKETS``) while the subscriber already
    has five open ones."""
    args = {"category": v.sangdam_value(v.TICKET_CATEGORIES, body.category), "summary": body.description,
            "line_id": body.subscription_id}

    def check() -> None:
        with session_scope(calls.state_of(request).engine) as session:
            open_count = session.scalar(select(func.count()).select_from(Ticket).where(
                Ticket.customer_id == subscriber_id, Ticket.status != "closed"))
        if open_count >= MAX_OPEN_TICKETS:
            raise BssError(409, "TOO_MANY_OPEN_TICKETS", f"{open_count} tickets are already open",
                           {"openTickets": open_count, "limit": MAX_OPEN_TICKETS})

    return _order(request, "create_ticket", subscriber_id, args, dry_run, idempotency_key, v.ticket_quote,
                  v.ticket_outcome, check)


@router.post("/agent-handoffs", operation_id="requestAgentHandoff", status_code=201,
             responses=_responses(om.HandoffQuote, om.TicketOutcome), tags=["orders"])
def request_agent_handoff(request: Request, body: om.HandoffRequest, dry_run: DryRun = False,
                          idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Queue the conversation for a human agent (opens an ``AGENT_HANDOFF`` ticket)."""
    return _order(request, "transfer_to_human", body.subscriber_id, {"summary": body.summary}, dry_run,
                  idempotency_key, v.handoff_quote, v.ticket_outcome)


@router.post(SUBSCRIPTION + "/termination-requests", operation_id="requestTermination", status_code=201,
             responses=_responses(om.TerminationQuote, om.TerminationOutcome), tags=["orders"])
def request_termination(request: Request, subscriber_id: SubscriberId, subscription_id: SubscriptionId,
                        dry_run: DryRun = False, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Record a termination request with the early-termination charge; a human agent completes it."""
    return _order(request, "request_cancellation", subscriber_id, {"line_id": subscription_id}, dry_run,
                  idempotency_key, v.termination_quote, v.termination_outcome)
