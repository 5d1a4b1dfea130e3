"""Per-call overhead of the ``rest`` adapter over the ``sql`` adapter, for every read tool (issue 12).

Each read tool is called through the real tool layer (``get_tool(name).run``) with the ``sql`` adapter on one copy
of the demo database and with the ``rest`` adapter (the packaged reference mapping) against a reference BSS
*process* (``sangdam bss serve``, loopback) serving another copy. Prints p50/p95 per tool and for all calls, and the
rest − sql difference: HTTP, JSON, the BSS's own framework and the mapping's translation (the BSS runs the same
SQL underneath, so that part cancels out).

Then whole turns: the same scripted conversation (bill, usage, a refill proposal declined, roaming passes, a plan
recommendation) through the orchestrator on each adapter — the ``sql`` demo set-up (one database) and the ``rest``
one (Sangdam's store apart, the BSS process serving the operator's copy) — p50/p95 per turn.

    .venv/bin/python bench/backends/overhead.py [--rounds 50] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sangdam.backends.sql import SqlBackend
from sangdam.domain.db import make_engine, migrate
from sangdam.domain.seed import seed
from sangdam.evaluation.rest_harness import RestHarness
from sangdam.orchestrator import Orchestrator
from sangdam.tools.base import ToolContext
from sangdam.tools.registry import get_tool

TODAY = dt.date(2026, 11, 29)
CALLS: list[tuple[str, str | None, dict[str, Any]]] = [
    ("verify_identity", None, {"phone": "010-9000-0005", "birth_date": "2001-05-09"}),
    ("get_customer", "C-DEMO-LOST", {}),
    ("list_lines", "C-DEMO-LOST", {}),
    ("get_line", "C-DEMO-HEAVY", {"line_id": "L-DEMO-HEAVY"}),
    ("get_bills", "C-DEMO-OVERDUE", {}),
    ("explain_bill", "C-DEMO-OVERDUE", {"bill_id": "B-DEMO-OVERDUE-202610"}),
    ("get_data_usage", "C-DEMO-HEAVY", {"line_id": "L-DEMO-HEAVY"}),
    ("list_plans", None, {}),
    ("recommend_plans", "C-DEMO-LIGHT", {"line_id": "L-DEMO-LIGHT"}),
    ("get_contract", "C-DEMO-CONTRACT", {"line_id": "L-DEMO-CONTRACT"}),
    ("list_roaming_passes", None, {"country": "일본"}),
    ("check_line_diagnostics", "C-DEMO-OVERDUE", {"line_id": "L-DEMO-OVERDUE"}),
    ("get_outages", None, {}),
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


TURNS = ["이번 달 요금 알려주세요", "데이터 얼마나 남았어요?", "데이터 1기가 충전해 주세요", "아니요",
         "일본 로밍 요금제 알려줘", "요금제 추천해 주세요"]


def measure_turns(orchestrator: Orchestrator, rounds: int) -> list[float]:
    """Latency of every turn of ``rounds`` conversations (one warm-up conversation first)."""
    samples: list[float] = []
    for i in range(rounds + 1):
        conversation = orchestrator.start_conversation(customer_id="C-DEMO-HEAVY")
        for text in TURNS:
            t0 = time.perf_counter()
            orchestrator.handle(conversation, text)
            if i:
                samples.append((time.perf_counter() - t0) * 1000)
    return samples


def measure(ctx_for: Any, rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    for tool, customer, args in CALLS:  # warm-up: connections, caches
        get_tool(tool).run(ctx_for(customer), args)
    for _ in range(rounds):
        for tool, customer, args in CALLS:
            t0 = time.perf_counter()
            get_tool(tool).run(ctx_for(customer), args)
            samples.setdefault(tool, []).append((time.perf_counter() - t0) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="3 rounds: checks the benchmark runs (make test)")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        template = folder / "template.db"
        engine = make_engine(f"sqlite:///{template}")
        migrate(engine)
        seed(engine, today=TODAY)
        engine.dispose()
        for name in ("sql.db", "bss.db"):
            shutil.copyfile(template, folder / name)
        sql_engine = make_engine(f"sqlite:///{folder / 'sql.db'}")
        store = make_engine(f"sqlite:///{folder / 'store.db'}")
        migrate(store)  # Sangdam's own store: no operator records
        harness = RestHarness.start(folder / "bss")
        try:
            rest = harness.attach(make_engine(f"sqlite:///{folder / 'bss.db'}"), folder / "bss.db", TODAY)
            sql = SqlBackend(sql_engine)
            sql_samples = measure(lambda c: ToolContext(engine=sql_engine, today=TODAY, customer_id=c, backend=sql),
                                  rounds)
            rest_samples = measure(lambda c: ToolContext(engine=store, today=TODAY, customer_id=c, backend=rest),
                                   rounds)
            conversations = 2 if args.quick else max(1, rounds // 5)
            sql_turns = measure_turns(Orchestrator(sql_engine, today=TODAY, backend=sql), conversations)
            rest_turns = measure_turns(Orchestrator(store, today=TODAY, backend=rest), conversations)
        finally:
            harness.close()
        report(sql_samples, rest_samples, rounds)
        print(f"\nwhole turns ({conversations} conversations x {len(TURNS)} turns, no LLM call), ms")
        print(f"{'adapter':24} {'p50':>8} {'p95':>8}")
        for name, turns in (("sql", sql_turns), ("rest", rest_turns)):
            print(f"{name:24} {statistics.median(turns):8.2f} {pct(turns, .95):8.2f}")


def report(sql: dict[str, list[float]], rest: dict[str, list[float]], rounds: int) -> None:
    print(f"per-call latency through the tool layer, {rounds} rounds, ms")
    print(f"{'tool':24} {'sql p50':>8} {'sql p95':>8} {'rest p50':>9} {'rest p95':>9} {'+p50':>7} {'+p95':>7}")
    for tool in sql:
        s, r = sql[tool], rest[tool]
        print(f"{tool:24} {statistics.median(s):8.2f} {pct(s, .95):8.2f} {statistics.median(r):9.2f} "
              f"{pct(r, .95):9.2f} {statistics.median(r) - statistics.median(s):7.2f} {pct(r, .95) - pct(s, .95):7.2f}")
    all_s = [v for vs in sql.values() for v in vs]
    all_r = [v for vs in rest.values() for v in vs]
    print(f"{'all read calls':24} {statistics.median(all_s):8.2f} {pct(all_s, .95):8.2f} {statistics.median(all_r):9.2f} "
          f"{pct(all_r, .95):9.2f} {statistics.median(all_r) - statistics.median(all_s):7.2f} "
          f"{pct(all_r, .95) - pct(all_s, .95):7.2f}")


if __name__ == "__main__":
    main()
