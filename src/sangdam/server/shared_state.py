"""Server state shared by every worker process through the database (several ``sangdam serve`` workers).

- :class:`SentMessages` — the idempotent-send memory. The answer to a send carrying an ``Idempotency-Key`` is stored
  in the *same transaction* as its turn (a hook of ``ConversationStore.save_turn``), so whatever dies when — a worker
  killed mid-turn, a connection cut after the turn was saved — a retry with the same key on any worker finds the
  answer exactly when the turn was stored: the message is stored once and answered once, in order.
- :class:`SharedRateLimiter` — the rate limiter's token buckets in PostgreSQL (one row per subject, one atomic
  upsert per request), so N workers allow the configured rate in total, not N times it. Same interface as the
  in-process ``RateLimiter`` (``allow(subject, per_minute)``); a single SQLite process keeps that one.

Redis would serve the same two roles; on one PostgreSQL database these tables need nothing else to run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, delete, text
from sqlalchemy.orm import Session

from sangdam.domain.db import session_scope
from sangdam.domain.shared_state_models import SentMessage
from sangdam.orchestrator.store import SavedTurn

SENT_KEPT = dt.timedelta(days=1)  # a retry comes within seconds; a day covers any client's retry policy
PRUNE_EVERY_S = 300.0


class SentMessages:
    """Answers to sends with an idempotency key, stored with their turn (see the module docstring).

    Use: ``lookup`` under the conversation's turn lock; if there is no answer, run the turn inside
    ``recording(conv, key)`` — the hook ``on_saved_turn`` (registered on the orchestrator's store) then stores the
    answer in the turn's own transaction.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._current = threading.local()  # the send this thread is processing: (conversation id, key)
        self._next_prune = 0.0

    def lookup(self, conversation_id: str, key: str | None) -> dict[str, Any] | None:
        """The stored answer of the send ``key`` in the conversation, or None (never answered)."""
        if not key:
            return None
        with session_scope(self.engine) as s:
            row = s.get(SentMessage, (conversation_id, key))
            return dict(row.delivery) if row is not None else None

    @contextmanager
    def recording(self, conversation_id: str, key: str | None) -> Iterator[None]:
        """While inside, the turn this thread saves for ``conversation_id`` records its answer under ``key``."""
        self._current.send = (conversation_id, key) if key else None
        try:
            yield
        finally:
            self._current.send = None
        self._prune_now_and_then()

    def on_saved_turn(self, session: Session, saved: SavedTurn) -> None:
        """Store hook: add the answer of the send being processed, in the turn's transaction."""
        send = getattr(self._current, "send", None)
        if send is None or send[0] != saved.conversation_id:
            return
        session.add(SentMessage(conversation_id=saved.conversation_id, idempotency_key=send[1],
                                delivery=delivery_of(saved), at=dt.datetime.now()))
        self._current.send = None  # one turn per send

    def _prune_now_and_then(self) -> None:
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY_S
        with session_scope(self.engine) as s:
            s.execute(delete(SentMessage).where(SentMessage.at < dt.datetime.now() - SENT_KEPT))


def delivery_of(saved: SavedTurn) -> dict[str, Any]:
    """The API answer of a stored turn: reply, where its messages are, and the state after it."""
    customer_idx = next((idx for idx, role, _ in saved.messages if role == "customer"), None)
    reply = next(((idx, text_) for idx, role, text_ in saved.messages if role == "bot"), None)
    trace = saved.trace or {}
    state = saved.state
    return {
        "conversation_id": saved.conversation_id, "turn_index": state.turn_index,
        "reply": reply[1] if reply else "", "intents": list(trace.get("intents") or []),
        "trace_id": saved.trace_id or "",
        "pending_action": state.pending.model_dump(mode="json") if state.pending else None,
        "options": list(state.awaiting.options) if state.awaiting else [],
        "handed_off": state.handed_off, "verified_customer_id": state.verified_customer_id,
        "latency_ms": float((trace.get("latency_ms") or {}).get("total", 0.0)),
        "mode": saved.mode, "customer_idx": customer_idx, "reply_idx": reply[0] if reply else None,
    }


# -- rate limits ------------------------------------------------------------------------------------------------
_NOW = "extract(epoch from clock_timestamp())"
_REFILLED = f"least(:rate, b.tokens + ({_NOW} - b.at_s) * :rate / 60.0)"
_TAKE = text(f"""
INSERT INTO rate_buckets AS b (subject, tokens, at_s, allowed)
VALUES (:subject, :rate - 1, {_NOW}, true)
ON CONFLICT (subject) DO UPDATE SET
    tokens = CASE WHEN {_REFILLED} >= 1 THEN {_REFILLED} - 1 ELSE {_REFILLED} END,
    allowed = {_REFILLED} >= 1,
    at_s = {_NOW}
RETURNING allowed
""")
BUCKET_IDLE_S = 120.0  # an idle bucket is full again after a minute: dropping it after two loses nothing


class SharedRateLimiter:
    """Token buckets by subject in PostgreSQL: ``per_minute`` requests a minute on average per subject, bursts up to
    the same number, counted across every worker (one upsert per request, the database's clock)."""

    def __init__(self, engine: Engine, per_minute: int) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("SharedRateLimiter needs PostgreSQL (one SQLite process keeps its buckets in memory)")
        self.engine = engine
        self.per_minute = per_minute
        self._next_prune = 0.0

    def allow(self, subject: str, per_minute: int | None = None) -> bool:
        """Take one token from ``subject``'s bucket; False when it is empty (the caller answers 429)."""
        rate = per_minute or self.per_minute
        if rate <= 0:
            return True
        with self.engine.begin() as conn:
            allowed = bool(conn.execute(_TAKE, {"subject": bucket_name(subject), "rate": float(rate)}).scalar_one())
        self._prune_now_and_then()
        return allowed

    def _prune_now_and_then(self) -> None:
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + BUCKET_IDLE_S
        with self.engine.begin() as conn:
            conn.execute(text(f"DELETE FROM rate_buckets WHERE at_s < {_NOW} - :idle"), {"idle": BUCKET_IDLE_S})


def bucket_name(subject: str) -> str:
    """The row key of a subject: itself when short, else a digest (a conversation id in a path can be any length)."""
    if len(subject) <= 120:
        return subject
    return "sha256:" + hashlib.sha256(subject.encode()).hexdigest()


def rate_limiter_for(engine: Engine, per_minute: int) -> Any:
    """The rate limiter of a server on ``engine``: buckets in PostgreSQL (counted across every worker), or in this
    process's memory on SQLite (one process)."""
    if engine.dialect.name == "postgresql":
        return SharedRateLimiter(engine, per_minute)
    from sangdam.server.auth import RateLimiter

    return RateLimiter(per_minute)
