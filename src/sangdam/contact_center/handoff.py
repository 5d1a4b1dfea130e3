"""Human handoff: the conversation list and queue of the agent console, take over, hand back, agent replies.

A conversation in mode ``human`` is served by a person: the orchestrator stores customer messages and stays
silent; agents reply through :func:`add_agent_message`. Conversations the bot transferred
(``transfer_to_human``) are in mode ``human`` already and form the queue.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Engine, desc, func, select
from sqlalchemy.exc import IntegrityError

from sangdam.domain.conversation_models import Conversation, Message
from sangdam.domain.db import session_scope
from sangdam.orchestrator.store import ConversationNotFound

_APPEND_RETRIES = 5


class HandoffError(ValueError):
    """An agent action that does not fit the conversation's mode (e.g. replying before taking over)."""

    def __init__(self, code: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code, self.message_en = code, message_en


class ConversationRow(BaseModel):
    """One line of the console's conversation list."""

    id: str
    channel: str
    mode: str
    customer_id: str | None
    verified: bool
    updated_at: dt.datetime
    messages: int
    last_message: str | None
    last_role: str | None


def list_conversations(engine: Engine, *, mode: str | None = None, limit: int = 100) -> list[ConversationRow]:
    """Most recently active conversations first (optionally only one ``mode``)."""
    with session_scope(engine) as s:
        query = select(Conversation).order_by(desc(Conversation.updated_at), desc(Conversation.created_at))
        if mode:
            query = query.where(Conversation.mode == mode)
        convs = s.scalars(query.limit(limit)).all()
        ids = [c.id for c in convs]
        counts = dict(s.execute(
            select(Message.conversation_id, func.count()).where(Message.conversation_id.in_(ids))
            .group_by(Message.conversation_id)
        ).all()) if ids else {}
        last: dict[str, Message] = {}
        if ids:
            latest = (select(Message.conversation_id, func.max(Message.idx).label("m"))
                      .where(Message.conversation_id.in_(ids)).group_by(Message.conversation_id).subquery())
            for m in s.scalars(select(Message).join(
                latest, (Message.conversation_id == latest.c.conversation_id) & (Message.idx == latest.c.m)
            )):
                last[m.conversation_id] = m
        return [
            ConversationRow(
                id=c.id, channel=c.channel, mode=c.mode, customer_id=c.customer_id,
                verified=c.verified_customer_id is not None, updated_at=c.updated_at,
                messages=counts.get(c.id, 0),
                last_message=last[c.id].text[:120] if c.id in last else None,
                last_role=last[c.id].role if c.id in last else None,
            )
            for c in convs
        ]


def append_message(engine: Engine, conversation_id: str, role: Literal["agent", "system"], text: str,
                   now: dt.datetime, *, require_mode: str | None = None, set_mode: str | None = None) -> int:
    """Append one message (already masked) and return its index; optionally check and/or change the mode.

    The index is the next free one; a concurrent bot turn may take it first, so a clash is retried.
    """
    for _ in range(_APPEND_RETRIES):
        try:
            with session_scope(engine) as s:
                conv = s.get(Conversation, conversation_id)
                if conv is None:
                    raise ConversationNotFound(conversation_id)
                if require_mode and conv.mode != require_mode:
                    raise HandoffError(
                        "wrong_mode", f"conversation is in mode {conv.mode!r}; this needs mode {require_mode!r}"
                    )
                idx = s.scalar(select(func.max(Message.idx)).where(Message.conversation_id == conversation_id))
                idx = 0 if idx is None else idx + 1
                s.add(Message(conversation_id=conversation_id, idx=idx, role=role, text=text, at=now))
                if set_mode:
                    conv.mode = set_mode
                conv.updated_at = now
            return idx
        except IntegrityError:
            continue
    raise HandoffError("busy", "could not append the message: the conversation is being written concurrently")


def add_agent_message(engine: Engine, conversation_id: str, text: str, now: dt.datetime) -> int:
    """A human agent's reply (PII-masked before storage); the conversation must be taken over first."""
    from sangdam.orchestrator.privacy import Privacy

    text = (text or "").strip()
    if not text:
        raise HandoffError("empty_message", "agent message is empty")
    return append_message(engine, conversation_id, "agent", Privacy.mask_only(text), now, require_mode="human")


def take_over(engine: Engine, conversation_id: str, now: dt.datetime) -> None:
    """Switch to mode ``human``: the bot stops replying; the customer is told an agent joined."""
    from sangdam.contact_center.texts import text

    _check_not_closed(engine, conversation_id)
    append_message(engine, conversation_id, "system", text("notices.agent_joined"), now, set_mode="human")


def hand_back(engine: Engine, conversation_id: str, now: dt.datetime) -> None:
    """Switch back to mode ``bot``: the AI answers the next customer message again."""
    from sangdam.contact_center.texts import text

    _check_not_closed(engine, conversation_id)
    append_message(engine, conversation_id, "system", text("notices.bot_resumed"), now, set_mode="bot")


def conversation_row(engine: Engine, conversation_id: str) -> dict[str, Any]:
    """Mode, channel, customer and state of one conversation (``ConversationNotFound`` if absent)."""
    with session_scope(engine) as s:
        conv = s.get(Conversation, conversation_id)
        if conv is None:
            raise ConversationNotFound(conversation_id)
        return {
            "id": conv.id, "channel": conv.channel, "mode": conv.mode, "customer_id": conv.customer_id,
            "verified_customer_id": conv.verified_customer_id, "state": dict(conv.state or {}),
            "created_at": conv.created_at, "updated_at": conv.updated_at,
        }


def _check_not_closed(engine: Engine, conversation_id: str) -> None:
    if conversation_row(engine, conversation_id)["mode"] == "closed":
        raise HandoffError("conversation_closed", "conversation is closed")
