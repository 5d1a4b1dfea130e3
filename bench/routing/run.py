"""Routing benchmark on the held-out set (never used for training).

Prints exact-intent-list accuracy (all, single-intent, multi-intent), per-intent precision/recall, the
fallback rate the calibrated threshold would cause, and warm routing latency p50/p95. The classifier alone
is measured (no LLM fallback), so the numbers are the fast path's.

    SANGDAM_HOME=/tmp/bench-home .venv/bin/python bench/routing/run.py [--json OUT.json] [--errors]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--errors", action="store_true", help="print every wrongly routed utterance")
    parser.add_argument("--dev", action="store_true", help="run on dev_multi.yaml (splitter dev set) instead")
    args = parser.parse_args()

    from sangdam.orchestrator.router import get_intent_model, get_router
    from sangdam.orchestrator.router_training import load_dev_cases, load_heldout_set

    t0 = time.perf_counter()
    get_intent_model()
    load_s = time.perf_counter() - t0
    router = get_router()  # no fallback: measures the classifier path
    if args.dev:
        cases, n_single = load_dev_cases(), 0
    else:
        heldout = load_heldout_set()
        cases = heldout.cases()
        n_single = sum(len(v) for v in heldout.single.values())
    router.route("워밍업")  # first call loads Kiwi

    results, latencies = [], []
    for case in cases:
        t = time.perf_counter()
        res = router.route(case.text)
        latencies.append((time.perf_counter() - t) * 1000)
        results.append(res)

    ok = [r.intents == c.intents for r, c in zip(results, cases, strict=True)]
    single_ok, multi_ok = ok[:n_single], ok[n_single:]
    below = sum(r.confidence < router.threshold for r in results)
    above_ok = [good for r, good in zip(results, ok, strict=True) if r.confidence >= router.threshold]

    # per-intent precision/recall over intent occurrences (a multi-intent case counts each of its intents)
    tp, fp, fn = Counter(), Counter(), Counter()
    for r, c in zip(results, cases, strict=True):
        got, want = Counter(r.intents), Counter(c.intents)
        for i in set(got) | set(want):
            tp[i] += min(got[i], want[i])
            fp[i] += max(0, got[i] - want[i])
            fn[i] += max(0, want[i] - got[i])
    per_intent = {}
    for i in sorted(set(tp) | set(fp) | set(fn)):
        p = tp[i] / (tp[i] + fp[i]) if tp[i] + fp[i] else 0.0
        rc = tp[i] / (tp[i] + fn[i]) if tp[i] + fn[i] else 0.0
        per_intent[i] = {"precision": round(p, 3), "recall": round(rc, 3), "support": tp[i] + fn[i]}

    qs = statistics.quantiles(latencies, n=100)
    numbers = {
        "cases": len(cases),
        "exact_accuracy": round(sum(ok) / len(ok), 4),
        "single_accuracy": round(sum(single_ok) / len(single_ok), 4) if single_ok else None,
        "multi_accuracy": round(sum(multi_ok) / len(multi_ok), 4) if multi_ok else None,
        "multi_cases": len(multi_ok),
        "threshold": router.threshold,
        "below_threshold_rate": round(below / len(cases), 4),
        "accuracy_above_threshold": round(sum(above_ok) / len(above_ok), 4) if above_ok else None,
        "latency_ms_p50": round(qs[49], 2),
        "latency_ms_p95": round(qs[94], 2),
        "model_load_s": round(load_s, 2),
        "train_stats": router.model.stats,
    }
    print(f"held-out cases: {len(cases)} ({n_single} single, {len(multi_ok)} multi)")
    print(f"exact intent-list accuracy: {numbers['exact_accuracy']:.2%}")
    if single_ok:
        print(f"  single-intent: {numbers['single_accuracy']:.2%}")
    if multi_ok:
        print(f"  multi-intent:  {numbers['multi_accuracy']:.2%}")
    print(f"threshold {router.threshold:.3f}: {numbers['below_threshold_rate']:.1%} of cases would ask the LLM;")
    print(f"  accuracy of the cases the classifier keeps: {numbers['accuracy_above_threshold']:.2%}")
    print(f"latency (warm, ms): p50 {numbers['latency_ms_p50']}  p95 {numbers['latency_ms_p95']}")
    print(f"model load (cache or train): {load_s:.2f} s")
    print(f"{'intent':20s} {'prec':>6s} {'recall':>6s} {'n':>4s}")
    for i, m in per_intent.items():
        print(f"{i:20s} {m['precision']:6.3f} {m['recall']:6.3f} {m['support']:4d}")
    if args.errors:
        for r, c, good in zip(results, cases, ok, strict=True):
            if not good:
                print(f"MISS {c.text!r}: got {r.intents} ({r.confidence:.2f}) want {c.intents}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({**numbers, "per_intent": per_intent}, fh, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
