"""Human handoff: the conversation list and queue of the agent console, take over, hand back, agent replies.

A conversation in mode ``human`` is served by a person: the orchestrator stores customer messages and stays
silent; agents reply through :func:`add_agent_message`. Conversations the bot transferred
(``transfer_to_human``) are in mode ``human`` already and form the queue; the customer is told
"상담사가 연결되었습니다" when an agent joins one (take over, or the agent's first message), exactly once per handoff.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Engine, desc, func, select
from sqlalchemy.exc import IntegrityError

from sangdam.backends import backend_for
from sangdam.domain.conversation_models import Conversation, Message
from sangdam.domain.db import session_scope
from sangdam.domain.insight_models import ConversationMark
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
    customer_name: str | None = None  # only once the customer is verified
    updated_at: dt.datetime
    idle_s: int = 0  # seconds since the last activity
    messages: int
    last_message: str | None
    last_role: str | None
    agent_joined: bool = False  # an agent is serving since the latest handoff
    waiting_since: dt.datetime | None = None  # the customer has waited for a person since then
    waiting_s: int | None = None
    escalation: str | None = None  # marked for a person: angry | repeated_frustration | repeated_failure


def list_conversations(engine: Engine, *, mode: str | None = None, limit: int = 100,
                       now: dt.datetime | None = None) -> list[ConversationRow]:
    """Most recently active conversations first (optionally only one ``mode``), with how long each has waited."""
    now = now or dt.datetime.now()
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
        names = backend_for(engine).customer_names({c.verified_customer_id for c in convs if c.verified_customer_id})
        served = _human_service(s, [c.id for c in convs if c.mode == "human"])
        marks = dict(s.execute(select(ConversationMark.conversation_id, ConversationMark.reason).where(
            ConversationMark.conversation_id.in_(ids), ConversationMark.kind == "escalation")).all()) if ids else {}
        rows = []
        for c in convs:
            joined, waiting = served.get(c.id, (False, None))
            rows.append(ConversationRow(
                id=c.id, channel=c.channel, mode=c.mode, customer_id=c.customer_id,
                verified=c.verified_customer_id is not None, customer_name=names.get(c.verified_customer_id),
                updated_at=c.updated_at, idle_s=_seconds(now, c.updated_at), messages=counts.get(c.id, 0),
                last_message=last[c.id].text[:120] if c.id in last else None,
                last_role=last[c.id].role if c.id in last else None, agent_joined=joined,
                waiting_since=waiting, waiting_s=_seconds(now, waiting) if waiting else None,
                escalation=marks.get(c.id),
            ))
        return rows


def _seconds(now: dt.datetime, then: dt.datetime) -> int:
    return max(0, int((now - then).total_seconds()))


def _human_service(s: Any, conv_ids: list[str]) -> dict[str, tuple[bool, dt.datetime | None]]:
    """For conversations in mode ``human``: (an agent joined since the handoff, waiting since when or None)."""
    if not conv_ids:
        return {}
    rows = s.execute(select(Message.conversation_id, Message.role, Message.text, Message.at)
                     .where(Message.conversation_id.in_(conv_ids)).order_by(Message.conversation_id, Message.idx)).all()
    by_conv: dict[str, list[tuple[str, str, dt.datetime]]] = {}
    for conv_id, role, body, at in rows:
        by_conv.setdefault(conv_id, []).append((role, body, at))
    return {conv_id: (agent_joined(msgs), _waiting_since(msgs)) for conv_id, msgs in by_conv.items()}


def agent_joined(messages: list[tuple[str, str, dt.datetime]]) -> bool:
    """Whether an agent joined after the bot last spoke (its "agent joined" notice or an agent message)."""
    from sangdam.contact_center.texts import text

    joined = text("notices.agent_joined")
    for role, body, _ in reversed(messages):
        if role == "agent" or (role == "system" and body == joined):
            return True
        if role == "bot" or role == "system":
            return False
    return False


def _waiting_since(messages: list[tuple[str, str, dt.datetime]]) -> dt.datetime | None:
    """Since when the customer waits for a person: their first message after the agent's last reply; before any
    agent joined, the handoff (the bot's last message)."""
    if not messages or messages[-1][0] == "agent":
        return None
    agent_at = max((i for i, (role, _, _) in enumerate(messages) if role == "agent"), default=None)
    if agent_at is not None:
        return next((at for role, _, at in messages[agent_at + 1:] if role == "customer"), None)
    handoff_at = max((i for i, (role, _, _) in enumerate(messages) if role in ("bot", "system")), default=0)
    return messages[handoff_at][2]


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
    """A human agent's reply (PII-masked before storage) in mode ``human``; the first one after a bot transfer
    is preceded by the "agent joined" notice, so the customer knows a person is answering."""
    from sangdam.orchestrator.privacy import Privacy

    text = (text or "").strip()
    if not text:
        raise HandoffError("empty_message", "agent message is empty")
    if conversation_row(engine, conversation_id)["mode"] == "human":
        _announce_agent(engine, conversation_id, now)
    return append_message(engine, conversation_id, "agent", Privacy.mask_only(text), now, require_mode="human")


def take_over(engine: Engine, conversation_id: str, now: dt.datetime) -> None:
    """The agent joins: mode ``human`` (the bot stops replying) and the customer is told an agent is connected.

    Also how an agent picks up a conversation the bot transferred (already ``human``); joining twice says nothing
    new.
    """
    from sangdam.contact_center.texts import text

    if _check_not_closed(engine, conversation_id) == "bot":
        append_message(engine, conversation_id, "system", text("notices.agent_joined"), now, set_mode="human")
    else:
        _announce_agent(engine, conversation_id, now)


def agent_present(engine: Engine, conversation_id: str) -> bool:
    """Whether an agent joined the conversation since the bot last spoke."""
    with session_scope(engine) as s:
        latest = s.execute(select(Message.role, Message.text, Message.at).where(Message.conversation_id == conversation_id)
                           .order_by(desc(Message.idx)).limit(50)).all()
    return agent_joined([tuple(m) for m in reversed(latest)])


def _announce_agent(engine: Engine, conversation_id: str, now: dt.datetime) -> None:
    from sangdam.contact_center.texts import text

    if not agent_present(engine, conversation_id):
        append_message(engine, conversation_id, "system", text("notices.agent_joined"), now, require_mode="human")


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


def _check_not_closed(engine: Engine, conversation_id: str) -> str:
    """The conversation's mode, unless it is closed (``HandoffError``)."""
    mode = conversation_row(engine, conversation_id)["mode"]
    if mode == "closed":
        raise HandoffError("conversation_closed", "conversation is closed")
    return mode
