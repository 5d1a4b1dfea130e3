"""Server state that several worker processes share through the database: answered sends and rate buckets.

- ``sent_messages``: the answer to each customer send that carried an ``Idempotency-Key``, written in the same
  transaction as the turn it answers. A retry — on any worker, after any crash — finds it and gets the first answer
  back instead of a second turn.
- ``rate_buckets``: token buckets of the rate limiter, one row per subject (used on PostgreSQL, where several workers
  must count the same requests; a single SQLite process keeps them in memory).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from sangdam.domain.models import Base


class SentMessage(Base):
    """One customer send with an idempotency key, and what it was answered (the API's reply fields)."""

    __tablename__ = "sent_messages"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    delivery: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class RateBucket(Base):
    """A token bucket: ``tokens`` left at ``at_s`` (database clock, epoch seconds); ``allowed``: the last take."""

    __tablename__ = "rate_buckets"

    subject: Mapped[str] = mapped_column(String(160), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    at_s: Mapped[float] = mapped_column(Float, index=True)
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
