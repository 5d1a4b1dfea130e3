"""A batch job's items and how each is processed: the bodies of the activities, shared by both engines.

Items of ``summarize`` and ``qa`` are conversation ids (conversations created in the run's date range), of
``insights`` the one report over the range, of ``reindex`` the knowledge bases. Processing an item writes its
result and marks it done in ``batch_items`` in the same transaction when the result is ours to write (the
summary); when another module writes the result in its own transaction (QA scores, the report, the KB), that write
replaces by key, so redoing an item a crash interrupted between the two leaves one result. Either way the mark's
primary key (run, item) makes "done" happen once: an item found marked is skipped, and of two attempts racing on one
item the second's mark fails and its result is rolled back.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sangdam.batch.contracts import JOBS, BatchOutcome, ItemBatch, ItemPage, RunStart
from sangdam.domain.batch_models import BatchItem, BatchRun
from sangdam.domain.conversation_models import Conversation
from sangdam.domain.db import session_scope

log = logging.getLogger(__name__)
Progress = Callable[[int], None]  # items of the batch handled so far (processed or skipped)


class BatchJobError(Exception):
    """A job that cannot run at all (unknown job, a missing module, no knowledge base): not retried."""


def worker_name() -> str:
    """``host:pid`` of this process: recorded with each item, so a test or an operator sees who did it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _conversation_range(query, since: str | None, until: str | None):  # noqa: ANN001, ANN202 - a Select
    if since:
        query = query.where(Conversation.created_at >= dt.datetime.combine(_day(since), dt.time()))
    if until:
        query = query.where(Conversation.created_at < dt.datetime.combine(_day(until) + dt.timedelta(days=1), dt.time()))
    return query


def _knowledge_bases() -> list[str]:
    """Knowledge bases whose source folder is still there (one that is gone is left as it is, with a warning)."""
    from sangdam.knowledge.store import kb_root, read_manifest

    root = kb_root()
    names = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        manifest = read_manifest(path) if path.is_dir() else None
        if manifest is None:
            continue
        if Path(manifest.get("directory") or "/nonexistent").is_dir():
            names.append(path.name)
        else:
            log.warning("knowledge base %s not re-indexed: its source folder %s is gone", path.name,
                        manifest.get("directory"))
    return names


def _report_item(since: str | None, until: str | None) -> str:
    return f"report:{since or 'start'}..{until or 'now'}"


def list_items(engine: Engine, page: ItemPage) -> list[str]:
    """The next ``page.limit`` items of a job after ``page.after``, in item-id order (stable keyset paging)."""
    if page.job in ("summarize", "qa"):
        query = _conversation_range(select(Conversation.id), page.since, page.until)
        if page.after is not None:
            query = query.where(Conversation.id > page.after)
        with session_scope(engine) as s:
            return list(s.scalars(query.order_by(Conversation.id).limit(page.limit)))
    if page.job == "insights":
        items = [_report_item(page.since, page.until)]
    elif page.job == "reindex":
        items = _knowledge_bases()
    else:
        raise BatchJobError(f"unknown batch job {page.job!r} (one of {', '.join(JOBS)})")
    return [i for i in items if page.after is None or i > page.after][: page.limit]


def count_items(engine: Engine, job: str, since: str | None, until: str | None) -> int:
    """How many items the job has over the range."""
    if job in ("summarize", "qa"):
        with session_scope(engine) as s:
            return s.scalar(_conversation_range(select(func.count(Conversation.id)), since, until)) or 0
    return len(list_items(engine, ItemPage(job, since, until, None, 1_000_000)))


def start_run(engine: Engine, start: RunStart) -> int:
    """Register the run (again after a retry: the row is kept) and return its item count."""
    total = count_items(engine, start.job, start.since, start.until)
    with session_scope(engine) as s:
        run = s.get(BatchRun, start.run_id)
        if run is None:
            s.add(BatchRun(run_id=start.run_id, job=start.job, engine=start.engine, since=_day(start.since),
                           until=_day(start.until), total=total, status="running", started_at=_now()))
        else:
            run.total = total
    return total


def finish_run(engine: Engine, run_id: str, status: str = "done") -> int:
    """Mark the run finished; return how many of its items are marked done."""
    with session_scope(engine) as s:
        run = s.get(BatchRun, run_id)
        if run is not None:
            run.status, run.finished_at = status, _now()
        return done_count(s, run_id)


def done_count(s: Session, run_id: str) -> int:
    """Items of the run marked done."""
    return s.scalar(select(func.count()).select_from(BatchItem).where(BatchItem.run_id == run_id)) or 0


def run_progress(engine: Engine, run_id: str) -> tuple[int, int, str | None]:
    """(done, total, status) of a run as the bookkeeping tables say; status None while it is not registered."""
    with session_scope(engine) as s:
        run = s.get(BatchRun, run_id)
        return done_count(s, run_id), (run.total if run else 0), (run.status if run else None)


def process_items(engine: Engine, batch: ItemBatch, *, start: int = 0, on_progress: Progress | None = None
                  ) -> BatchOutcome:
    """Process the batch's items from index ``start`` on (a resumed attempt passes its last heartbeat), skipping
    those already marked done; ``on_progress`` hears the index reached after each item."""
    handler = _HANDLERS.get(batch.job)
    if handler is None:
        raise BatchJobError(f"unknown batch job {batch.job!r} (one of {', '.join(JOBS)})")
    outcome = BatchOutcome(skipped=start)
    pause = 1.0 / batch.max_rate if batch.max_rate > 0 else 0.0
    worker = worker_name()
    with session_scope(engine) as s:  # one look for the whole batch; an attempt racing after it fails on the mark
        marked = set(s.scalars(select(BatchItem.item_id).where(BatchItem.run_id == batch.run_id,
                                                               BatchItem.item_id.in_(batch.items[start:]))))
    for index in range(start, len(batch.items)):
        began = time.monotonic()
        item = batch.items[index]
        done = item in marked
        if done or not handler(engine, batch, item, worker):
            outcome.skipped += 1
        else:
            outcome.processed += 1
        if on_progress is not None:
            on_progress(index + 1)
        if pause and not done:
            time.sleep(max(0.0, pause - (time.monotonic() - began)))
    return outcome


def _mark(s: Session, batch: ItemBatch, item: str, worker: str) -> None:
    s.add(BatchItem(run_id=batch.run_id, item_id=item, worker=worker[:80], done_at=_now()))


def _commit_with_mark(engine: Engine, batch: ItemBatch, item: str, worker: str,
                      write: Callable[[Session], Any] | None = None) -> bool:
    """Write (optionally) a result and the item's mark in one transaction; False when another attempt marked it
    first (the result written here is rolled back with the mark)."""
    try:
        with session_scope(engine) as s:
            if write is not None:
                write(s)
            s.flush()
            _mark(s, batch, item, worker)
    except IntegrityError:
        return False
    return True


def _summarize(engine: Engine, batch: ItemBatch, item: str, worker: str) -> bool:
    from sangdam.contact_center.summary import summarize
    from sangdam.domain.insight_models import ConversationSummary as StoredSummary
    from sangdam.orchestrator.store import ConversationNotFound

    try:
        summary = summarize(engine, item)
    except ConversationNotFound:  # deleted since it was listed: nothing to do, but it is done
        return _commit_with_mark(engine, batch, item, worker)
    row = StoredSummary(conversation_id=item, summary=summary.model_dump(mode="json"), at=_now())
    return _commit_with_mark(engine, batch, item, worker, lambda s: s.merge(row))


def _qa(engine: Engine, batch: ItemBatch, item: str, worker: str) -> bool:
    try:
        from sangdam.contact_center.qa import score_and_store
    except ImportError as exc:
        raise BatchJobError(f"QA scoring is not available in this installation: {exc}") from exc
    score_and_store(engine, item)  # replaces the conversation's qa_scores rows (keyed by conversation, item)
    return _commit_with_mark(engine, batch, item, worker)


def _insights(engine: Engine, batch: ItemBatch, item: str, worker: str) -> bool:
    try:
        from sangdam.insights.report import build_report
    except ImportError as exc:
        raise BatchJobError(f"the insights report is not available in this installation: {exc}") from exc
    since = _day(batch.since) or dt.date(1970, 1, 1)
    until = _day(batch.until)  # None: up to the configured today
    out = Path(batch.out_dir) if batch.out_dir else default_report_dir(since, until)
    build_report(engine, since, until, out)  # rewrites the report's files in place
    return _commit_with_mark(engine, batch, item, worker)


def default_report_dir(since: dt.date, until: dt.date | None) -> Path:
    """``SANGDAM_HOME/insights/<since>_<until>`` (``now`` when open-ended)."""
    from sangdam.config import get_settings

    return get_settings().resolved_home / "insights" / f"{since.isoformat()}_{until.isoformat() if until else 'now'}"


def _reindex(engine: Engine, batch: ItemBatch, item: str, worker: str) -> bool:
    from sangdam.knowledge.store import ingest_directory, kb_path, read_manifest

    manifest = read_manifest(kb_path(item)) or {}
    directory = manifest.get("directory")
    if not directory or not Path(directory).is_dir():
        raise BatchJobError(f"knowledge base {item!r}: its source folder {directory!r} is gone; ingest it again")
    ingest_directory(Path(directory), item)  # incremental, swapped in whole: a rerun leaves one index
    return _commit_with_mark(engine, batch, item, worker)


_HANDLERS: dict[str, Callable[[Engine, ItemBatch, str, str], bool]] = {
    "summarize": _summarize, "qa": _qa, "insights": _insights, "reindex": _reindex,
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
