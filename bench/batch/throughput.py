"""Batch throughput (issue 16): after-call summaries and QA scoring of N generated conversations, items per second
and items per CPU-second ("per core"), on the local engine and on Temporal with 1 and 2 workers.

Set-up: a fresh SQLite database (the embedded default) with N conversations written by
``sangdam.batch.synthetic`` (2 turns on average, intents and tool calls in the traces); a Temporal dev server
(``temporal server start-dev``, headless, in memory) started here; workers are ``sangdam batch worker`` processes.
Each job runs over all N conversations as its own run. Wall time is from the start of the run to its last item;
CPU is the work process's user+system time over the run (the local process, or the workers summed, read from
/proc); the Temporal server's own CPU is shown apart. QA is measured only when ``sangdam.contact_center.qa`` is
installed, else the summary alone.

    .venv/bin/python bench/batch/throughput.py [--conversations 10000] [--batch-size 100] [--parallel 4] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sangdam.batch.contracts import BatchRequest
from sangdam.batch.devserver import temporal_dev_server
from sangdam.batch.items import run_progress
from sangdam.batch.local import new_run_id, run_local
from sangdam.batch.synthetic import insert_synthetic_conversations
from sangdam.domain.db import make_engine, migrate

SANGDAM = Path(sys.executable).with_name("sangdam")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_local_job(engine, job: str, batch_size: int) -> tuple[float, float, int]:  # noqa: ANN001
    request = BatchRequest(new_run_id("local", job, None, None), job, batch_size=batch_size, engine="local")
    cpu, wall = self_cpu(), time.perf_counter()
    result = run_local(engine, request)
    return time.perf_counter() - wall, self_cpu() - cpu, result.done


def start_workers(address: str, env: dict[str, str], count: int) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([str(SANGDAM), "batch", "worker", "--address", address, "--concurrency", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(count)]
    time.sleep(4)  # imports and first poll, before anything is timed
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_temporal_job(engine, address: str, workers: list[subprocess.Popen], server_pid: int | None, job: str,
                     batch_size: int, parallel: int) -> tuple[float, float, float, int]:  # noqa: ANN001
    from sangdam.batch.worker import connect, start_batch

    request = BatchRequest(new_run_id("temporal", job, None, None), job, batch_size=batch_size, parallel=parallel)

    async def go() -> int:
        client = await connect(address)
        handle = await start_batch(client, request)
        return (await handle.result()).done

    cpu = sum(cpu_of(p.pid) for p in workers)
    server_cpu = cpu_of(server_pid) if server_pid else 0.0
    wall = time.perf_counter()
    done = asyncio.run(go())
    wall = time.perf_counter() - wall
    assert run_progress(engine, request.run_id)[0] == done
    return wall, sum(cpu_of(p.pid) for p in workers) - cpu, (cpu_of(server_pid) - server_cpu) if server_pid else 0.0, done


def dev_server_pid() -> int | None:
    """The dev server's pid (the `temporal` child of this process)."""
    try:
        out = subprocess.run(["pgrep", "-P", str(os.getpid()), "temporal"], capture_output=True, text=True).stdout
        return int(out.split()[0]) if out.split() else None
    except (OSError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--workers", default="1,2", help="Temporal worker counts to measure")
    parser.add_argument("--quick", action="store_true", help="200 conversations, summaries, 1 worker")
    args = parser.parse_args()
    jobs = ["summarize"] + (["qa"] if importlib.util.find_spec("sangdam.contact_center.qa") else [])
    worker_counts = [int(w) for w in args.workers.split(",")]
    if args.quick:
        args.conversations, args.batch_size, jobs, worker_counts = 200, 50, ["summarize"], [1]

    folder = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    migrate(engine)
    t = time.perf_counter()
    insert_synthetic_conversations(engine, args.conversations, first_day=dt.date(2026, 11, 1), days=30)
    print(f"{args.conversations} conversations generated in {time.perf_counter() - t:.1f} s; jobs: {', '.join(jobs)}"
          + ("" if "qa" in jobs else " (quick mode: summaries only)" if args.quick
             else " (QA scoring not installed: summaries only)"))
    print(f"{'engine':<12} {'job':<10} {'items':>6} {'wall s':>8} {'items/s':>9} {'cpu s':>8} {'items/cpu-s':>12}"
          f" {'server cpu s':>13}", flush=True)

    def show(engine_name: str, job: str, done: int, wall: float, cpu: float, server_cpu: float) -> None:
        assert done == args.conversations, (engine_name, job, done)
        print(f"{engine_name:<12} {job:<10} {done:>6} {wall:>8.2f} {done / wall:>9.1f} {cpu:>8.2f} "
              f"{done / cpu if cpu else 0.0:>12.1f} {server_cpu:>13.2f}", flush=True)

    for job in jobs:
        wall, cpu, done = run_local_job(engine, job, args.batch_size)
        show("local", job, done, wall, cpu, 0.0)
    env = {**os.environ, "SANGDAM_DATABASE_URL": url}
    with temporal_dev_server() as address:
        server = dev_server_pid()
        for count in worker_counts:
            workers = start_workers(address, env, count)
            try:
                for job in jobs:
                    wall, cpu, server_cpu, done = run_temporal_job(engine, address, workers, server, job,
                                                                   args.batch_size, args.parallel)
                    show(f"temporal×{count}", job, done, wall, cpu, server_cpu)
            finally:
                stop(workers)
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
