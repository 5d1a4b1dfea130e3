"""The insights dashboard's API latency at scale: ``GET /api/v1/insights/summary`` over N conversations.

Bulk-inserts N conversations spread over the year before the business date (2026-11-29) into a fresh SQLite
file — each with its messages (customer/bot, and agent/handoff notices for ~20% of them), turn_intents,
turn_signals and qa_scores rows, written with executemany, not through the orchestrator — then serves the app on
loopback (uvicorn in a thread) and times the summary over a 30-day range and over all time (p50/p95 of
``--requests`` calls each, after one warm-up call). Prints the numbers; ``--keep`` leaves the database for a look.

    .venv/bin/python bench/insights/dashboard.py                 # 100k conversations
    .venv/bin/python bench/insights/dashboard.py --quick         # 2k conversations, 5 calls per range
    .venv/bin/python bench/insights/dashboard.py --explain       # also the SQLite query plans
    .venv/bin/python bench/insights/dashboard.py --db /tmp/i.db --indexes   # reuse a database, add INDEXES
    .venv/bin/python bench/insights/dashboard.py --database-url postgresql+psycopg://…/empty_db

``--indexes`` adds, to the bench database only, the covering indexes proposed to the lead (not a migration: see
docs/benchmarks.md for what each one changes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine, insert, inspect, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

TODAY = dt.date(2026, 11, 29)
DAYS = 365
INTENTS = ["billing.inquiry", "billing.payment", "plan.info", "plan.change", "data.usage", "data.refill",
           "roaming.enable", "roaming.info", "tech.troubleshoot", "line.suspend", "contract.cancel",
           "policy.question", "agent.human", "chitchat", "out_of_scope"]
SENTIMENTS = ["positive", "neutral", "neutral", "neutral", "negative", "angry"]
QA_ITEMS = ["identity_before_disclosure", "confirmation_before_write", "refusal_explained", "grounded_facts",
            "handoff_when_needed", "resolution", "polite_register", "response_latency"]
BATCH = 20_000
# proposed covering indexes: every aggregate then reads an index only, never the tables' rows
INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_messages_conversation_role ON messages (conversation_id, role)",
    "CREATE INDEX IF NOT EXISTS ix_conversations_created_mode ON conversations (created_at, mode, id)",
    "CREATE INDEX IF NOT EXISTS ix_qa_scores_conversation_verdict ON qa_scores (conversation_id, item, passed)",
    "CREATE INDEX IF NOT EXISTS ix_turn_signals_at_sentiment ON turn_signals (at, sentiment)",
    "CREATE INDEX IF NOT EXISTS ix_turn_intents_at_intent ON turn_intents (at, intent, conversation_id)",
]


def generate(engine: Engine, n: int, seed: int = 16) -> dict[str, int]:
    """N conversations with their rows, bulk-inserted in batches; returns the row count of each table."""
    from sangdam.domain.conversation_models import Conversation, Message
    from sangdam.domain.insight_models import QaScore, TurnIntent, TurnSignal

    rng = random.Random(seed)
    start = dt.datetime.combine(TODAY - dt.timedelta(days=DAYS - 1), dt.time())
    counts = dict.fromkeys(("conversations", "messages", "turn_intents", "turn_signals", "qa_scores"), 0)
    tables = [(Conversation, "conversations"), (Message, "messages"), (TurnIntent, "turn_intents"),
              (TurnSignal, "turn_signals"), (QaScore, "qa_scores")]
    rows: dict[str, list[dict]] = {name: [] for _, name in tables}

    def flush(conn) -> None:  # noqa: ANN001
        for model, name in tables:
            if rows[name]:
                conn.execute(insert(model.__table__), rows[name])
                counts[name] += len(rows[name])
                rows[name].clear()

    with engine.begin() as conn:
        for i in range(n):
            cid = f"CV-{i:07d}"
            created = start + dt.timedelta(seconds=rng.randrange(DAYS * 86400))
            handed = rng.random() < 0.2
            mode = "human" if handed and rng.random() < 0.3 else rng.choice(["bot", "closed"])
            rows["conversations"].append({"id": cid, "channel": "web", "customer_id": None, "verified_customer_id": None,
                                          "mode": mode, "state": {}, "created_at": created, "updated_at": created})
            turns = rng.randrange(1, 5)
            roles = ["customer", "bot"] * turns + (["system", "agent"] if handed else [])
            for idx, role in enumerate(roles):
                rows["messages"].append({"conversation_id": cid, "idx": idx, "role": role, "text": "…",
                                         "at": created + dt.timedelta(seconds=20 * idx)})
            for turn in range(turns):
                at = created + dt.timedelta(seconds=40 * turn)
                for intent in rng.sample(INTENTS, 1 if rng.random() < 0.8 else 2):
                    rows["turn_intents"].append({"conversation_id": cid, "turn_index": turn, "intent": intent,
                                                 "via": "classifier", "at": at})
                label = rng.choice(SENTIMENTS)
                rows["turn_signals"].append({"conversation_id": cid, "turn_index": turn, "sentiment": label,
                                             "score": 0.0, "escalate": label == "angry", "at": at})
            for item in QA_ITEMS:
                rows["qa_scores"].append({"conversation_id": cid, "item": item,
                                          "passed": rng.choice([True, True, True, False, None]), "evidence": {},
                                          "rubric_version": "bench", "scored_at": created + dt.timedelta(hours=1)})
            if len(rows["conversations"]) >= BATCH:
                flush(conn)
        flush(conn)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return counts


def timed(client: httpx.Client, key: str, params: dict[str, str], calls: int) -> tuple[list[float], dict]:
    headers = {"Authorization": f"Bearer {key}"}
    body = client.get("/api/v1/insights/summary", params=params, headers=headers).raise_for_status().json()  # warm-up
    latencies = []
    for _ in range(calls):
        t0 = time.perf_counter()
        client.get("/api/v1/insights/summary", params=params, headers=headers).raise_for_status()
        latencies.append((time.perf_counter() - t0) * 1000)
    return latencies, body


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def per_query(engine: Engine, span_days: int, calls: int) -> dict[str, float]:
    """Median in-process time of each aggregate (which one dominates)."""
    from sangdam.contact_center import dashboard

    span = dashboard.DateRange(start=TODAY - dt.timedelta(days=span_days - 1), end=TODAY)
    parts = {"volume": dashboard._volume, "qa": dashboard._qa, "sentiment": dashboard._sentiment,
             "drivers": lambda conn, s: dashboard._drivers(conn, s, 15)}
    out = {}
    with engine.connect() as conn:
        for name, run in parts.items():
            samples = []
            for _ in range(max(1, calls)):
                t0 = time.perf_counter()
                run(conn, span)
                samples.append((time.perf_counter() - t0) * 1000)
            out[name] = statistics.median(samples)
    return out


def explain(engine: Engine) -> None:
    """SQLite's plan of each aggregate (what an index would change)."""
    from sqlalchemy.dialects import sqlite

    from sangdam.contact_center import dashboard

    span = dashboard.DateRange(start=TODAY - dt.timedelta(days=29), end=TODAY)
    captured: list[str] = []
    with engine.connect() as conn:
        class Spy:
            def execute(self, stmt):  # noqa: ANN001, ANN202
                captured.append(str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})))
                return conn.execute(stmt)

        dashboard._volume(Spy(), span), dashboard._qa(Spy(), span)
        dashboard._sentiment(Spy(), span), dashboard._drivers(Spy(), span, 15)
        for sql in captured:
            print("\n" + sql.splitlines()[0][:100] + " …")
            for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql):
                print("   ", row[-1])


def screenshot(base: str, key: str, params: dict[str, str], out: Path) -> float:
    """Open /console/insights in Debian chromium over ``params``; save a full-page screenshot; seconds from
    "조회" to the charts drawn (the page's data-range attribute)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_context(locale="ko-KR", viewport={"width": 1400, "height": 1500}).new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{base}/console/insights")
        page.get_by_test_id("key").fill(key)
        page.get_by_test_id("login").click()
        page.locator("body[data-range]").wait_for(state="attached")
        page.get_by_test_id("from").fill(params["from"])
        page.get_by_test_id("to").fill(params["to"])
        t0 = time.perf_counter()
        page.get_by_test_id("apply").click()
        page.locator(f"body[data-range='{params['from']}..{params['to']}']").wait_for(state="attached")
        took = time.perf_counter() - t0
        page.locator(f"body[data-gaps='{params['from']}..{params['to']}']").wait_for(state="attached")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30, help="timed calls per range")
    parser.add_argument("--quick", action="store_true", help="2k conversations, 5 calls per range")
    parser.add_argument("--explain", action="store_true", help="print SQLite's query plans")
    parser.add_argument("--db", type=Path, help="the database file: reused when it exists, else written and kept")
    parser.add_argument("--indexes", action="store_true", help="add the proposed covering indexes first")
    parser.add_argument("--screenshot", type=Path, help="also open the page over all time in chromium, save a PNG")
    parser.add_argument("--database-url", help=(
        "a PostgreSQL database instead of SQLite: an empty one is migrated and filled, a filled one reused"))
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.requests = 2_000, 5

    from sangdam.domain.db import make_engine, migrate
    from sangdam.server.app import create_app
    from sangdam.server.keys import create_key
    from server_support import running_server

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "insights.db"
        reuse = path.exists() and path.stat().st_size > 0
        engine = make_engine(args.database_url or f"sqlite:///{path}")
        reuse = inspect(engine).has_table("conversations") if args.database_url else reuse
        if reuse:
            with engine.connect() as conn:
                args.conversations = conn.exec_driver_sql("SELECT count(*) FROM conversations").scalar_one()
            print(f"reusing {args.database_url or path}: {args.conversations:,} conversations")
        else:
            migrate(engine)
            t0 = time.perf_counter()
            counts = generate(engine, args.conversations)
            load_s = time.perf_counter() - t0
            size = f"database {path.stat().st_size / 2**20:.1f} MiB" if not args.database_url else engine.dialect.name
            print(f"inserted {', '.join(f'{v:,} {k}' for k, v in counts.items())} in {load_s:.1f} s "
                  f"({sum(counts.values()) / load_s:,.0f} rows/s); {size}")
        if args.indexes:
            t0 = time.perf_counter()
            with engine.begin() as conn:
                for statement in INDEXES:
                    conn.exec_driver_sql(statement)
                conn.exec_driver_sql("ANALYZE")
            print(f"proposed indexes added in {time.perf_counter() - t0:.1f} s")
        if args.explain and engine.dialect.name == "sqlite":
            explain(engine)
        key = create_key(engine, "agent").key
        ranges = {"30 days": {"from": str(TODAY - dt.timedelta(days=29)), "to": str(TODAY)},
                  "all time": {"from": str(TODAY - dt.timedelta(days=DAYS - 1)), "to": str(TODAY)}}
        with running_server(create_app(engine, today=TODAY, rate_per_minute=0)) as base, \
                httpx.Client(base_url=base, timeout=120) as client:
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"\nGET /api/v1/insights/summary, {args.conversations:,} conversations, {args.requests} calls each "
                  f"(load average {load} on {os.cpu_count()} cores)")
            print(f"{'range':<10} {'conversations':>13} {'p50 ms':>9} {'p95 ms':>9} {'mean ms':>9}")
            for name, params in ranges.items():
                latencies, body = timed(client, key, params, args.requests)
                print(f"{name:<10} {body['volume']['total']:>13,} {statistics.median(latencies):>9.1f} "
                      f"{percentile(latencies, 0.95):>9.1f} {statistics.fmean(latencies):>9.1f}")
            if args.screenshot:
                took = screenshot(base, key, ranges["all time"], args.screenshot)
                print(f"\npage over all time: charts drawn {took * 1000:.0f} ms after 조회; screenshot {args.screenshot}")
        print("\nin process, median ms of each aggregate:")
        for name, days in (("30 days", 30), ("all time", DAYS)):
            parts = per_query(engine, days, min(args.requests, 5))
            print(f"{name:<10} " + "  ".join(f"{k} {v:.1f}" for k, v in parts.items()))
        engine.dispose()


if __name__ == "__main__":
    main()
