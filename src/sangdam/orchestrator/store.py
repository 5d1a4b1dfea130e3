"""Persistence of conversations: state, masked transcript and traces (one transaction per turn)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sangdam.domain.conversation_models import Conversation, Message, TurnTrace
from sangdam.domain.db import session_scope
from sangdam.domain.insight_models import TurnIntent
from sangdam.orchestrator.state import ConversationState


class ConversationNotFound(LookupError):
    """No conversation with this id."""


@dataclass(frozen=True)
class SavedTurn:
    """What ``save_turn`` stored, as its hooks see it (inside the same transaction)."""

    conversation_id: str
    state: ConversationState
    messages: list[tuple[int, str, str]]  # (index, role, masked text)
    trace_id: str | None
    trace: dict[str, Any] | None
    mode: str


class ConversationStore:
    """Reads and writes conversation rows; the state JSON is validated on the way in and out."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Called inside save_turn's transaction, so what they add commits with the turn or not at all (the server's
        # record of an answered send: a retry after a crash then finds it exactly when the turn was stored).
        self.turn_hooks: list[Callable[[Session, SavedTurn], None]] = []

    def create(self, *, customer_id: str | None, channel: str, now: dt.datetime) -> str:
        conv_id = "CV-" + uuid.uuid4().hex[:16]
        state = ConversationState(verified_customer_id=customer_id, authenticated=customer_id is not None)
        with session_scope(self.engine) as s:
            s.add(
                Conversation(
                    id=conv_id,
                    channel=channel,
                    customer_id=customer_id,
                    verified_customer_id=customer_id,
                    mode="bot",
                    state=state.model_dump(mode="json"),
                    created_at=now,
                    updated_at=now,
                )
            )
        return conv_id

    def load(self, conv_id: str) -> tuple[Conversation, ConversationState]:
        with session_scope(self.engine) as s:
            conv = s.get(Conversation, conv_id)
            if conv is None:
                raise ConversationNotFound(conv_id)
            s.expunge(conv)
        return conv, ConversationState.model_validate(conv.state or {})

    def next_index(self, conv_id: str) -> int:
        with session_scope(self.engine) as s:
            current = s.scalar(select(func.max(Message.idx)).where(Message.conversation_id == conv_id))
        return 0 if current is None else current + 1

    def save_turn(
        self,
        conv_id: str,
        state: ConversationState,
        messages: list[tuple[str, str]],
        trace: dict[str, Any] | None,
        now: dt.datetime,
        mode: str | None = None,
    ) -> str | None:
        """Append ``messages`` (role, masked text), store the state and the trace, atomically."""
        trace_id = None
        with session_scope(self.engine) as s:
            conv = s.get(Conversation, conv_id)
            if conv is None:
                raise ConversationNotFound(conv_id)
            idx = s.scalar(select(func.max(Message.idx)).where(Message.conversation_id == conv_id))
            idx = -1 if idx is None else idx
            stored = []
            for role, text in messages:
                idx += 1
                s.add(Message(conversation_id=conv_id, idx=idx, role=role, text=text, at=now))
                stored.append((idx, role, text))
            conv.state = state.model_dump(mode="json")
            conv.verified_customer_id = state.verified_customer_id
            conv.updated_at = now
            if mode:
                conv.mode = mode
            if trace is not None:
                trace_id = "TR-" + uuid.uuid4().hex[:16]
                s.add(TurnTrace(id=trace_id, conversation_id=conv_id, turn_index=state.turn_index, data=trace, at=now))
                for intent in dict.fromkeys(trace.get("intents") or []):  # call drivers, aggregated in SQL
                    s.add(TurnIntent(conversation_id=conv_id, turn_index=state.turn_index, intent=intent,
                                     via=str(trace.get("via") or "classifier")[:20], at=now))
            saved = SavedTurn(conv_id, state, stored, trace_id, trace, conv.mode)
            for hook in self.turn_hooks:
                hook(s, saved)
        return trace_id

    def set_mode(self, conv_id: str, mode: str, now: dt.datetime) -> None:
        with session_scope(self.engine) as s:
            conv = s.get(Conversation, conv_id)
            if conv is None:
                raise ConversationNotFound(conv_id)
            conv.mode = mode
            conv.updated_at = now

    def transcript(self, conv_id: str) -> list[dict[str, Any]]:
        with session_scope(self.engine) as s:
            rows = s.scalars(select(Message).where(Message.conversation_id == conv_id).order_by(Message.idx)).all()
            return [{"idx": m.idx, "role": m.role, "text": m.text, "at": m.at.isoformat()} for m in rows]

    def traces(self, conv_id: str) -> list[dict[str, Any]]:
        with session_scope(self.engine) as s:
            rows = s.scalars(
                select(TurnTrace).where(TurnTrace.conversation_id == conv_id).order_by(TurnTrace.turn_index)
            ).all()
            return [{"id": t.id, "turn_index": t.turn_index, "at": t.at.isoformat(), **t.data} for t in rows]
