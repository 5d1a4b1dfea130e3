"""The Temporal workflow of a batch run: page through the job's items and process them in batches, ``parallel``
activities at a time (spread over however many workers poll the queue).

Deterministic by construction: it only schedules activities (named, so no activity code is imported into the
sandbox) and keeps counters. Every activity retries with backoff; the processing activity heartbeats its position,
and a worker that stops heartbeating (killed, partitioned) has its batch retried on another worker from the last
heartbeat, where the bookkeeping skips whatever was already done. After ``waves_per_history`` rounds (200) the run
continues as new with its cursor and counts, so the event history of a 100k-item run stays small.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from sangdam.batch.contracts import (
        WORKFLOW_NAME,
        BatchOutcome,
        BatchRequest,
        BatchResult,
        ItemBatch,
        ItemPage,
        RunStart,
    )

# transient failures (database busy, a worker gone) are retried with backoff; a job that cannot run is not
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=60), maximum_attempts=20,
                    non_retryable_error_types=["BatchJobError"])
SHORT = timedelta(minutes=5)
BATCH_LIMIT = timedelta(hours=2)  # one batch's whole attempt; a dead worker is found by its heartbeat long before


@workflow.defn(name=WORKFLOW_NAME)
class BatchWorkflow:
    """One batch run (the workflow id is the run id)."""

    def __init__(self) -> None:
        self._done = 0
        self._total = 0

    @workflow.run
    async def run(self, request: BatchRequest) -> BatchResult:
        """Register the run, process every item page by page, mark the run done."""
        if not request.run_id:  # started by a schedule or by hand without one: the workflow id names the run
            request = replace(request, run_id=workflow.info().workflow_id)
        self._done, self._total = request.done, request.total
        if not request.started:
            start = RunStart(request.run_id, request.job, request.engine, request.since, request.until)
            self._total = await workflow.execute_activity("batch_start_run", start, result_type=int,
                                                          start_to_close_timeout=SHORT, retry_policy=RETRY)
        cursor = request.cursor
        for _ in range(request.waves_per_history):
            page = ItemPage(request.job, request.since, request.until, cursor, request.batch_size * request.parallel)
            items: list[str] = await workflow.execute_activity("batch_list_items", page, result_type=list[str],
                                                               start_to_close_timeout=SHORT, retry_policy=RETRY)
            if not items:
                break
            await asyncio.gather(*(self._process(request, items[i:i + request.batch_size])
                                   for i in range(0, len(items), request.batch_size)))
            cursor = items[-1]
        else:
            workflow.continue_as_new(replace(request, cursor=cursor, done=self._done, total=self._total,
                                             started=True))
        done = await workflow.execute_activity("batch_finish_run", request.run_id, result_type=int,
                                               start_to_close_timeout=SHORT, retry_policy=RETRY)
        return BatchResult(request.run_id, request.job, self._total, done)

    async def _process(self, request: BatchRequest, items: list[str]) -> None:
        batch = ItemBatch(request.run_id, request.job, items, request.since, request.until, request.out_dir,
                          request.max_rate)
        await workflow.execute_activity("batch_process_items", batch, result_type=BatchOutcome,
                                        start_to_close_timeout=BATCH_LIMIT,
                                        heartbeat_timeout=timedelta(seconds=request.heartbeat_timeout_s),
                                        retry_policy=RETRY)
        self._done += len(items)

    @workflow.query
    def progress(self) -> list[int]:
        """[items done, total] as of the last finished batch."""
        return [self._done, self._total]
