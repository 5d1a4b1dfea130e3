"""The operator's systems as Sangdam sees them: the ``Backend`` every adapter implements, and its faults.

Sangdam keeps its own records (conversations, traces, audit, idempotency, keys) in its own store; the operator's
records (customers, lines, plans, bills, usage, passes, tickets, outages) are reached only through a backend.
Two adapters ship: ``sql`` (the demo domain tables, :mod:`sangdam.backends.sql`) and ``rest`` (an operator REST API
described by an OpenAPI document plus a mapping file, :mod:`sangdam.backends.rest`).

The core is deliberately small and keyed by the canonical tool names, so one mapping entry serves one operation:

- ``read(tool, ctx, args)``: a read tool's result, shaped like the tool's ``output_model`` (a model or its JSON);
- ``preview(tool, ctx, args)``: every check of a write and its computed effect (a JSON object), nothing written;
- ``commit(tool, ctx, args, idempotency_key)``: perform the write; the same key twice performs it once (the
  backend answers the retry with the first result), so a retried turn never charges twice even when the backend
  is remote.

Typed, per-system views of the same calls are in :mod:`sangdam.backends.ports`. Refusals are
:class:`~sangdam.tools.base.ToolError` (a code the Korean message catalogue knows, or ``backend_refused`` with a
Korean message); a backend that cannot be reached, times out or answers nonsense raises
:class:`BackendUnavailable`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

from sangdam.tools.base import ToolError

if TYPE_CHECKING:
    import datetime as dt

    from sangdam.tools.base import ToolContext


class BackendUnavailable(ToolError):
    """The operator's system did not answer usably (timeout, connection refused, 5xx, malformed response, circuit
    open). Nothing is known to have been written; the customer is told so in Korean and offered a human agent."""

    def __init__(self, message_en: str, details: dict[str, Any] | None = None) -> None:
        super().__init__("backend_unavailable", message_en, details)


@runtime_checkable
class Backend(Protocol):
    """What every adapter provides (``name`` is ``"sql"``, ``"rest"``, …)."""

    name: str

    def read(self, tool: str, ctx: ToolContext, args: BaseModel) -> BaseModel | dict[str, Any]:
        """Result of the read tool ``tool`` for ``ctx.customer_id`` (ownership enforced by the backend)."""
        ...

    def preview(self, tool: str, ctx: ToolContext, args: BaseModel) -> dict[str, Any]:
        """Every check of the write ``tool`` and its effect; nothing is written."""
        ...

    def commit(self, tool: str, ctx: ToolContext, args: BaseModel, idempotency_key: str | None) -> BaseModel | dict[str, Any]:
        """Perform the write ``tool``; a repeated ``idempotency_key`` returns the first result, writing nothing."""
        ...

    def find_customer(self, phone: str, birth_date: dt.date) -> tuple[str, str] | None:
        """``(customer_id, name)`` of the customer with this mobile number (digits) and birth date, else None."""
        ...

    def customer_names(self, customer_ids: set[str]) -> dict[str, str]:
        """Display names of those of ``customer_ids`` that exist (absent ids are left out)."""
        ...

    def plan_names(self) -> list[str]:
        """Names of every plan in the catalogue (the responder and verifier ground plan names on them)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
