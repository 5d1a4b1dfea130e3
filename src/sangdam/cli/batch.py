"""``sangdam batch``: after-call summaries, QA scoring, the insights report and KB re-indexing over a date range,
in-process (``--engine local``, the default: nothing else needs to run) or as a Temporal workflow
(``--engine temporal``: run ``sangdam batch worker`` on as many machines as the load needs). docs/batch.md.

  sangdam batch summarize|qa|insights|reindex --since DATE [--until DATE] [--engine temporal|local]
        [--address HOST:PORT] [--batch-size N] [--parallel N] [--max-rate N] [--run-id ID] [--out DIR]
  sangdam batch worker [--address HOST:PORT] [--concurrency N]

Prints the run id (the workflow id under Temporal), shows a progress bar read from the bookkeeping table, and exits
0 when every item is done (2 on a bad argument, 1 when the run failed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Batch jobs over stored conversations (local or on Temporal).", no_args_is_help=True)
console = Console(stderr=True)

Since = Annotated[dt.datetime | None, typer.Option("--since", formats=["%Y-%m-%d"],
                                                   help="First day (conversations created on or after it).")]
Until = Annotated[dt.datetime | None, typer.Option("--until", formats=["%Y-%m-%d"],
                                                   help="Last day, inclusive (default: up to now).")]
EngineOpt = Annotated[str, typer.Option("--engine", help="local (in-process, the default) or temporal.")]
Address = Annotated[str, typer.Option("--address", help="Temporal frontend HOST:PORT.")]
Namespace = Annotated[str, typer.Option("--namespace", help="Temporal namespace.")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, max=10_000, help="Items per activity.")]
Parallel = Annotated[int, typer.Option("--parallel", min=1, max=256,
                                       help="Batches in flight at once (local: threads; Temporal: over the workers).")]
MaxRate = Annotated[float, typer.Option("--max-rate", min=0,
                                        help="Items per second per batch (0: unlimited); spares a live database.")]
RunId = Annotated[str | None, typer.Option("--run-id", help="Resume (local) or name (temporal) this run.")]
Out = Annotated[Path | None, typer.Option("--out", help="insights: report folder (default SANGDAM_HOME/insights/…).")]


def _run(job: str, since: dt.datetime | None, until: dt.datetime | None, engine_name: str, address: str,
         namespace: str, batch_size: int, parallel: int, max_rate: float, run_id: str | None, out: Path | None) -> None:
    from sangdam.batch.contracts import BatchRequest
    from sangdam.batch.local import new_run_id
    from sangdam.config import get_settings
    from sangdam.domain.db import get_engine, migrate

    if engine_name not in ("local", "temporal"):
        console.print(f"[red]error[/red] --engine must be local or temporal, got {engine_name!r}")
        raise typer.Exit(2)
    if job in ("summarize", "qa", "insights") and since is None:
        console.print(f"[red]error[/red] batch {job} needs --since DATE")
        raise typer.Exit(2)
    start = since.date().isoformat() if since else None
    end = until.date().isoformat() if until else None
    if start and end and end < start:
        console.print(f"[red]error[/red] --until {end} is before --since {start}")
        raise typer.Exit(2)
    engine = get_engine(get_settings().db_url)
    migrate(engine)
    request = BatchRequest(run_id or new_run_id(engine_name, job, start, end), job, start, end, batch_size=batch_size,
                           parallel=parallel, max_rate=max_rate, out_dir=str(out.resolve()) if out else None,
                           engine=engine_name)
    if engine_name == "local":
        typer.echo(request.run_id)
        result = _run_local(engine, request)
    else:
        result = asyncio.run(_run_temporal(engine, request, address, namespace))
    console.print(f"[green]done[/green] {request.job}: {result.done} of {result.total} items ({request.run_id})")


def _progress():  # noqa: ANN202 - rich Progress
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def _run_local(engine, request):  # noqa: ANN001, ANN202 - Engine, BatchRequest -> BatchResult
    from sangdam.batch.items import BatchJobError
    from sangdam.batch.local import run_local

    with _progress() as progress:
        task = progress.add_task(request.job, total=None)
        try:
            return run_local(engine, request, lambda done, total: progress.update(task, completed=done, total=total))
        except BatchJobError as exc:
            console.print(f"[red]error[/red] {exc}")
            raise typer.Exit(1) from exc


async def _run_temporal(engine, request, address: str, namespace: str):  # noqa: ANN001, ANN202
    from temporalio.client import WorkflowFailureError

    from sangdam.batch.items import run_progress
    from sangdam.batch.worker import connect, start_batch

    try:
        client = await connect(address, namespace)
    except RuntimeError as exc:
        console.print(f"[red]error[/red] Temporal at {address} is not reachable: {exc}")
        raise typer.Exit(2) from exc
    handle = await start_batch(client, request)
    typer.echo(handle.id)
    console.print(f"workflow [bold]{handle.id}[/bold] started on {address}; run `sangdam batch worker` to process it")
    result_task = asyncio.ensure_future(handle.result())
    with _progress() as progress:
        task = progress.add_task(request.job, total=None)
        while not result_task.done():
            done, total, status = run_progress(engine, request.run_id)
            if status is None:  # not in this database (yet): ask the workflow, which counts finished batches
                done, total = await _query_progress(handle, done, total)
            progress.update(task, completed=done, total=total or None)
            await asyncio.wait([result_task], timeout=0.5)
        try:
            result = result_task.result()
        except WorkflowFailureError as exc:
            console.print(f"[red]failed[/red] {handle.id}: {exc.cause or exc}")
            raise typer.Exit(1) from exc
        progress.update(task, completed=result.done, total=result.total)
    return result


async def _query_progress(handle, done: int, total: int) -> tuple[int, int]:  # noqa: ANN001 - WorkflowHandle
    """The workflow's ``progress`` query, or what we had when no worker answers within 2 s."""
    from temporalio.client import WorkflowQueryFailedError
    from temporalio.service import RPCError

    try:
        answer = await asyncio.wait_for(handle.query("progress", result_type=list[int]), 2)
    except (TimeoutError, RPCError, WorkflowQueryFailedError):
        return done, total
    return answer[0], answer[1]


def _job_command(job: str, doc: str):  # noqa: ANN202 - a typer command
    def command(since: Since = None, until: Until = None, engine: EngineOpt = "local",
                address: Address = "localhost:7233", namespace: Namespace = "default", batch_size: BatchSize = 100,
                parallel: Parallel = 4, max_rate: MaxRate = 0.0, run_id: RunId = None, out: Out = None) -> None:
        _run(job, since, until, engine, address, namespace, batch_size, parallel, max_rate, run_id, out)

    command.__doc__ = doc
    command.__name__ = job
    return command


app.command("summarize")(_job_command("summarize", "Store the after-call summary of every conversation in range."))
app.command("qa")(_job_command("qa", "Score every conversation in range against the QA rubric."))
app.command("insights")(_job_command("insights", "Write the insights report (call drivers, gaps) for the range."))
app.command("reindex")(_job_command("reindex", "Re-ingest every knowledge base from its source folder."))


@app.command("worker")
def worker(address: Address = "localhost:7233", namespace: Namespace = "default",
           concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64,
                                                    help="Batches this worker runs at once.")] = 4) -> None:
    """Run a Temporal worker for batch jobs (the workflow and its activities) until interrupted."""
    from sangdam.batch.worker import run_worker
    from sangdam.config import get_settings
    from sangdam.domain.db import get_engine, migrate

    migrate(get_engine(get_settings().db_url))
    console.print(f"batch worker polling {address} ({namespace}), {concurrency} at a time")
    try:
        asyncio.run(run_worker(address, namespace, concurrency=concurrency))
    except KeyboardInterrupt:
        pass
