"""Every benchmark under bench/ runs in its quick mode and prints numbers, so none can rot unnoticed again
(issue 15: bench/retrieval crashed after a refactor because nothing ran it).

Each script runs as a subprocess with its own temporary SANGDAM_HOME, as a developer would run it: that home
holds the installed embedded models (a link to the real home's ``models``, which `make setup` fills) and a copy
of the real home's trained intent-router cache when it has one (the cache is keyed by the training data, so a
stale one is retrained, never used), so each script does not spend ~8 s retraining the router.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sangdam.config import Settings

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"\d+\.\d+")
REAL_HOME = Settings().resolved_home  # read at import, before conftest points SANGDAM_HOME at a temporary folder


def _fast_model_missing() -> str | None:
    from sangdam.llm.weights import WEIGHTS, is_verified

    fast = WEIGHTS["qwen2.5-coder-0.5b-instruct"]
    if is_verified(fast, REAL_HOME / "models"):
        return None
    return f"embedded model {fast.name} is not installed in {REAL_HOME / 'models'} (scripts/models.sh)"

# (script, arguments of its quick mode, why it cannot run here or None)
QUICK = [
    ("bench/retrieval/run.py", ["--quick"], None),
    ("bench/knowledge/answers.py", ["--quick"], None),
    ("bench/orchestrator/turn_latency.py", ["--quick"], None),
    ("bench/pii/run.py", ["--quick"], None),
    ("bench/sentiment/run.py", ["--quick"], None),
    ("bench/routing/run.py", ["--quick"], None),
    ("bench/routing/fallback.py", ["--quick"], _fast_model_missing()),
    ("bench/llm/run.py", ["--quick"], _fast_model_missing()),
    ("bench/load/http_load.py", ["--quick"], None),
    ("bench/load/web_chat_load.py", ["--quick"], None),
    ("bench/load/workers_load.py", ["--quick"], None),
    ("bench/faults/kill_loop.py", ["--quick"], None),
    ("bench/backends/overhead.py", ["--quick"], None),
    ("bench/insights/dashboard.py", ["--quick"], None),
    ("bench/insights/aggregate.py", ["--quick"], None),
    ("bench/batch/throughput.py", ["--quick"], None),
    ("bench/orchestration/overhead.py", ["--quick"],
     None if importlib.util.find_spec("langgraph") else "LangGraph (the '[bench]' extra) is not installed"),
]
# these need a PostgreSQL server: conftest's (it skips, with its reason, when none can be started)
NEEDS_POSTGRES = {"bench/load/workers_load.py", "bench/faults/kill_loop.py"}


@pytest.mark.parametrize(("script", "args", "skip_reason"), QUICK, ids=[q[0] for q in QUICK])
def test_benchmark_quick_mode_runs_and_prints_numbers(script: str, args: list[str], skip_reason: str | None,
                                                      tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if skip_reason:
        pytest.skip(skip_reason)
    if not (ROOT / script).exists():
        pytest.skip(f"{script} is not in this checkout")
    home = tmp_path / "home"
    home.mkdir()
    if (REAL_HOME / "models").is_dir():
        (home / "models").symlink_to(REAL_HOME / "models", target_is_directory=True)
    if (REAL_HOME / "cache" / "router").is_dir():
        shutil.copytree(REAL_HOME / "cache" / "router", home / "cache" / "router")
    env = {**os.environ, "SANGDAM_HOME": str(home)}
    if script in NEEDS_POSTGRES:
        env["SANGDAM_TEST_PG_URL"] = request.getfixturevalue("_pg_server")
    result = subprocess.run([sys.executable, script, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    assert NUMBER.search(result.stdout), f"{script} printed no numbers:\n{result.stdout[-2000:]}"
