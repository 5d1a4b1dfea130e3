"""The contact centre behind the HTTP routes: one orchestrator per app, access checks, per-conversation locks.

The orchestrator is synchronous: routes run it in the thread pool. Two turns of the *same* conversation must not
interleave (state is loaded, changed and saved per turn), so each conversation has a lock; different
conversations run in parallel.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from sqlalchemy import Engine

from sangdam.contact_center import handoff
from sangdam.contact_center.summary import ConversationSummary, summarize
from sangdam.domain.auth_models import ConversationOwner
from sangdam.domain.db import session_scope
from sangdam.orchestrator.engine import InvalidMessage
from sangdam.orchestrator.store import ConversationNotFound
from sangdam.orchestrator.types import TurnResult
from sangdam.server.errors import ApiError
from sangdam.server.keys import Principal

_LOCK_WAIT_S = 30.0


class ContactCentre:
    """Orchestrator + access rules shared by the API, the OpenAI-compatible endpoint and the console."""

    def __init__(self, engine: Engine, *, today: dt.date | None = None, llm: Any = None, orchestrator: Any = None) -> None:
        from sangdam.orchestrator import Orchestrator

        self.engine = engine
        self.orch = orchestrator or Orchestrator(engine, today=today, llm=llm)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def now(self) -> dt.datetime:
        return self.orch._now()  # same clock as the orchestrator (today may be pinned)

    # -- conversations ------------------------------------------------------------------------------------
    def open(self, who: Principal, customer_id: str | None, channel: str) -> str:
        """Start a conversation owned by ``who``'s key. A bound key fixes the customer; no one else may set it."""
        if who.customer_id is not None:
            if customer_id not in (None, who.customer_id):
                raise ApiError(403, "forbidden", "this key is bound to another customer")
            customer_id = who.customer_id
        if customer_id is not None and not self._customer_exists(customer_id):
            raise ApiError(422, "invalid_request", f"unknown customer_id {customer_id!r}")
        conv_id = self.orch.start_conversation(customer_id=customer_id, channel=channel)
        with session_scope(self.engine) as s:
            s.add(ConversationOwner(conversation_id=conv_id, api_key_id=who.key_id))
        return conv_id

    def check_access(self, who: Principal, conv_id: str) -> dict[str, Any]:
        """The conversation row if ``who`` may see it: staff see all, channel keys only their own (else 404)."""
        try:
            row = handoff.conversation_row(self.engine, conv_id)
        except ConversationNotFound:
            raise ApiError(404, "not_found", f"no conversation {conv_id!r}") from None
        if who.is_staff:
            return row
        with session_scope(self.engine) as s:
            owner = s.get(ConversationOwner, conv_id)
            owned = owner is not None and owner.api_key_id == who.key_id
        bound_ok = who.customer_id is None or row["customer_id"] == who.customer_id
        if not (owned and bound_ok):  # 404, not 403: do not reveal that another customer's conversation exists
            raise ApiError(404, "not_found", f"no conversation {conv_id!r}")
        return row

    def turn(self, conv_id: str, text: str) -> TurnResult:
        """One customer message through the orchestrator (serialised per conversation)."""
        lock = self._lock(conv_id)
        if not lock.acquire(timeout=_LOCK_WAIT_S):
            raise ApiError(409, "busy", "a previous message of this conversation is still being processed")
        try:
            row = handoff.conversation_row(self.engine, conv_id)
            if row["mode"] == "closed":
                raise ApiError(409, "conversation_closed", "conversation is closed")
            return self.orch.handle(conv_id, text)
        except InvalidMessage as exc:
            status = 413 if exc.code == "message_too_long" else 422
            raise ApiError(status, exc.code, exc.message_en, exc.message_ko) from None
        except ConversationNotFound:
            raise ApiError(404, "not_found", f"no conversation {conv_id!r}") from None
        finally:
            lock.release()

    def view(self, conv_id: str, after: int | None = None) -> dict[str, Any]:
        """Masked transcript and state of a conversation (``after``: only messages with a larger index)."""
        row = handoff.conversation_row(self.engine, conv_id)
        messages = self.orch.store.transcript(conv_id)
        if after is not None:
            messages = [m for m in messages if m["idx"] > after]
        state = row["state"]
        return {
            "id": conv_id, "channel": row["channel"], "mode": row["mode"], "customer_id": row["customer_id"],
            "verified": row["verified_customer_id"] is not None,
            "pending_action": state.get("pending"), "handed_off": bool(state.get("handed_off")),
            "turns": state.get("turn_index", 0), "messages": messages,
            "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat(),
        }

    def summary(self, conv_id: str) -> ConversationSummary:
        return summarize(self.engine, conv_id)

    # -- helpers ------------------------------------------------------------------------------------------
    def _lock(self, conv_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(conv_id, threading.Lock())

    def _customer_exists(self, customer_id: str) -> bool:
        from sangdam.domain.models import Customer

        with session_scope(self.engine) as s:
            return s.get(Customer, customer_id) is not None
