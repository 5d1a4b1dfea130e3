"""Batch after-call work: summaries of many stored conversations (``sangdam summarize``)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import Engine, select

from sangdam.contact_center.summary import ConversationSummary, summarize_conversation
from sangdam.domain.conversation_models import Conversation
from sangdam.domain.db import session_scope

CSV_FIELDS = ["conversation_id", "category", "customer_request", "verified", "actions_taken", "outcome",
              "follow_up", "sentiment"]


def summaries_since(engine: Engine, since: dt.date | None = None, *, progress: bool = False) -> Iterator[ConversationSummary]:
    """Summaries of conversations updated on or after ``since`` (all when None), oldest first."""
    from sangdam.orchestrator.store import ConversationStore

    store = ConversationStore(engine)
    with session_scope(engine) as s:
        query = select(Conversation.id, Conversation.mode, Conversation.verified_customer_id, Conversation.state)
        if since is not None:
            query = query.where(Conversation.updated_at >= dt.datetime.combine(since, dt.time()))
        rows = s.execute(query.order_by(Conversation.updated_at)).all()

    def build(row) -> ConversationSummary:  # noqa: ANN001 - a result row
        return summarize_conversation(row.id, mode=row.mode, verified=row.verified_customer_id is not None,
                                      state=dict(row.state or {}), transcript=store.transcript(row.id),
                                      traces=store.traces(row.id))

    if not progress:
        yield from (build(r) for r in rows)
        return
    from rich.progress import track

    yield from (build(r) for r in track(rows, description="summarising", transient=True))


def write_summaries(summaries: Iterable[ConversationSummary], out: Path | None) -> int:
    """Write JSON lines (``.jsonl`` or stdout) or CSV (``.csv``: actions as one JSON cell); returns the count."""
    count = 0
    if out is not None and out.suffix == ".csv":
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
            writer.writeheader()
            for s in summaries:
                row = s.model_dump(mode="json")
                row["actions_taken"] = json.dumps(row["actions_taken"], ensure_ascii=False)
                writer.writerow({k: row[k] for k in CSV_FIELDS})
                count += 1
        return count
    fh = out.open("w", encoding="utf-8") if out is not None else sys.stdout
    try:
        for s in summaries:
            fh.write(json.dumps(s.model_dump(mode="json"), ensure_ascii=False) + "\n")
            count += 1
    finally:
        if out is not None:
            fh.close()
    return count
