"""Temporal side of ``sangdam batch``: the activities (thin wrappers over ``items.py`` that heartbeat their
position), the worker that runs them with the workflow, and starting a run from the command line.

Activities are synchronous (SQLAlchemy, the summariser) and run in a thread pool. A batch heartbeats the index it
has reached after every item, and a ticker keeps heartbeating during one long item (a KB re-index, the report); a
retried attempt reads the last heartbeat and starts there.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from sangdam.batch import items
from sangdam.batch.contracts import (
    TASK_QUEUE,
    WORKFLOW_NAME,
    BatchOutcome,
    BatchRequest,
    BatchResult,
    ItemBatch,
    ItemPage,
    RunStart,
)
from sangdam.batch.workflow import BatchWorkflow

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"


def _engine():  # noqa: ANN202 - sqlalchemy Engine
    from sangdam.domain.db import get_engine

    return get_engine()


@contextmanager
def _job_errors() -> Iterator[None]:
    try:
        yield
    except items.BatchJobError as exc:
        raise ApplicationError(str(exc), type="BatchJobError", non_retryable=True) from exc


@activity.defn(name="batch_start_run")
def start_run_activity(start: RunStart) -> int:
    """Register the run and count its items."""
    with _job_errors():
        return items.start_run(_engine(), start)


@activity.defn(name="batch_list_items")
def list_items_activity(page: ItemPage) -> list[str]:
    """The next page of item ids."""
    with _job_errors():
        return items.list_items(_engine(), page)


@activity.defn(name="batch_process_items")
def process_items_activity(batch: ItemBatch) -> BatchOutcome:
    """Process a batch from the last heartbeat on, heartbeating the index reached."""
    details = activity.info().heartbeat_details
    start = int(details[0]) if details else 0
    reached = [start]

    def on_progress(index: int) -> None:
        reached[0] = index
        activity.heartbeat(index)

    with _job_errors(), _heartbeat_ticker(lambda: reached[0]):
        return items.process_items(_engine(), batch, start=start, on_progress=on_progress)


@activity.defn(name="batch_finish_run")
def finish_run_activity(run_id: str) -> int:
    """Mark the run done; the number of items marked done."""
    return items.finish_run(_engine(), run_id)


ACTIVITIES = [start_run_activity, list_items_activity, process_items_activity, finish_run_activity]


@contextmanager
def _heartbeat_ticker(position: Callable[[], int], every_s: float = 2.0) -> Iterator[None]:
    """Heartbeat ``position()`` every few seconds from a helper thread while the body runs (the SDK throttles
    heartbeats, so this costs nothing when items are quick)."""
    stop = threading.Event()
    context = contextvars.copy_context()  # the activity context lives in a context variable

    def tick() -> None:
        while not stop.wait(every_s):
            activity.heartbeat(position())

    thread = threading.Thread(target=context.run, args=(tick,), daemon=True, name="batch-heartbeat")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


async def connect(address: str = DEFAULT_ADDRESS, namespace: str = DEFAULT_NAMESPACE) -> Client:
    """A client of the Temporal frontend at ``address``."""
    return await Client.connect(address, namespace=namespace)


async def run_worker(address: str = DEFAULT_ADDRESS, namespace: str = DEFAULT_NAMESPACE, *,
                     concurrency: int = 4, stop: asyncio.Event | None = None) -> None:
    """Poll the batch task queue until ``stop`` is set (or forever): the workflow and ``concurrency`` activities
    at a time."""
    client = await connect(address, namespace)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="batch-activity") as pool:
        worker = Worker(client, task_queue=TASK_QUEUE, workflows=[BatchWorkflow], activities=ACTIVITIES,
                        activity_executor=pool, max_concurrent_activities=concurrency,
                        # a killed worker's workflow moves to the others after this (its batches after their
                        # heartbeat timeout)
                        sticky_queue_schedule_to_start_timeout=timedelta(seconds=5))
        if stop is None:
            await worker.run()
            return
        async with worker:
            await stop.wait()


async def start_batch(client: Client, request: BatchRequest) -> WorkflowHandle[BatchWorkflow, BatchResult]:
    """Start the run's workflow (its id is the run id)."""
    return await client.start_workflow(WORKFLOW_NAME, request, id=request.run_id, task_queue=TASK_QUEUE,
                                       result_type=BatchResult)
