"""Understanding on the open-world set (evalsets/open-2026-12): messages written independently of the training
data, and multi-turn scenarios with corrections, ellipsis, interruptions and dropped clauses.

    .venv/bin/python bench/understanding/openset.py                  # messages + scenarios
    .venv/bin/python bench/understanding/openset.py --messages-only  # no scenario run (~10 s)
    .venv/bin/python bench/understanding/openset.py --json           # machine-readable

Prints only aggregates (per tag and per intent), never the messages, so a model or rule set is not tuned to it.

Metrics, per message (the set gives the expected command of every clause, in order):
- intent exact-match: the message's list of intents equals the expected one (commands standing for intents:
  AskKnowledge = policy.question, Handoff = agent.human, Chitchat = chitchat, CannotHandle = out_of_scope);
- per-clause command accuracy: Σ LCS(expected, produced) / Σ max(len(expected), len(produced)) over labels
  ``StartTask:<intent>``/``AskKnowledge``/…; a missing or an extra command both count against it;
- clauses answered: Σ min(len(produced), len(expected)) / Σ len(expected) — a clause with no command of its
  own was dropped (the reply says nothing about it);
- routing latency p50/p95 per message.
Scenarios: pass rate and per-turn latency of ``Orchestrator.handle`` (no LLM: ``--llm scripted``).

Works on older checkouts too: without ``sangdam.understanding.generators`` it derives commands from the
router's intents, so "before" numbers come from the same script.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SET = ROOT / "evalsets" / "open-2026-12"
_INTENT_OF = {"AskKnowledge": "policy.question", "Handoff": "agent.human", "Chitchat": "chitchat",
              "CannotHandle": "out_of_scope"}
_LABEL_OF = {v: k for k, v in _INTENT_OF.items()}


def expected_labels(item: dict) -> list[str]:
    return [f"StartTask:{c['intent']}" if c["command"] == "StartTask" else c["command"] for c in item["expect"]]


def _intents(labels: list[str]) -> list[str]:
    return [lab.split(":", 1)[1] if lab.startswith("StartTask:") else _INTENT_OF.get(lab, lab) for lab in labels]


def _lcs(a: list[str], b: list[str]) -> int:
    dp = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            dp[i + 1][j + 1] = dp[i][j] + 1 if x == y else max(dp[i][j + 1], dp[i + 1][j])
    return dp[-1][-1]


def understander():
    """A function text → (labels, generator names) from the generator if present, else from the router."""
    try:
        from sangdam.understanding.commands import label
        from sangdam.understanding.generators import default_generator
    except ImportError:
        from sangdam.orchestrator.router import get_router

        router = get_router()

        def legacy(text: str) -> tuple[list[str], list[str]]:
            intents = list(router.route(text).intents)
            return [_LABEL_OF.get(i, f"StartTask:{i}") for i in intents], ["router"]

        return legacy
    gen = default_generator()

    def modern(text: str) -> tuple[list[str], list[str]]:
        result = gen.generate(text)
        return [label(c) for c in result.commands], sorted({c.generator for c in result.commands})

    return modern


def run_messages() -> dict:
    items = yaml.safe_load((SET / "messages.yaml").read_text(encoding="utf-8"))
    understand = understander()
    understand("안녕하세요")  # warm-up: model load is not a turn
    tot = defaultdict(lambda: defaultdict(float))
    latencies: list[float] = []
    gens: dict[str, int] = defaultdict(int)
    for item in items:
        exp = expected_labels(item)
        t0 = time.perf_counter()
        got, used = understand(item["text"])
        latencies.append((time.perf_counter() - t0) * 1000)
        for g in used:
            gens[g] += 1
        exact = _intents(got) == _intents(exp)
        lcs = _lcs(exp, got)
        for key in ["all", *(f"tag:{t}" for t in item.get("tags", [])),
                    *{f"intent:{i}" for i in _intents(exp)}]:
            t = tot[key]
            t["n"] += 1
            t["exact"] += exact
            t["lcs"] += lcs
            t["len_max"] += max(len(exp), len(got))
            t["clauses"] += len(exp)
            t["answered"] += min(len(got), len(exp))
    table = {k: {"n": int(v["n"]), "intent_exact": round(v["exact"] / v["n"], 4),
                 "clause_command_acc": round(v["lcs"] / v["len_max"], 4) if v["len_max"] else 0.0,
                 "clauses_answered": round(v["answered"] / v["clauses"], 4) if v["clauses"] else 0.0}
             for k, v in sorted(tot.items())}
    latencies.sort()
    return {"messages": table, "generators": dict(gens),
            "latency_ms": {"p50": round(statistics.median(latencies), 2),
                           "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2)}}


def run_scenarios() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [sys.executable, "-c", "from sangdam.cli import main; main()", "eval", str(SET / "scenarios"),
               "--llm", "scripted", "--json"]
        with out.open("w") as fh:
            subprocess.run(cmd, stdout=fh, check=True, cwd=ROOT)
        report = json.loads(out.read_text())
    lat = sorted(t["latency_ms"] for s in report["scenarios"] for t in s["turns"])
    per_file: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in report["scenarios"]:
        f = Path(s.get("file", "?")).name
        per_file[f][0] += s["passed"]
        per_file[f][1] += 1
    return {"total": report["total"], "passed": report["passed"], "pass_rate": report["pass_rate"],
            "per_file": {k: f"{a}/{b}" for k, (a, b) in sorted(per_file.items())},
            "turn_latency_ms": {"p50": round(statistics.median(lat), 2), "p95": round(lat[int(0.95 * (len(lat) - 1))], 2)}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages-only", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {"messages": run_messages()}
    if not args.messages_only:
        result["scenarios"] = run_scenarios()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return
    m = result["messages"]
    print(f"{'slice':32} {'n':>4} {'intent':>7} {'clause':>7} {'answered':>8}")
    for k, v in m["messages"].items():
        print(f"{k:32} {v['n']:>4} {v['intent_exact']:>7.3f} {v['clause_command_acc']:>7.3f} {v['clauses_answered']:>8.3f}")
    print(f"routing latency ms p50 {m['latency_ms']['p50']} p95 {m['latency_ms']['p95']}; generators {m['generators']}")
    if "scenarios" in result:
        s = result["scenarios"]
        print(f"scenarios {s['passed']}/{s['total']} ({s['pass_rate']:.3f}); per file {s['per_file']}; "
              f"turn latency ms p50 {s['turn_latency_ms']['p50']} p95 {s['turn_latency_ms']['p95']}")


if __name__ == "__main__":
    main()
