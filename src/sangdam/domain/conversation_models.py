"""Conversation storage: state after every turn, masked transcript, per-turn traces.

Only PII-masked text is stored here; originals live in the in-memory vault of the running conversation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sangdam.domain.models import Base


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_created_mode", "created_at", "mode", "id"),)  # dashboard ranges

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="api")  # web|api|cli|eval|openai
    customer_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    verified_customer_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    mode: Mapped[str] = mapped_column(String(12), default="bot")  # bot|human|closed
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "idx", name="uq_messages_conv_idx"),
                      Index("ix_messages_conversation_role", "conversation_id", "role"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(12))  # customer|bot|agent|system
    text: Mapped[str] = mapped_column(Text)  # PII-masked
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class TurnTrace(Base):
    __tablename__ = "turn_traces"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    turn_index: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
