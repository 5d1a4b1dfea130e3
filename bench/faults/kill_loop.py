"""Kill -9 loop against several workers: nothing lost, duplicated, reordered or charged twice.

Starts ``sangdam serve --workers 2`` on a fresh PostgreSQL database with ``--customers`` extra customers (one line
each, a key bound to each). Every customer's client, concurrently, sends a scripted conversation — reads, a data
refill proposal and "네", more reads — one message at a time, retrying a message that got no answer under the same
``Idempotency-Key`` like the web chat does. Meanwhile the killer, once a round, either sends SIGKILL to a random
worker from outside, or arms the server's fault hook (``sangdam.server.faults``) so that the next worker to commit a
refill (``tool_executions``) or a saved turn (``messages``) dies right after that commit. uvicorn's supervisor
replaces every dead worker.

Checked at the end, per conversation: every sent message stored exactly once, each followed by exactly one reply,
in the order sent; each agreed refill charged exactly once (6 GB on the line, three writes that ran); every message
answered.

    .venv/bin/python bench/faults/kill_loop.py --rounds 30 --customers 12
    .venv/bin/python bench/faults/kill_loop.py --quick     # smoke run: up to 3 kills, 2 conversations, 1 read round
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import select

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench" / "load"))

from workers_load import Database, postgres_server  # noqa: E402

SCRIPT = ["이번 달 요금 얼마예요?", "데이터 얼마나 남았어요?", "데이터 2기가 충전해줘", "네", "데이터 얼마나 남았어요?",
          "약정 언제 끝나요?"]
REFILLED = "데이터 2GB를 충전했습니다"
REFILLS = 3  # refills of 2 GB per conversation, spread over it (the monthly cap allows 10 GB)


def seed_customers(url: str, count: int) -> dict[str, str]:
    """``count`` customers like C-C (one active 5G 슬림 line each) and a key bound to each: customer id → key."""
    from sangdam.domain.db import make_engine, session_scope
    from sangdam.domain.models import Customer, Line
    from sangdam.server.keys import create_key

    engine = make_engine(url)
    keys = {}
    with session_scope(engine) as s:
        for i in range(count):
            cid = f"C-K{i:03d}"
            s.add(Customer(id=cid, name=f"고객{i}", birth_date=dt.date(1990, 1, 1 + i % 28),
                           phone=f"010-7000-{i:04d}", email=None, address="서울특별시 중구 1", segment="standard",
                           preferences={}))
            s.flush()
            s.add(Line(id=f"L-K{i:03d}", customer_id=cid, number=f"010-7000-{i:04d}", plan_id="P-5G-SLIM",
                       status="active"))
    for i in range(count):
        keys[f"C-K{i:03d}"] = create_key(engine, "customer-channel", customer_id=f"C-K{i:03d}").key
    engine.dispose()
    return keys


class Client(threading.Thread):
    """One customer: the script, message after message, each retried under one Idempotency-Key until answered."""

    def __init__(self, base: str, customer: str, key: str, repeats: int, deadline: float) -> None:
        super().__init__(daemon=True)
        self.base, self.customer, self.key, self.repeats, self.deadline = base, customer, key, repeats, deadline
        self.conv: str | None = None
        self.sent: list[str] = []
        self.replies: list[str] = []
        self.unanswered = 0
        self.retries = 0

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while self.conv is None and time.monotonic() < self.deadline:
                try:
                    res = client.post("/api/v1/conversations", json={"channel": "api"}, headers=headers)
                    if res.status_code == 201:
                        self.conv = res.json()["id"]
                except httpx.TransportError:
                    time.sleep(0.2)
            reads = [m for _ in range(self.repeats) for m in (SCRIPT[0], SCRIPT[4], SCRIPT[5])]
            script = [*SCRIPT[:2], *[m for _ in range(REFILLS) for m in (*SCRIPT[2:4], *reads)]]
            for n, text in enumerate(script):
                reply = self._send(client, headers, text, f"{self.customer}-{n}")
                if reply is None:
                    self.unanswered += 1
                    return
                self.sent.append(text)
                self.replies.append(reply)

    def _send(self, client: httpx.Client, headers: dict[str, str], text: str, key: str) -> str | None:
        first = True
        while time.monotonic() < self.deadline:
            if not first:
                self.retries += 1
                time.sleep(0.2)
            first = False
            try:
                res = client.post(f"/api/v1/conversations/{self.conv}/messages", json={"text": text},
                                  headers={**headers, "Idempotency-Key": key})
            except httpx.TransportError:
                continue  # the worker died with the request
            if res.status_code == 200:
                return res.json()["reply"]
            if res.status_code < 500 and res.status_code != 409:
                return None
        return None


def killer(live, rounds: int, period_s: float, stop: threading.Event, log: Counter) -> None:  # noqa: ANN001
    """Once a round: kill -9 a random worker, or arm the fault hook at one of the two commit points."""
    rng = random.Random(7)
    for _ in range(rounds):
        if stop.wait(period_s * rng.uniform(0.5, 1.5)):
            return
        how = rng.choice(["external", "tool_executions", "tool_executions", "messages"])
        if how == "external":
            pids = live.pids()
            if pids:
                os.kill(rng.choice(pids), signal.SIGKILL)
                log["kill -9 from outside"] += 1
        else:
            live.arm(how)
            deadline = time.monotonic() + period_s * 5
            while not live.fired() and time.monotonic() < deadline and not stop.is_set():
                time.sleep(0.05)
            log[f"died after a commit into {how}" if live.fired() else f"armed {how}, not reached"] += 1
            live.fault_file.unlink(missing_ok=True)


def check(db_url: str, clients: list[Client]) -> dict[str, int]:
    from sangdam.domain.conversation_models import Message
    from sangdam.domain.db import make_engine, session_scope
    from sangdam.domain.models import AuditLog, Line

    engine = make_engine(db_url)
    out = Counter()
    with session_scope(engine) as s:
        for c in clients:
            rows = s.execute(select(Message.idx, Message.role, Message.text).where(Message.conversation_id == c.conv)
                             .order_by(Message.idx)).all()
            customer = [t for _, role, t in rows if role == "customer"]
            out["messages sent"] += len(c.sent)
            out["lost"] += max(0, len(c.sent) - len(customer))
            out["duplicated"] += max(0, len(customer) - len(c.sent))
            out["out of order or not alternating"] += int(
                customer != c.sent or [r for _, r, _ in rows] != ["customer", "bot"] * len(c.sent)
                or [i for i, _, _ in rows] != list(range(len(rows))))
            out["unanswered"] += c.unanswered
            out["retried requests"] += c.retries
            line = s.get(Line, "L-K" + c.customer[3:])
            ran = s.scalars(select(AuditLog).where(AuditLog.tool == "refill_data")).all()
            ran = sum(1 for r in ran if r.result.get("ok") and not r.result.get("replayed")
                      and r.result.get("context", {}).get("customer_id") == c.customer)
            out["refills charged"] += ran
            out["charged twice"] += max(0, ran - REFILLS) + int(line.data_refill_gb > 2 * REFILLS)
            out["charge missing"] += max(0, REFILLS - ran) + int(line.data_refill_gb < 2 * REFILLS)
            out["told 'charged'"] += sum(REFILLED in r for r in c.replies)
    engine.dispose()
    return dict(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30, help="kills (one a round)")
    ap.add_argument("--period", type=float, default=2.0, help="seconds between kills, on average")
    ap.add_argument("--customers", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=10, help="read rounds after each refill")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=480)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: up to 3 kills about 0.5 s apart, 2 conversations, 1 read round after each refill")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.period, args.customers, args.repeats, args.max_seconds = 3, 0.5, 2, 1, 90

    from worker_support import _wait_until_serving as wait_until_serving
    from worker_support import served_workers

    db = Database("pg", postgres_server())
    try:
        with served_workers(db.url, workers=args.workers, rate_limit=0) as live:
            keys = seed_customers(db.url, args.customers)
            deadline = time.monotonic() + args.max_seconds
            clients = [Client(live.base, cid, key, args.repeats, deadline) for cid, key in keys.items()]
            kills: Counter = Counter()
            stop = threading.Event()
            murderer = threading.Thread(target=killer, args=(live, args.rounds, args.period, stop, kills), daemon=True)
            t0 = time.monotonic()
            for c in clients:
                c.start()
            murderer.start()
            for c in clients:
                c.join(max(0.0, deadline - time.monotonic()) + 5)
            stop.set()
            murderer.join(10)
            wall = time.monotonic() - t0
            result = check(db.url, clients)
            # let a worker replaced by the last kill finish its start: a supervisor stopped while one is still
            # warming up can take its whole 30 s shutdown grace to exit; its warm-up may train the router (the e5
            # features included) when the home has no cached model, over a minute on two busy cores
            wait_until_serving(live, db.url, args.workers, timeout=180)
    finally:
        db.drop()
    print(f"{args.workers} workers, {args.customers} conversations, {wall:.1f} s, run {uuid.uuid4().hex[:6]}")
    for what, n in sorted(kills.items()):
        print(f"  {what:<40} {n:>6}")
    for what, n in result.items():
        print(f"  {what:<40} {n:>6}")
    bad = sum(result[k] for k in ("lost", "duplicated", "out of order or not alternating", "unanswered",
                                  "charged twice", "charge missing"))
    print("OK: nothing lost, duplicated, reordered or charged twice" if bad == 0 else f"FAILED: {bad} problems")
    sys.exit(0 if bad == 0 else 1)


if __name__ == "__main__":
    main()
