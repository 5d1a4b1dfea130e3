"""Embedded LLM benchmark: prints prefill/decode tok/s, first token, peak RSS, ratio to bare llama-cpp-python,
prefix-cache gain, JSON validity over N structured calls and tool-call format accuracy, per tier.

    .venv/bin/python bench/llm/run.py [--tiers fast,strong] [--structured-calls 50] [--json out.json]
    .venv/bin/python bench/llm/run.py --quick    # smoke run: fast tier, one speed round, 2 structured calls, no
                                                 # prefix-cache or tool-format sections

Same code as `sangdam llm bench`; see docs/llm.md for the numbers and how to read them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from sangdam.llm.benchmark import render_report, run_benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiers", default=None, help="comma-separated roles (default: fast,strong; --quick: fast)")
    parser.add_argument("--structured-calls", type=int, default=None, help="JSON calls (default 50; --quick: 2)")
    parser.add_argument("--no-tool-formats", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: the fast tier, one speed round, 2 structured calls (the second reuses "
                             "the cached prompt head), no prefix-cache or tool-format sections")
    args = parser.parse_args()
    tiers = args.tiers or ("fast" if args.quick else "fast,strong")
    calls = args.structured_calls if args.structured_calls is not None else (2 if args.quick else 50)
    report = run_benchmark([t for t in tiers.split(",") if t], structured_calls=calls,
                           tool_formats=not (args.no_tool_formats or args.quick), speed_rounds=1 if args.quick else 3,
                           prefix_cache=not args.quick,
                           log=lambda m: print(m, file=sys.stderr))
    render_report(report, Console())
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
