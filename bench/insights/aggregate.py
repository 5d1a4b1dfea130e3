"""Latency of the insights aggregates (sangdam.insights.aggregate) at N conversations.

Bulk-inserts N synthetic conversations spread over the year before the business date into a fresh database —
conversations, customer/bot messages (an agent message or handoff notice for ~15%), turn_intents, turn_signals
and qa_scores, written with executemany, not through the orchestrator — then times every aggregate over the last
30 days and over the whole year: p50/p95 of ``--rounds`` calls each, after one warm-up call.

    .venv/bin/python bench/insights/aggregate.py                    # 100k conversations, SQLite
    .venv/bin/python bench/insights/aggregate.py --quick            # 2k conversations, 3 rounds
    .venv/bin/python bench/insights/aggregate.py --database-url postgresql+psycopg://…/empty_db
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, insert

from sangdam.domain.conversation_models import Conversation, Message
from sangdam.domain.db import make_engine, migrate
from sangdam.domain.insight_models import QaScore, TurnIntent, TurnSignal
from sangdam.insights import aggregate

TODAY = dt.date(2026, 11, 29)
INTENTS = ["billing.inquiry", "data.usage", "plan.change", "roaming.info", "tech.troubleshoot", "policy.question",
           "agent.human", "out_of_scope", "contract.info", "chitchat"]
QA_ITEMS = ["identity_first", "confirm_writes", "polite", "latency"]
SENTIMENTS = [("positive", 0.6), ("neutral", 0.0), ("negative", -0.5), ("angry", -1.0)]
CHUNK = 20_000


def populate(engine: Engine, n: int, seed: int = 1) -> dict[str, int]:
    """Insert ``n`` conversations' rows in chunks of executemany; returns the row counts."""
    rng = random.Random(seed)
    start = dt.datetime.combine(TODAY - dt.timedelta(days=365), dt.time())
    tables: dict[str, list[dict]] = {"conversations": [], "messages": [], "turn_intents": [], "turn_signals": [],
                                     "qa_scores": []}
    counts = dict.fromkeys(tables, 0)
    models = {"conversations": Conversation, "messages": Message, "turn_intents": TurnIntent,
              "turn_signals": TurnSignal, "qa_scores": QaScore}

    def flush() -> None:
        with engine.begin() as conn:
            for name, rows in tables.items():
                if rows:
                    conn.execute(insert(models[name]), rows)
                    counts[name] += len(rows)
                    rows.clear()

    for i in range(n):
        cid = f"CV-B{i:014d}"
        at = start + dt.timedelta(seconds=rng.randrange(365 * 86400))
        human = rng.random() < 0.15
        tables["conversations"].append({"id": cid, "channel": "web", "customer_id": None, "verified_customer_id": None,
                                        "mode": "human" if human and rng.random() < 0.5 else "bot", "state": {},
                                        "created_at": at, "updated_at": at})
        turns = rng.randint(1, 3)
        idx = 0
        for turn in range(1, turns + 1):
            t_at = at + dt.timedelta(seconds=40 * turn)
            for role in ("customer", "bot"):
                tables["messages"].append({"conversation_id": cid, "idx": idx, "role": role, "text": "…", "at": t_at})
                idx += 1
            tables["turn_intents"].append({"conversation_id": cid, "turn_index": turn, "intent": rng.choice(INTENTS),
                                           "via": "classifier", "at": t_at})
            label, score = rng.choice(SENTIMENTS)
            tables["turn_signals"].append({"conversation_id": cid, "turn_index": turn, "sentiment": label,
                                           "score": score, "escalate": label == "angry", "at": t_at})
        if human:
            tables["messages"].append({"conversation_id": cid, "idx": idx, "role": rng.choice(["agent", "system"]),
                                       "text": "…", "at": at + dt.timedelta(seconds=200)})
        for item in QA_ITEMS:
            r = rng.random()
            tables["qa_scores"].append({"conversation_id": cid, "item": item,
                                        "passed": None if r < 0.1 else r < 0.85, "evidence": {},
                                        "rubric_version": "bench", "scored_at": at})
        if (i + 1) % CHUNK == 0:
            flush()
    flush()
    return counts


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def time_call(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    fn()  # warm-up: the first call pays the statement compilation and cold pages
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), pct(samples, 0.95)


def run(engine: Engine, n: int, rounds: int) -> None:
    t0 = time.perf_counter()
    counts = populate(engine, n)
    print(f"inserted {n:,} conversations in {time.perf_counter() - t0:.1f} s: "
          + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    ranges = {"30 days": (TODAY - dt.timedelta(days=30), TODAY), "365 days": (TODAY - dt.timedelta(days=365), TODAY)}
    functions = {
        "volume_per_day": aggregate.volume_per_day,
        "containment": aggregate.containment,
        "containment_per_day": aggregate.containment_per_day,
        "top_drivers": aggregate.top_drivers,
        "drivers_per_day": aggregate.drivers_per_day,
        "qa_pass_rates": aggregate.qa_pass_rates,
        "sentiment_trend": aggregate.sentiment_trend,
    }
    print(f"{'aggregate':<22}{'range':>10}{'p50 ms':>10}{'p95 ms':>10}")
    for label, (since, until) in ranges.items():
        for name, fn in functions.items():
            p50, p95 = time_call(lambda fn=fn: fn(engine, since, until), rounds)
            print(f"{name:<22}{label:>10}{p50:>10.2f}{p95:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--database-url", help="an empty database to migrate and fill (default: a temporary SQLite)")
    parser.add_argument("--quick", action="store_true", help="2k conversations, 3 rounds (test_bench_quick)")
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.rounds = 2_000, 3
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        try:
            run(engine, args.conversations, args.rounds)
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
