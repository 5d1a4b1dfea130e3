"""Semantic (e5) evidence for the intent router: accuracy of each part and of the combination, and latency.

For each held-out set (``heldout.yaml``, ``heldout_v2.yaml``) and ``dev_multi.yaml``, routes every case with the
same router (clause splitting and roles unchanged) over five probability sources and prints exact intent-list
accuracy:

- ``ngram``: today's n-gram classifier alone (``TrainedIntentModel.compact``);
- ``knn``: the e5 nearest-neighbour vote alone (``SemanticIndex.knn_proba``);
- ``head``: the e5 linear head alone;
- ``combined-all``: the calibrated blend for every message (no confidence gate; clauses keep their n-grams);
- ``combined``: what routing uses — the blend only for pieces whose n-gram confidence is under the gate.

Then warm routing latency per message (p50/p95, ms) for ``ngram``, ``combined`` and ``combined-all`` with the real
embedder, and how many messages needed an embedding. Accuracy passes reuse each text's vector (e5 is
deterministic); latency passes do not.

    SANGDAM_HOME=/tmp/bench-home .venv/bin/python bench/routing/semantic.py [--set NAME ...] [--json OUT.json]
    .venv/bin/python bench/routing/semantic.py --quick   # smoke run: a slice of 'heldout'
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

QUICK_CASES = 30


class Source:
    """A probability source with the interface ``IntentRouter`` needs (classes, threshold, predict_proba)."""

    def __init__(self, model, predict) -> None:  # noqa: ANN001 - TrainedIntentModel, callable
        self.classes, self.threshold, self.predict_proba = model.classes, model.threshold, predict


class Memo:
    """The embedder with a per-text memory (accuracy passes) and a count of embedding calls."""

    def __init__(self, embed, remember: bool) -> None:  # noqa: ANN001
        self.embed, self.remember, self.calls, self.vectors = embed, remember, 0, {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        if not self.remember:
            return self.embed(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.embed(missing), strict=True))
        return np.stack([self.vectors[t] for t in texts])


def sources(model, embed) -> dict[str, Source]:  # noqa: ANN001
    from sangdam.orchestrator.router_model import HybridIntentClassifier

    hybrid = model.hybrid
    always = HybridIntentClassifier(hybrid.ngram, hybrid.semantic, hybrid.weights, gate=1.01)
    hybrid.embed = always.embed = embed
    index = hybrid.semantic
    return {
        "ngram": Source(model, model.compact.predict_proba),
        "knn": Source(model, lambda texts: index.knn_proba(embed(list(texts)))),
        "head": Source(model, lambda texts: index.head_proba(embed(list(texts)))),
        "combined-all": Source(model, always.predict_proba),
        "combined": Source(model, hybrid.predict_proba),
    }


def load_cases(name: str, quick: bool) -> list:
    from sangdam.orchestrator.router_training import load_dev_cases, load_heldout_set

    cases = load_dev_cases() if name == "dev" else load_heldout_set(name).cases()
    return cases[:: max(1, len(cases) // QUICK_CASES)] if quick else cases


def main() -> None:
    from sangdam.orchestrator.router import IntentRouter, get_intent_model
    from sangdam.orchestrator.router_training import HELDOUT_FILES
    from sangdam.understanding.semantic import default_embed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", choices=[*HELDOUT_FILES, "dev"])
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--passes", type=int, default=3, help="latency passes (best p50/p95 kept)")
    parser.add_argument("--quick", action="store_true", help="smoke run: about 30 cases of 'heldout', one pass")
    args = parser.parse_args()
    names = args.set or (["heldout"] if args.quick else [*HELDOUT_FILES, "dev"])

    t0 = time.perf_counter()
    model = get_intent_model()
    load_s = time.perf_counter() - t0
    if model.hybrid is None:
        raise SystemExit("the cached model has no semantic part")
    memo = Memo(default_embed, remember=True)
    routers = {k: IntentRouter(src) for k, src in sources(model, memo).items()}  # type: ignore[arg-type]
    routers["ngram"].route("워밍업")

    out: dict = {"model_load_s": round(load_s, 2), "train_stats": model.stats, "gate": model.hybrid.gate,
                 "threshold": model.threshold, "sets": {}}
    print(f"model: threshold {model.threshold}, gate {model.hybrid.gate}, blend weights (ngram, head, knn) "
          f"{model.hybrid.weights}")
    print(f"{'set':12s} {'n':>4s} " + " ".join(f"{k:>13s}" for k in routers))
    all_cases = []
    for name in names:
        cases = load_cases(name, args.quick)
        all_cases += cases
        acc = {k: sum(r.route(c.text).intents == c.intents for c in cases) / len(cases) for k, r in routers.items()}
        out["sets"][name] = {"cases": len(cases), "accuracy": {k: round(v, 4) for k, v in acc.items()}}
        print(f"{name:12s} {len(cases):4d} " + " ".join(f"{v:13.2%}" for v in acc.values()))

    # latency: the real embedder, no memory; best of --passes (the machine is shared)
    live = Memo(default_embed, remember=False)
    timed = {k: IntentRouter(src) for k, src in sources(model, live).items()  # type: ignore[arg-type]
             if k in ("ngram", "combined", "combined-all")}
    latency = {}
    for key, router in timed.items():
        best = None
        for _ in range(1 if args.quick else args.passes):
            live.calls = 0
            ms = []
            for case in all_cases:
                t = time.perf_counter()
                router.route(case.text)
                ms.append((time.perf_counter() - t) * 1000)
            qs = statistics.quantiles(ms, n=100)
            cur = {"p50": round(qs[49], 2), "p95": round(qs[94], 2), "embedded_messages": live.calls}
            best = cur if best is None or cur["p95"] < best["p95"] else best
        latency[key] = best
        print(f"latency {key:13s} p50 {best['p50']:6.2f} ms  p95 {best['p95']:6.2f} ms  "
              f"({best['embedded_messages']}/{len(all_cases)} messages embedded)")
    out["latency_ms"] = latency
    print(f"model load {load_s:.2f} s; train stats: {model.stats}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
