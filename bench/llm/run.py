"""Embedded LLM benchmark: prints prefill/decode tok/s, first token, peak RSS, ratio to bare llama-cpp-python,
prefix-cache gain, JSON validity over N structured calls and tool-call format accuracy, per tier.

    .venv/bin/python bench/llm/run.py [--tiers fast,strong] [--structured-calls 50] [--json out.json]

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
    parser.add_argument("--tiers", default="fast,strong")
    parser.add_argument("--structured-calls", type=int, default=50)
    parser.add_argument("--no-tool-formats", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    report = run_benchmark([t for t in args.tiers.split(",") if t], structured_calls=args.structured_calls,
                           tool_formats=not args.no_tool_formats, log=lambda m: print(m, file=sys.stderr))
    render_report(report, Console())
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
