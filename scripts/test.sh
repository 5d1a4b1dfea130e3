#!/usr/bin/env bash
# The test suite: pytest (unit, database, HTTP, browser, real embedded model), then the Korean conversation
# scenario suite in evals/ through the same orchestrator with the embedded default, which must pass 100% on
# both backend adapters.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
.venv/bin/pytest "$@"
# The scenario suite runs twice: on the sql adapter (the demo tables) and on the rest adapter against a live
# reference BSS process (`sangdam bss serve`, started by `sangdam eval --backend rest`); both must pass 100%.
for backend in sql rest; do
  printf '\033[1;34m==>\033[0m conversation scenarios (evals/, --llm embedded, --backend %s)\n' "$backend"
  out=test-artifacts/eval.json
  [ "$backend" = sql ] || out="test-artifacts/eval-$backend.json"
  .venv/bin/sangdam eval evals/ --json --llm embedded --backend "$backend" > "$out"
  .venv/bin/python - "$out" "$backend" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1], encoding="utf-8"))
for scenario in report["scenarios"]:
    if not scenario["passed"]:
        print(f"FAILED scenario {scenario['id']}:")
        for failure in scenario["failures"]:
            print(f"    {failure}")
print(f"scenarios ({sys.argv[2]}): {report['passed']}/{report['total']} passed (pass rate {report['pass_rate']:.3f})")
sys.exit(0 if report["pass_rate"] == 1.0 else 1)
PY
done
