"""Load test of several server workers: turns/s and p95 with 1, 2 and 4 workers on PostgreSQL vs one on SQLite.

For each configuration a real ``sangdam serve`` is started on a fresh, seeded database (tests/worker_support.py:
the server tests' world, a customer-channel key bound to C-C), then N conversations are opened at once and each
sends ``--turns`` fast-path messages (classifier route, tool reads, no LLM), all conversations concurrently, from
an httpx async client in this process (the servers are other processes). The rate limiter stays on (a limit no
test reaches), so its cost — an upsert per request on PostgreSQL — is measured too. Bounded per configuration.

    .venv/bin/python bench/load/workers_load.py --conversations 200 --turns 3
    .venv/bin/python bench/load/workers_load.py --configs pg:2 --conversations 50      # one configuration
    .venv/bin/python bench/load/workers_load.py --quick     # smoke run: pg:1, 5 conversations × 2 turns

Needs a PostgreSQL server: ``SANGDAM_TEST_PG_URL`` names one, else ``scripts/postgres.sh start`` runs the local one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

MESSAGES = ["이번 달 요금 얼마 나왔어요?", "데이터 얼마나 남았어요?", "로밍 요금제 알려주세요", "약정 언제 끝나요?"]
NO_LIMIT_REACHED = 1_000_000  # requests a minute: the limiter runs, nobody is refused


def postgres_server() -> str:
    url = os.environ.get("SANGDAM_TEST_PG_URL")
    if url:
        return url
    out = subprocess.run([str(REPO / "scripts" / "postgres.sh"), "start"], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


class Database:
    """A fresh database for one configuration (PostgreSQL: created and dropped; SQLite: a file)."""

    def __init__(self, kind: str, server: str | None) -> None:
        self.kind, self.server = kind, server
        if kind == "sqlite":
            self.url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='sangdam-bench-')) / 'sangdam.db'}"
        else:
            self.name = f"sangdam_bench_{uuid.uuid4().hex[:10]}"
            self._admin(f'CREATE DATABASE "{self.name}"')
            self.url = make_url(server).set(database=self.name).render_as_string(hide_password=False)

    def _admin(self, sql: str) -> None:
        engine = create_engine(self.server, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()

    def drop(self) -> None:
        if self.kind != "sqlite":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


async def conversation(client: httpx.AsyncClient, key: str, turns: int, lat: list[float], errors: list[str],
                       retried: list[str]) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    conv = None
    try:
        res = await client.post("/api/v1/conversations", json={"channel": "api"}, headers=headers)
        res.raise_for_status()
        conv = res.json()["id"]
        for i in range(turns):
            t0 = time.perf_counter()
            for attempt in range(4):  # like the web chat: a send cut in transit is sent again under its key
                try:
                    res = await client.post(f"/api/v1/conversations/{conv}/messages",
                                            json={"text": MESSAGES[i % len(MESSAGES)]},
                                            headers={**headers, "Idempotency-Key": f"t{i}"})
                    break
                except httpx.TransportError as exc:
                    retried.append(type(exc).__name__)
                    if attempt == 3:
                        raise
            if res.status_code != 200 or not res.json()["reply"]:
                errors.append(f"{res.status_code} {res.text[:80]}")
                continue
            lat.append((time.perf_counter() - t0) * 1000)
    except Exception as exc:  # noqa: BLE001 - a benchmark counts errors, it does not stop
        errors.append(f"{type(exc).__name__} ({'open' if conv is None else 'send'}): {str(exc)[:80]}")


async def load(base: str, key: str, n: int, turns: int, max_s: float) -> dict[str, float | str]:
    lat: list[float] = []
    errors: list[str] = []
    retried: list[str] = []
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, timeout=max_s, limits=limits) as client:
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(*(conversation(client, key, turns, lat, errors, retried) for _ in range(n))),
                                   max_s)
        except TimeoutError:
            errors.append("timed out")
        wall = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=20) if len(lat) >= 2 else [float("nan")] * 19
    return {"turns": len(lat), "errors": len(errors), "retried": len(retried), "wall_s": wall, "tps": len(lat) / wall,
            "p50": statistics.median(lat) if lat else float("nan"), "p95": q[18],
            "first_error": "; ".join(f"{n}× {e}" for e, n in Counter(errors).most_common(3))}


def run_config(kind: str, workers: int, server: str | None, args: argparse.Namespace) -> dict[str, float | str]:
    from worker_support import served_workers

    db = Database(kind, server)
    try:
        with served_workers(db.url, workers=workers, rate_limit=NO_LIMIT_REACHED) as live:
            asyncio.run(load(live.base, live.keys["c"], 2 * workers, 1, 120))  # every worker warm
            return asyncio.run(load(live.base, live.keys["c"], args.conversations, args.turns, args.max_seconds))
    finally:
        db.drop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["sqlite:1", "pg:1", "pg:2", "pg:4"],
                    help="database:workers, e.g. sqlite:1 pg:2")
    ap.add_argument("--conversations", type=int, default=200)
    ap.add_argument("--turns", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: one PostgreSQL worker, 5 conversations, 2 turns each")
    args = ap.parse_args()
    if args.quick:
        args.configs, args.conversations, args.turns, args.max_seconds = ["pg:1"], 5, 2, 60
    server = postgres_server() if any(c.startswith("pg") for c in args.configs) else None

    print(f"{args.conversations} concurrent conversations × {args.turns} turns, {os.cpu_count()} CPU cores")
    print(f"{'database':>10} {'workers':>7} {'turns':>6} {'errors':>6} {'retried':>7} {'wall s':>7} {'turns/s':>8} "
          f"{'p50 ms':>8} {'p95 ms':>8}")
    for config in args.configs:
        kind, workers = config.split(":")
        r = run_config(kind, int(workers), server, args)
        name = "PostgreSQL" if kind == "pg" else "SQLite"
        print(f"{name:>10} {workers:>7} {r['turns']:>6} {r['errors']:>6} {r['retried']:>7} {r['wall_s']:>7.1f} {r['tps']:>8.1f} "
              f"{r['p50']:>8.0f} {r['p95']:>8.0f} {r['first_error']}", flush=True)


if __name__ == "__main__":
    main()
