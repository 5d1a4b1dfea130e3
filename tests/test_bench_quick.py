"""Every benchmark under bench/ runs in its quick mode and prints numbers, so none can rot unnoticed again
(issue 15: bench/retrieval crashed after a refactor because nothing ran it).

Each script runs as a subprocess with its own temporary SANGDAM_HOME, exactly as a developer would run it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"\d+\.\d+")

# (script, arguments of its quick mode, why it cannot run here or None)
QUICK = [
    ("bench/retrieval/run.py", ["--quick"], None),
    ("bench/knowledge/answers.py", ["--quick"], None),
    ("bench/orchestrator/turn_latency.py", ["--quick"], None),
    ("bench/pii/run.py", ["--repeat", "2"], None),
    ("bench/orchestration/overhead.py", ["--quick"],
     None if importlib.util.find_spec("langgraph") else "LangGraph (the '[bench]' extra) is not installed"),
]


@pytest.mark.parametrize(("script", "args", "skip_reason"), QUICK, ids=[q[0] for q in QUICK])
def test_benchmark_quick_mode_runs_and_prints_numbers(script: str, args: list[str], skip_reason: str | None,
                                                      tmp_path: Path) -> None:
    if skip_reason:
        pytest.skip(skip_reason)
    if not (ROOT / script).exists():
        pytest.skip(f"{script} is not in this checkout")
    env = {**os.environ, "SANGDAM_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, script, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    assert NUMBER.search(result.stdout), f"{script} printed no numbers:\n{result.stdout[-2000:]}"
