"""Sangdam's own records for consultation intelligence (issue 16): per-turn facts aggregated in SQL by the
dashboard, QA scores, sentiment signals, stored after-call summaries, and conversation marks for the console queue.

All keyed by conversation (and turn): writing the same item twice replaces it, so a batch job retried after a
crash never counts an item twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sangdam.domain.models import Base


class TurnIntent(Base):
    """One routed intent of one customer turn (a turn with two intents has two rows); written with the turn."""

    __tablename__ = "turn_intents"
    __table_args__ = (Index("ix_turn_intents_at_intent", "at", "intent", "conversation_id"),)

    conversation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    turn_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    intent: Mapped[str] = mapped_column(String(60), primary_key=True)
    via: Mapped[str] = mapped_column(String(20), default="classifier")  # classifier|llm|dialogue|…
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class TurnSignal(Base):
    """Sentiment of one customer turn and whether it calls for a human agent."""

    __tablename__ = "turn_signals"
    __table_args__ = (Index("ix_turn_signals_at_sentiment", "at", "sentiment"),)

    conversation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    turn_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    sentiment: Mapped[str] = mapped_column(String(16))  # positive|neutral|negative|angry
    score: Mapped[float] = mapped_column(Float, default=0.0)  # -1 (angry) … +1 (positive)
    escalate: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class QaScore(Base):
    """One rubric item's verdict for one conversation, with its evidence (turn index, trace id, note)."""

    __tablename__ = "qa_scores"
    __table_args__ = (Index("ix_qa_scores_conversation_verdict", "conversation_id", "item", "passed"),)

    conversation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    item: Mapped[str] = mapped_column(String(60), primary_key=True)
    passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # None: not applicable
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rubric_version: Mapped[str] = mapped_column(String(40))
    scored_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class ConversationSummary(Base):
    """The stored after-call summary of a conversation (the batch job's output)."""

    __tablename__ = "conversation_summaries"

    conversation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class ConversationMark(Base):
    """A conversation flagged for the console queue (e.g. ``escalation``: anger or repeated failure)."""

    __tablename__ = "conversation_marks"

    conversation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
