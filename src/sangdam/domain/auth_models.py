"""Channel credentials and channel bookkeeping: API keys (stored hashed), which key opened which conversation,
and OpenAI-compatible chat threads (a hash of the messages so far → the conversation they belong to)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sangdam.domain.models import Base


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)  # public part of the key ("sk-sd-<id>.")
    key_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the whole key; the key itself is never stored
    role: Mapped[str] = mapped_column(String(20))  # customer-channel|agent|admin
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), nullable=True)  # bound customer
    label: Mapped[str] = mapped_column(String(80), default="")
    rate_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: the server default
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class ConversationOwner(Base):
    """The key that opened a conversation: customer-channel keys see only their own conversations."""

    __tablename__ = "conversation_owners"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)


class ChatThread(Base):
    """OpenAI-compatible continuity: hash(key, messages so far) → conversation."""

    __tablename__ = "chat_threads"

    prefix_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
