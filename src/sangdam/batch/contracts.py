"""What passes between the ``sangdam batch`` client, the workflow and the activities: plain dataclasses (Temporal's
default converter serialises them) with dates as ISO strings. Nothing heavy is imported here: the workflow sandbox
re-imports this module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Job = Literal["summarize", "qa", "insights", "reindex"]
JOBS: tuple[str, ...] = ("summarize", "qa", "insights", "reindex")
TASK_QUEUE = "sangdam-batch"
WORKFLOW_NAME = "SangdamBatch"


@dataclass
class BatchRequest:
    """One batch run: a job over conversations created in [since, until] (dates; until inclusive)."""

    run_id: str
    job: str
    since: str | None = None  # ISO date; None: from the first conversation
    until: str | None = None  # ISO date, inclusive; None: up to now
    batch_size: int = 100  # items per activity
    parallel: int = 4  # activities in flight at once (spread over the workers)
    max_rate: float = 0.0  # items per second per activity; 0: as fast as it goes (spares a live database)
    heartbeat_timeout_s: float = 30.0  # a worker silent this long is presumed dead; its batch is retried elsewhere
    out_dir: str | None = None  # insights: where the report goes
    engine: str = "temporal"
    waves_per_history: int = 200  # rounds of batches before the workflow continues as new (bounded history)
    # carried over continue-as-new (a long run starts a fresh history every few hundred batches)
    cursor: str | None = None
    done: int = 0
    total: int = 0
    started: bool = False


@dataclass
class ItemPage:
    """Ask for the next page of a job's items after ``after`` (keyset paging by item id)."""

    job: str
    since: str | None
    until: str | None
    after: str | None
    limit: int


@dataclass
class ItemBatch:
    """A batch of items for one activity."""

    run_id: str
    job: str
    items: list[str]
    since: str | None = None
    until: str | None = None
    out_dir: str | None = None
    max_rate: float = 0.0


@dataclass
class BatchOutcome:
    """What one batch did: items processed now, items found already done (by an earlier attempt)."""

    processed: int = 0
    skipped: int = 0


@dataclass
class RunStart:
    """Register a run in ``batch_runs`` and count its items."""

    run_id: str
    job: str
    engine: str
    since: str | None
    until: str | None


@dataclass
class BatchResult:
    """A finished run."""

    run_id: str
    job: str
    total: int
    done: int
