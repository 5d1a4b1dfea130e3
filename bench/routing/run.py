"""Routing benchmark on the held-out sets (never used for training).

For each set — ``heldout.yaml`` (the original split) and ``heldout_v2.yaml`` (a second split written later,
in new wording) — prints exact-intent-list accuracy (all, single-intent, compound), per-intent
precision/recall, the fallback rate the calibrated threshold would cause, and warm routing latency p50/p95.
Compound cases are split into true multi-intent requests (two or more expected intents) and compound
utterances that expect one intent (a greeting or a background clause before the request). The classifier
alone is measured (no LLM fallback), so the numbers are the fast path's.

    SANGDAM_HOME=/tmp/bench-home .venv/bin/python bench/routing/run.py [--set NAME ...] [--json OUT.json] [--errors]
    .venv/bin/python bench/routing/run.py --quick    # smoke run (tests/test_bench_quick.py): a slice of 'heldout'
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter

QUICK_PER_INTENT = 3  # --quick: single-intent utterances kept per intent
QUICK_COMPOUND = 15  # --quick: compound cases kept

def _pct(hits: list[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def evaluate(router, cases, n_single: int) -> tuple[dict, list]:  # noqa: ANN001 - IntentRouter, cases
    """Numbers for one list of cases (single-intent cases first) and the (case, result) pairs."""
    results, latencies = [], []
    for case in cases:
        t = time.perf_counter()
        res = router.route(case.text)
        latencies.append((time.perf_counter() - t) * 1000)
        results.append(res)

    ok = [r.intents == c.intents for r, c in zip(results, cases, strict=True)]
    compound = list(zip(cases[n_single:], ok[n_single:], strict=True))
    multi_ok = [good for c, good in compound if len(c.intents) >= 2]
    one_ok = [good for c, good in compound if len(c.intents) == 1]
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
        "single_cases": n_single,
        "multi_cases": len(multi_ok),
        "compound_single_cases": len(one_ok),
        "exact_accuracy": _pct(ok),
        "single_accuracy": _pct(ok[:n_single]),
        "multi_accuracy": _pct(multi_ok),
        "compound_single_accuracy": _pct(one_ok),
        "threshold": router.threshold,
        "below_threshold_rate": round(below / len(cases), 4),
        "accuracy_above_threshold": _pct(above_ok),
        "latency_ms_p50": round(qs[49], 2),
        "latency_ms_p95": round(qs[94], 2),
        "per_intent": per_intent,
    }
    return numbers, list(zip(cases, results, ok, strict=True))


def report(name: str, numbers: dict, pairs: list, errors: bool) -> None:
    """Print one set's numbers (and its misses with ``errors``)."""
    n = numbers
    print(f"== {name}: {n['cases']} cases ({n['single_cases']} single, {n['multi_cases']} multi-intent, "
          f"{n['compound_single_cases']} compound single-request)")
    print(f"exact intent-list accuracy: {n['exact_accuracy']:.2%}")
    for key, label in (("single_accuracy", "single-intent"), ("multi_accuracy", "multi-intent (ordered)"),
                       ("compound_single_accuracy", "compound, one request")):
        if n[key] is not None:
            print(f"  {label:24s} {n[key]:.2%}")
    print(f"threshold {n['threshold']:.3f}: {n['below_threshold_rate']:.1%} of cases would ask the LLM;")
    print(f"  accuracy of the cases the classifier keeps: {n['accuracy_above_threshold']:.2%}")
    print(f"latency (warm, ms): p50 {n['latency_ms_p50']}  p95 {n['latency_ms_p95']}")
    print(f"{'intent':20s} {'prec':>6s} {'recall':>6s} {'n':>4s}")
    for i, m in n["per_intent"].items():
        print(f"{i:20s} {m['precision']:6.3f} {m['recall']:6.3f} {m['support']:4d}")
    if errors:
        for case, res, good in pairs:
            if not good:
                print(f"MISS {case.text!r}: got {res.intents} ({res.confidence:.2f}) want {case.intents}")
    print()


def main() -> None:
    from sangdam.orchestrator.router_training import HELDOUT_FILES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", choices=[*HELDOUT_FILES, "dev"],
                        help="which set(s) to run (default: every held-out set); 'dev' = dev_multi.yaml")
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--errors", action="store_true", help="print every wrongly routed utterance")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: 'heldout' only, {QUICK_PER_INTENT} utterances per intent and "
                             f"{QUICK_COMPOUND} compound cases (numbers not comparable with a full run)")
    args = parser.parse_args()

    from sangdam.orchestrator.router import get_intent_model, get_router
    from sangdam.orchestrator.router_training import load_dev_cases, load_heldout_set

    t0 = time.perf_counter()
    get_intent_model()
    load_s = time.perf_counter() - t0
    router = get_router()  # no fallback: measures the classifier path
    router.route("워밍업")  # first call loads Kiwi

    out: dict = {"model_load_s": round(load_s, 2), "train_stats": router.model.stats, "sets": {}}
    for name in args.set or (["heldout"] if args.quick else list(HELDOUT_FILES)):
        if name == "dev":
            cases, n_single = load_dev_cases(), 0
            if args.quick:
                cases = cases[:QUICK_COMPOUND]
        else:
            heldout = load_heldout_set(name)
            if args.quick:
                heldout.single = {i: texts[:QUICK_PER_INTENT] for i, texts in heldout.single.items()}
                heldout.multi = heldout.multi[:QUICK_COMPOUND]
            cases, n_single = heldout.cases(), sum(len(v) for v in heldout.single.values())
        numbers, pairs = evaluate(router, cases, n_single)
        report(name, numbers, pairs, args.errors)
        out["sets"][name] = numbers
    print(f"model load (cache or train): {load_s:.2f} s; train stats: {router.model.stats}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
