"""The in-process engine (``--engine local``, the embedded default): the same item listing and processing as the
Temporal activities, run here with the same bookkeeping, so a run interrupted here can be finished by running it
again under the same run id (done items are skipped). Like the workflow it keeps ``parallel`` batches in flight, on
threads: each item's commit waits on the disk, and other batches work meanwhile."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

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
    lock = threading.Lock()
    done = [0]

    def tick(_index: int) -> None:
        with lock:
            done[0] += 1
            if on_progress is not None:
                on_progress(done[0], total)

    def run_batch(items: list[str]) -> None:
        batch = ItemBatch(request.run_id, request.job, items, request.since, request.until, request.out_dir,
                          request.max_rate)
        process_items(engine, batch, on_progress=tick)

    cursor = request.cursor
    with ThreadPoolExecutor(max_workers=max(1, request.parallel), thread_name_prefix="batch-local") as pool:
        while True:
            page = ItemPage(request.job, request.since, request.until, cursor, request.batch_size * request.parallel)
            items = list_items(engine, page)
            if not items:
                break
            chunks = [items[i:i + request.batch_size] for i in range(0, len(items), request.batch_size)]
            for future in [pool.submit(run_batch, chunk) for chunk in chunks]:
                future.result()  # the first failure stops the run (its batch's done items stay marked)
            cursor = items[-1]
    return BatchResult(request.run_id, request.job, total, finish_run(engine, request.run_id))
