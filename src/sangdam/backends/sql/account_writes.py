"""Write tools on the account: payment, tickets, hand-off to a human, and cancellation requests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.domain.models import Line, Ticket
from sangdam.backends.sql import lookups
from sangdam.tools import messages
from sangdam.tools.base import ToolContext, ToolError
from sangdam.tools.inputs import BillArgs, CreateTicketArgs, LineArgs, TransferArgs
from sangdam.tools.results import CancellationResult, PaymentResult, TicketResult
from sangdam.backends.sql.views import termination_amounts

HANDOFF = "handoff"
CANCELLATION = "cancellation"


# --- pay_bill ------------------------------------------------------------------------------------------------
def plan_pay_bill(session: Session, ctx: ToolContext, args: BillArgs) -> dict[str, Any]:
    bill = lookups.owned_bill(session, ctx, args.bill_id)
    if bill.status == "paid":
        raise ToolError("bill_already_paid", f"bill {bill.id} ({bill.period}) is already paid",
                        {"bill_id": bill.id, "period": bill.period})
    still_overdue = [b for b in lookups.overdue_bills(session, bill.customer_id) if b.id != bill.id]
    resumable = []
    if not still_overdue:
        stmt = select(Line).where(
            Line.customer_id == bill.customer_id, Line.status == "suspended", Line.suspend_reason == "nonpayment"
        )
        resumable = [line.id for line in session.scalars(stmt.order_by(Line.id))]
    return {
        "bill_id": bill.id,
        "period": bill.period,
        "amount_krw": bill.amount,
        "was_overdue": bill.status == "overdue",
        "lines_to_resume": resumable,
        "remaining_overdue_krw": sum(b.amount for b in still_overdue),
    }


def apply_pay_bill(session: Session, ctx: ToolContext, args: BillArgs, effect: dict) -> PaymentResult:
    bill = lookups.owned_bill(session, ctx, args.bill_id)
    bill.status = "paid"
    for line_id in effect["lines_to_resume"]:
        line = session.get(Line, line_id)
        line.status = "active"
        line.suspend_reason = None
    return PaymentResult(
        bill_id=bill.id,
        period=bill.period,
        amount_krw=bill.amount,
        status="paid",
        lines_resumed=effect["lines_to_resume"],
        remaining_overdue_krw=effect["remaining_overdue_krw"],
    )


# --- tickets -------------------------------------------------------------------------------------------------
def _add_ticket(session: Session, ctx: ToolContext, category: str, summary: str, line_id: str | None) -> Ticket:
    ticket = Ticket(
        id=lookups.new_ticket_id(),
        customer_id=ctx.customer_id,
        line_id=line_id,
        category=category,
        status="open",
        summary=summary,
        created_at=ctx.now(),
    )
    session.add(ticket)
    return ticket


def plan_create_ticket(session: Session, ctx: ToolContext, args: CreateTicketArgs) -> dict[str, Any]:
    line = lookups.owned_line(session, ctx, args.line_id) if args.line_id else None
    return {
        "category": args.category,
        "category_ko": messages.text("ticket_categories", args.category),
        "line_id": line.id if line else None,
        "summary": args.summary,
    }


def apply_create_ticket(session: Session, ctx: ToolContext, args: CreateTicketArgs, effect: dict) -> TicketResult:
    ticket = _add_ticket(session, ctx, args.category, args.summary, effect["line_id"])
    return TicketResult(ticket_id=ticket.id, category=ticket.category, status="open", line_id=ticket.line_id,
                        handed_off=False)


def plan_transfer(session: Session, ctx: ToolContext, args: TransferArgs) -> dict[str, Any]:
    return {"category": HANDOFF, "summary": args.summary, "customer_id": ctx.customer_id}


def apply_transfer(session: Session, ctx: ToolContext, args: TransferArgs, effect: dict) -> TicketResult:
    ticket = _add_ticket(session, ctx, HANDOFF, args.summary, None)
    return TicketResult(ticket_id=ticket.id, category=HANDOFF, status="open", line_id=None, handed_off=True)


# --- request_cancellation ------------------------------------------------------------------------------------
def plan_request_cancellation(session: Session, ctx: ToolContext, args: LineArgs) -> dict[str, Any]:
    line = lookups.owned_line(session, ctx, args.line_id)
    lookups.require_status(line, ("active", "suspended", "lost"), "request_cancellation")
    existing = session.scalars(
        select(Ticket).where(Ticket.line_id == line.id, Ticket.category == CANCELLATION, Ticket.status != "closed")
    ).first()
    if existing is not None:
        raise ToolError("cancellation_already_requested",
                        f"line {line.id} already has open cancellation ticket {existing.id}",
                        {"ticket_id": existing.id})
    payback, installment = termination_amounts(line, ctx.today)
    return {
        "line_id": line.id,
        "line_number": line.number,
        "discount_payback_krw": payback,
        "device_installment_left_krw": installment,
        "early_termination_total_krw": payback + installment,
        "as_of": ctx.today,
    }


def apply_request_cancellation(session: Session, ctx: ToolContext, args: LineArgs, effect: dict) -> CancellationResult:
    # The line stays open: a human agent completes (or saves) the cancellation.
    ticket = _add_ticket(session, ctx, CANCELLATION, messages.text("tickets", "cancellation", effect), args.line_id)
    return CancellationResult(
        ticket_id=ticket.id,
        line_id=args.line_id,
        discount_payback_krw=effect["discount_payback_krw"],
        device_installment_left_krw=effect["device_installment_left_krw"],
        early_termination_total_krw=effect["early_termination_total_krw"],
        handed_off=True,
    )
