#!/usr/bin/env bash
# Build llama-cpp-python once (6-9 min on 2 cores) and keep the wheel in the cache folder.
set -euo pipefail
VENV=$1
WHEELS=$2
VERSION=0.3.36
if ls "$WHEELS"/llama_cpp_python-$VERSION-*.whl >/dev/null 2>&1; then
  exit 0
fi
echo "==> building llama-cpp-python $VERSION (first time only, several minutes)"
CMAKE_ARGS="-DGGML_NATIVE=OFF" FORCE_CMAKE=1 \
  "$VENV/bin/pip" wheel -q --no-deps -w "$WHEELS" "llama-cpp-python==$VERSION"
