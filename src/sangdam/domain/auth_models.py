"""Channel credentials and channel bookkeeping: API keys (stored hashed), web-chat sessions (tokens stored hashed),
which key or session opened which conversation, and OpenAI-compatible threads (a client's ``user`` → its
conversation)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sangdam.domain.models import Base


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)  # public part of the key ("sk-sd-<id>.")
    key_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the whole key; the key itself is never stored
    role: Mapped[str] = mapped_column(String(20))  # channel-trusted|customer-channel|agent|admin
    customer_id: Mapped[str | None] = mapped_column(String(40), nullable=True)  # bound customer
    label: Mapped[str] = mapped_column(String(80), default="")
    rate_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: the server default
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # UTC; None: never


class WebSession(Base):
    """A public web-chat session: a short-lived bearer token (only its SHA-256 is stored), optionally bound to the
    customer a signed login assertion named. Times are UTC."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)  # public part of the token ("ws-<id>.")
    token_hash: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(40), nullable=True)  # from an assertion
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)  # idle expiry, pushed forward while in use
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime)  # the latest it may live, in use or not
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class ConversationOwner(Base):
    """The key or web session that opened a conversation: channel keys and sessions see only their own."""

    __tablename__ = "conversation_owners"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    api_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), index=True, nullable=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("web_sessions.id"), index=True, nullable=True)


class ChatThread(Base):
    """OpenAI-compatible continuity: hash(key, the client's ``user``) → conversation (never the message text)."""

    __tablename__ = "chat_threads"

    prefix_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
