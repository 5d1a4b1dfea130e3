"""Latency of orchestrated turns that need no LLM (route → tools → template reply → verify → persist).

Prints p50/p95/max per turn kind on a fresh SQLite database with the demo seed. Goal (issue 5): p95 ≤ 30 ms.

    .venv/bin/python bench/orchestrator/turn_latency.py [--rounds 30] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from sangdam.domain.db import make_engine, migrate
from sangdam.domain.seed import seed
from sangdam.orchestrator import Orchestrator

TODAY = dt.date(2026, 11, 15)
CUSTOMER = "C-DEMO-HEAVY"
TURNS = [
    ("billing.inquiry", "이번 달 요금 얼마 나왔어요?"),
    ("data.usage", "데이터 얼마나 남았어요?"),
    ("plan.recommend", "저한테 맞는 요금제 추천해 주세요"),
    ("roaming.info", "일본 로밍 요금제 뭐 있어요?"),
    ("data.refill (proposal)", "데이터 2기가 충전해 주세요"),
    ("confirmation no", "아니요"),
    ("chitchat", "안녕하세요"),
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="2 rounds: checks the benchmark runs (make test)")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 2
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        seed(engine, today=TODAY)
        orch = Orchestrator(engine, today=TODAY)
        warm = orch.start_conversation(customer_id=CUSTOMER)
        for _, text in TURNS:  # warm-up: router model, kiwi, PII lexicons, templates
            orch.handle(warm, text)
        samples: dict[str, list[float]] = {kind: [] for kind, _ in TURNS}
        for _ in range(args.rounds):
            conv = orch.start_conversation(customer_id=CUSTOMER)
            for kind, text in TURNS:
                t0 = time.perf_counter()
                result = orch.handle(conv, text)
                samples[kind].append((time.perf_counter() - t0) * 1000)
                assert result.reply, kind
        everything = [v for vs in samples.values() for v in vs]
        print(f"{'turn':28} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for kind, values in samples.items():
            print(f"{kind:28} {len(values):4d} {statistics.median(values):8.1f} {pct(values, .95):8.1f} {max(values):8.1f}")
        print(f"{'all no-LLM turns':28} {len(everything):4d} {statistics.median(everything):8.1f} "
              f"{pct(everything, .95):8.1f} {max(everything):8.1f}")


if __name__ == "__main__":
    main()
