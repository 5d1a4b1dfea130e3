"""The in-process engine (``--engine local``, the embedded default): the same item listing and processing as the
Temporal activities, one batch after another in this process, with the same bookkeeping, so a run interrupted here
can be finished by running it again under the same run id (done items are skipped)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import Engine

from sangdam.batch.contracts import BatchRequest, BatchResult, ItemBatch, ItemPage, RunStart
from sangdam.batch.items import finish_run, list_items, process_items, start_run


def new_run_id(engine_name: str, job: str, since: str | None, until: str | None) -> str:
    """``<engine>-<job>-<since>-<until>-<random>``: readable in the bookkeeping table and Temporal's UI."""
    return f"{engine_name}-{job}-{since or 'start'}-{until or 'now'}-{uuid.uuid4().hex[:8]}"


def run_local(engine: Engine, request: BatchRequest, on_progress: Callable[[int, int], None] | None = None
              ) -> BatchResult:
    """Run the whole job here; ``on_progress(done, total)`` after every item."""
    total = start_run(engine, RunStart(request.run_id, request.job, "local", request.since, request.until))
    done, cursor = 0, request.cursor
    while True:
        items = list_items(engine, ItemPage(request.job, request.since, request.until, cursor, request.batch_size))
        if not items:
            break
        batch = ItemBatch(request.run_id, request.job, items, request.since, request.until, request.out_dir,
                          request.max_rate)
        base = done
        process_items(engine, batch, on_progress=(lambda i: on_progress(base + i, total)) if on_progress else None)
        done += len(items)
        cursor = items[-1]
    marked = finish_run(engine, request.run_id)
    return BatchResult(request.run_id, request.job, total, marked)
