"""Load test: N concurrent conversations over HTTP on loopback, fast-path turns (classifier route, no LLM).

Starts a real uvicorn server in a thread on a fresh demo database, then for each N opens N conversations and
sends ``TURNS`` messages each, all conversations concurrently (httpx async client in a separate process, so
the load generator does not compete with the server for the GIL). Bounded: at most
``--max-seconds`` per level. Prints throughput, p50/p95 latency and errors per N.

    .venv/bin/python bench/load/http_load.py --levels 50 100 200 --turns 3
    .venv/bin/python bench/load/http_load.py --quick     # smoke run: 5 conversations × 2 turns
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import datetime as dt
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

TODAY = dt.date(2026, 11, 29)
MESSAGES = ["이번 달 요금 얼마 나왔어요?", "데이터 얼마나 남았어요?", "로밍 요금제 알려주세요", "약정 언제 끝나요?"]


async def conversation(client: httpx.AsyncClient, key: str, turns: int, lat: list[float], errors: list[str]) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    try:
        res = await client.post("/api/v1/conversations", json={"channel": "api", "customer_id": "C-A"}, headers=headers)
        res.raise_for_status()
        conv = res.json()["id"]
        for i in range(turns):
            t0 = time.perf_counter()
            res = await client.post(f"/api/v1/conversations/{conv}/messages", json={"text": MESSAGES[i % len(MESSAGES)]},
                                    headers=headers)
            if res.status_code != 200 or not res.json()["reply"]:
                errors.append(f"{res.status_code} {res.text[:80]}")
                continue
            lat.append((time.perf_counter() - t0) * 1000)
    except Exception as exc:  # noqa: BLE001 - a benchmark counts errors, it does not stop
        errors.append(type(exc).__name__ + ": " + str(exc)[:80])


async def level(base: str, key: str, n: int, turns: int, max_s: float) -> dict[str, float]:
    lat: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, timeout=max_s, limits=limits) as client:
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(*(conversation(client, key, turns, lat, errors) for _ in range(n))), max_s)
        except TimeoutError:
            errors.append("level timed out")
        wall = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=20) if len(lat) >= 2 else [float("nan")] * 19
    return {"n": n, "turns": len(lat), "errors": len(errors), "wall_s": wall, "tps": len(lat) / wall,
            "p50": statistics.median(lat) if lat else float("nan"), "p95": q[18], "first_error": errors[0] if errors else ""}


def run_level(base: str, key: str, n: int, turns: int, max_s: float) -> dict[str, float]:
    """One level, run in a separate process so the load generator does not share the server's GIL."""
    return asyncio.run(level(base, key, n, turns, max_s))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--turns", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--quick", action="store_true", help="smoke run: one level of 5 conversations, 2 turns each")
    args = ap.parse_args()
    if args.quick:
        args.levels, args.turns, args.max_seconds = [5], 2, 60

    from sangdam.orchestrator.router import get_intent_model
    from sangdam.server.app import create_app
    from sangdam.server.keys import create_key
    from server_support import make_server_world, running_server

    engine = make_server_world(Path(tempfile.mkdtemp(prefix="sangdam-load-")) / "sangdam.db")
    key = create_key(engine, "channel-trusted").key  # server to server: may open conversations verified as C-A
    get_intent_model()  # warm the router outside the measurement
    app = create_app(engine, today=TODAY, rate_per_minute=0)
    with running_server(app) as base:
        asyncio.run(level(base, key, 2, 1, 60))  # warm-up: first turn loads kiwi and the agents
        print(f"{'N':>5} {'turns':>6} {'errors':>6} {'wall s':>7} {'turns/s':>8} {'p50 ms':>8} {'p95 ms':>8}")
        spawn = multiprocessing.get_context("spawn")
        for n in args.levels:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                r = pool.submit(run_level, base, key, n, args.turns, args.max_seconds).result()
            print(f"{r['n']:>5} {r['turns']:>6} {r['errors']:>6} {r['wall_s']:>7.1f} {r['tps']:>8.1f} {r['p50']:>8.0f} "
                  f"{r['p95']:>8.0f} {r['first_error']}")


if __name__ == "__main__":
    main()
