"""Is the LLM fallback worth asking? Accuracy on the held-out utterances the classifier is unsure about.

For every held-out case below the router's confidence threshold, compares the classifier's own answer with
the answer after asking each LLM role (embedded models by default), and prints accuracy and latency.

    .venv/bin/python bench/routing/fallback.py [--set heldout|heldout_v2] [--roles fast strong]
    .venv/bin/python bench/routing/fallback.py --quick    # smoke run: the fast role on the first few unsure cases
"""

from __future__ import annotations

import argparse
import statistics
import time

from sangdam.llm.config import LLMConfig
from sangdam.llm.router import LLMRouter
from sangdam.orchestrator.router import IntentRouter, get_intent_model
from sangdam.orchestrator.router_llm import LlmIntentFallback
from sangdam.orchestrator.router_training import load_heldout_set

QUICK_CASES = 4  # --quick: unsure cases asked to the LLM

def cases(name: str) -> list[tuple[str, list[str]]]:
    held = load_heldout_set(name)
    out = [(u, [intent]) for intent, utterances in held.single.items() for u in utterances]
    out += [(c.text, list(c.intents)) for c in held.multi]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="heldout")
    parser.add_argument("--roles", nargs="+", default=None, help="LLM roles to ask (default: fast strong)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: the first {QUICK_CASES} unsure cases, the fast role only unless --roles")
    args = parser.parse_args()
    roles = args.roles or (["fast"] if args.quick else ["fast", "strong"])
    model = get_intent_model()
    plain = IntentRouter(model)
    unsure = [(t, exp) for t, exp in cases(args.set) if plain.route(t).confidence < plain.threshold]
    if args.quick:
        unsure = unsure[:QUICK_CASES]
    base = sum(plain.route(t).intents == exp for t, exp in unsure)
    print(f"{args.set}: {len(unsure)} cases below threshold {plain.threshold:.3f}")
    print(f"{'answer from':16} {'accuracy':>9} {'p50 ms':>8} {'p95 ms':>8}")
    print(f"{'classifier':16} {base / len(unsure):9.3f} {'-':>8} {'-':>8}")
    llm = LLMRouter(LLMConfig())
    for role in roles:
        router = IntentRouter(model, fallback=LlmIntentFallback(llm, role=role))
        hits, times = 0, []
        for text, expected in unsure:
            t0 = time.perf_counter()
            hits += router.route(text).intents == expected
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(f"{'LLM ' + role:16} {hits / len(unsure):9.3f} {statistics.median(times):8.0f} "
              f"{times[int(0.95 * (len(times) - 1))]:8.0f}")


if __name__ == "__main__":
    main()
