#!/usr/bin/env bash
# The test suite: pytest (unit, database, HTTP, browser, real embedded model), then the Korean conversation
# scenario suite in evals/ through the same orchestrator with the embedded default, which must pass 100%.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
.venv/bin/pytest "$@"
printf '\033[1;34m==>\033[0m conversation scenarios (evals/, --llm embedded)\n'
.venv/bin/sangdam eval evals/ --json --llm embedded > test-artifacts/eval.json
.venv/bin/python - test-artifacts/eval.json <<'PY'
import json
import sys

report = json.load(open(sys.argv[1], encoding="utf-8"))
for scenario in report["scenarios"]:
    if not scenario["passed"]:
        print(f"FAILED scenario {scenario['id']}:")
        for failure in scenario["failures"]:
            print(f"    {failure}")
print(f"scenarios: {report['passed']}/{report['total']} passed (pass rate {report['pass_rate']:.3f})")
sys.exit(0 if report["pass_rate"] == 1.0 else 1)
PY
