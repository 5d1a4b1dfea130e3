"""The reference BSS's errors: one envelope, its own codes, fitting HTTP statuses.

``{"error": {"code": "BILLING_OVERDUE", "message": "...", "details": {...}}}``. A refusal of Sangdam's tool layer
(which the BSS delegates its rules to) is re-told here with the BSS's own code and detail names; the ``rest``
adapter's mapping file translates them back (docs/backends.md lists every code).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sangdam.bss.schemas import krw, mb
from sangdam.bss.views import SUBSCRIPTION_STATES, code
from sangdam.tools.base import ToolError


class BssError(Exception):
    """A refusal answered with the error envelope."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.details = dict(details or {})
        self.headers = headers

    def envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


Details = dict[str, Any]
_NOT_FOUND = {"line": ("SUBSCRIPTION_NOT_FOUND", "subscriptionId"), "bill": ("INVOICE_NOT_FOUND", "invoiceId"),
              "plan": ("TARIFF_NOT_FOUND", "tariffId"), "roaming_pass": ("ROAMING_BUNDLE_NOT_FOUND", "bundleId"),
              "customer": ("SUBSCRIBER_NOT_FOUND", "subscriberId")}


def _state(d: Details) -> Details:
    return {"subscriptionId": d.get("line_id"), "state": code(SUBSCRIPTION_STATES, d.get("status"))}


# Sangdam tool error code → (HTTP status, BSS code, details in BSS terms)
_TRANSLATIONS: dict[str, tuple[int, str, Callable[[Details], Details]]] = {
    "invalid_args": (422, "VALIDATION_FAILED", lambda d: {"errors": d.get("errors", [])}),
    "line_not_active": (409, "SUBSCRIPTION_STATE_CONFLICT", _state),
    "same_plan": (409, "TARIFF_UNCHANGED", lambda d: {"tariffName": d.get("plan_name")}),
    "plan_change_already_pending": (409, "TARIFF_CHANGE_ALREADY_SCHEDULED",
                                    lambda d: {"tariffName": d.get("plan_name"),
                                               "effectiveDate": d["effective_date"].isoformat()}),
    "unlimited_plan": (409, "TOPUP_NOT_APPLICABLE", lambda d: {"tariffName": d.get("plan_name")}),
    "refill_amount_out_of_range": (422, "TOPUP_VOLUME_OUT_OF_RANGE",
                                   lambda d: {"minMb": mb(d["min_gb"]), "maxMb": mb(d["max_gb"]),
                                              "requestedMb": mb(d["requested_gb"])}),
    "refill_limit_exceeded": (409, "TOPUP_MONTHLY_CAP_REACHED",
                              lambda d: {"availableMb": mb(d["available_gb"]), "monthlyCapMb": mb(d["month_max_gb"]),
                                         "requestedMb": mb(d["requested_gb"]), "toppedUpMb": mb(d["refilled_gb"])}),
    "overdue_bill": (409, "BILLING_OVERDUE",
                     lambda d: {"overdueInvoiceCount": d["overdue_count"],
                                "overdueAmount": krw(d["overdue_total_krw"]).model_dump(),
                                "overdueInvoiceIds": d["bill_ids"]}),
    "roaming_already_enabled": (409, "ROAMING_ALREADY_ACTIVE", lambda d: {"subscriptionId": d.get("line_id")}),
    "roaming_pass_already_active": (409, "ROAMING_BUNDLE_ALREADY_ACTIVE", lambda d: {"bundleName": d.get("pass_name")}),
    "roaming_not_enabled": (409, "ROAMING_NOT_ACTIVE", lambda d: {"subscriptionId": d.get("line_id")}),
    "line_already_suspended": (409, "SUBSCRIPTION_ALREADY_SUSPENDED", _state),
    "line_not_suspended": (409, "SUBSCRIPTION_NOT_SUSPENDED", _state),
    "bill_already_paid": (409, "INVOICE_ALREADY_SETTLED",
                          lambda d: {"invoiceId": d.get("bill_id"), "billingPeriod": d.get("period")}),
    "cancellation_already_requested": (409, "TERMINATION_ALREADY_REQUESTED", lambda d: {"ticketId": d.get("ticket_id")}),
    "insufficient_usage_data": (422, "INSUFFICIENT_USAGE_HISTORY",
                                lambda d: {"subscriptionId": d.get("line_id"), "requiredMonths": d.get("months")}),
    "unknown_country": (422, "UNKNOWN_DESTINATION", lambda d: {"destination": d.get("country")}),
    "idempotency_conflict": (409, "IDEMPOTENCY_KEY_REUSED", lambda d: {"idempotencyKey": d.get("idempotency_key")}),
}



def from_tool_error(exc: ToolError, line_status: Callable[[str], str | None] | None = None) -> BssError:
    """The BSS's answer to a refusal of the tool layer. ``line_status`` reads a line's status for the refusals
    whose tool details name the line but not its state (the BSS always reports the state)."""
    if exc.code == "not_found":
        bss_code, key = _NOT_FOUND.get(exc.details.get("kind", ""), ("RESOURCE_NOT_FOUND", "id"))
        return BssError(404, bss_code, exc.message_en, {key: exc.details.get("id")})
    details = dict(exc.details)
    if "line_id" in details and "status" not in details and line_status is not None:
        details["status"] = line_status(details["line_id"])
    status, bss_code, convert = _TRANSLATIONS.get(exc.code, (422, "REQUEST_REJECTED", lambda d: {"reason": exc.code}))
    return BssError(status, bss_code, exc.message_en, convert(details))
