"""Bookkeeping of batch jobs (``sangdam batch``, issue 16): one row per run and one row per finished item.

An item's row is written in the same transaction as its result (or right after an idempotent, keyed result), and
its primary key is (run, item): a retried batch skips the items it finds here, so across retries and killed
workers every item of a run is processed and counted exactly once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sangdam.domain.models import Base


class BatchRun(Base):
    """One run of a batch job over a date range (its id is the Temporal workflow id, or ``local-…``)."""

    __tablename__ = "batch_runs"

    run_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    job: Mapped[str] = mapped_column(String(20))  # summarize|qa|insights|reindex
    engine: Mapped[str] = mapped_column(String(12))  # temporal|local
    since: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), default="running")  # running|done|failed
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class BatchItem(Base):
    """One item of a run, done: present at most once, written with (or right after) the item's result."""

    __tablename__ = "batch_items"

    run_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    worker: Mapped[str] = mapped_column(String(80), default="")  # host:pid of the process that did it
    done_at: Mapped[dt.datetime] = mapped_column(DateTime)
