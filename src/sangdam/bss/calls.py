"""How a BSS route runs Sangdam's tool layer on the BSS's own database, and pages collections."""

from __future__ import annotations

import base64
import hashlib
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy import select

from sangdam.backends.sql import SqlBackend
from sangdam.bss.errors import BssError
from sangdam.bss.state import BssState
from sangdam.domain.db import session_scope
from sangdam.domain.models import Customer
from sangdam.tools.base import Proposal, ToolContext
from sangdam.tools.registry import get_tool

T = TypeVar("T")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def state_of(request: Request) -> BssState:
    """The database and business date this request works on."""
    return request.app.state.runtime.state


def context(state: BssState, subscriber_id: str | None, idempotency_key: str | None = None) -> ToolContext:
    """The tool call context: the BSS's own database is both the store and (through the ``sql`` adapter, named
    explicitly so a ``backend.yaml`` in the same home never points the BSS at itself) the operator's records."""
    return ToolContext(engine=state.engine, today=state.today, actor="bss", customer_id=subscriber_id,
                       idempotency_key=idempotency_key, backend=SqlBackend(state.engine))


def require_subscriber(state: BssState, subscriber_id: str) -> None:
    """404 ``SUBSCRIBER_NOT_FOUND`` unless the subscriber exists."""
    with session_scope(state.engine) as session:
        if session.scalar(select(Customer.id).where(Customer.id == subscriber_id)) is None:
            raise BssError(404, "SUBSCRIBER_NOT_FOUND", f"no subscriber {subscriber_id!r}",
                           {"subscriberId": subscriber_id})


def read(request: Request, tool: str, subscriber_id: str | None, args: dict[str, Any]) -> Any:
    """Result of Sangdam's read tool ``tool`` for ``subscriber_id`` on the BSS's database."""
    state = state_of(request)
    if subscriber_id is not None:
        require_subscriber(state, subscriber_id)
    return get_tool(tool).run(context(state, subscriber_id), args)


def preview(state: BssState, tool: str, subscriber_id: str | None, args: dict[str, Any]) -> Proposal:
    return get_tool(tool).preview(context(state, subscriber_id), args)


def commit(state: BssState, tool: str, subscriber_id: str | None, args: dict[str, Any], key: str) -> BaseModel:
    return get_tool(tool).run(context(state, subscriber_id, key), args)


def order_id(idempotency_key: str) -> str:
    """The order's id, derived from its key: a replay names the same order."""
    return "ORD-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16].upper()


# --- pagination ----------------------------------------------------------------------------------------------
def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("o:"):
            raise ValueError(text)
        offset = int(text[2:])
        if offset < 0:
            raise ValueError(text)
        return offset
    except ValueError:
        raise BssError(400, "INVALID_CURSOR", "cursor is not one this API issued", {"cursor": cursor}) from None


def page(items: list[T], limit: int | None, cursor: str | None) -> tuple[list[T], dict[str, str | None]]:
    """One page of ``items`` and its ``page`` object (``next``: cursor of the following page, or null)."""
    size = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= size <= MAX_LIMIT:
        raise BssError(400, "INVALID_LIMIT", f"limit must be 1-{MAX_LIMIT}", {"limit": limit})
    start = _decode(cursor) if cursor else 0
    chunk = items[start:start + size]
    nxt = _encode(start + size) if start + size < len(items) else None
    return chunk, {"next": nxt}
