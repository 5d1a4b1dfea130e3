"""A newcomer's start (issue 10, item 10): ``scripts/run.sh`` with a new ``SANGDAM_HOME`` prepares what is missing
(database, demo data, demo knowledge base, model weights, keys) or stops with a message naming the command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from sangdam.llm.weights import WEIGHTS

REPO = Path(__file__).resolve().parents[1]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SANGDAM_DATABASE_URL"}
    return {**env, "SANGDAM_HOME": str(home), "SANGDAM_TODAY": "2026-11-29", "NO_COLOR": "1"}


def _verified_models(models: Path) -> None:
    """Stand-ins for the assembled GGUF files: sparse files of the pinned size with their verification markers
    (assembling 1.6 GB is scripts/models.sh's job, tested in test_llm_weights.py; here it must find them done)."""
    models.mkdir(parents=True)
    for spec in WEIGHTS.values():
        path = models / spec.filename
        with path.open("wb") as fh:
            fh.truncate(spec.size)
        st = path.stat()
        marker = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}
        path.with_name(path.name + ".verified").write_text(json.dumps(marker))


def test_run_prepares_a_new_home_so_policy_questions_are_answered(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _verified_models(home / "models")
    first = subprocess.run(["scripts/run.sh", "--prepare-only"], cwd=REPO, env=_env(home), capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "sangdam kb build-demo" in first.stdout  # says what it prepares
    assert (home / "kb" / "default" / "manifest.json").exists()
    assert (home / "demo-keys.txt").read_text().count("sd-") == 3
    asked = subprocess.run([".venv/bin/sangdam", "kb", "ask", "데이터 충전 한도가 있나요?", "--kb", "default", "--json"],
                           cwd=REPO, env=_env(home), capture_output=True, text=True, timeout=120)
    assert json.loads(asked.stdout)["citations"]
    again = subprocess.run(["scripts/run.sh", "--prepare-only"], cwd=REPO, env=_env(home), capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0 and "kb build-demo" not in again.stdout  # nothing left to prepare


def _checkout(tmp_path: Path, sangdam_stub: str | None, models_stub: str = "exit 0") -> Path:
    """A copy of run.sh in a bare checkout, with stub ``.venv/bin/sangdam`` and ``scripts/models.sh``."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "run.sh", root / "scripts" / "run.sh")
    stubs = {root / "scripts" / "models.sh": models_stub}
    if sangdam_stub is not None:
        stubs[root / ".venv" / "bin" / "sangdam"] = sangdam_stub
    for path, body in stubs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'#!/usr/bin/env bash\necho "$0 $*" >> "{tmp_path}/calls"\n{body}\n')
        path.chmod(0o755)
    return root


def _run(root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["scripts/run.sh"], cwd=root, env=_env(tmp_path / "home"), capture_output=True, text=True,
                          timeout=60)


def _calls(tmp_path: Path) -> str:
    calls = tmp_path / "calls"
    return calls.read_text() if calls.exists() else ""


def test_run_stops_naming_the_command_when_the_checkout_is_not_set_up(tmp_path: Path) -> None:
    done = _run(_checkout(tmp_path, sangdam_stub=None), tmp_path)
    assert done.returncode != 0
    assert "make setup" in done.stderr or "make run" in done.stderr


def test_run_stops_naming_the_command_when_the_knowledge_base_cannot_be_built(tmp_path: Path) -> None:
    stub = 'case "$1 $2" in "kb build-demo") echo "NanumGothic font not found" >&2; exit 2;; esac; echo sd-key'
    done = _run(_checkout(tmp_path, stub), tmp_path)
    assert done.returncode != 0
    assert "sangdam kb build-demo" in done.stderr
    assert " serve" not in _calls(tmp_path)


def test_run_stops_naming_the_command_when_the_models_cannot_be_prepared(tmp_path: Path) -> None:
    done = _run(_checkout(tmp_path, "echo sd-key", models_stub="exit 1"), tmp_path)
    assert done.returncode != 0
    assert "scripts/models.sh" in done.stderr
    assert " serve" not in _calls(tmp_path)


class _SpyLLM:
    """The embedded default configuration (what ``sangdam chat`` and ``sangdam serve`` use), recording any use."""

    capable_writer = None  # not a model call: the callers then read the roles' profiles from ``config``

    def __init__(self) -> None:
        from sangdam.llm.config import LLMConfig

        self.config = LLMConfig()
        self.used: list[str] = []

    def __getattr__(self, name: str):  # noqa: ANN204 - chat, complete, … : any model call
        def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            self.used.append(name)
            raise AssertionError(f"the conversation consulted the model ({name})")

        return call


def test_default_conversation_consults_no_language_model(db_engine) -> None:
    """What the README says: with the embedded default, replies come from the classifier, tools and templates."""
    import datetime as dt

    from sangdam.domain.seed import seed
    from sangdam.orchestrator import Orchestrator

    today = dt.date(2026, 11, 29)
    seed(db_engine, today=today)
    spy = _SpyLLM()
    orch = Orchestrator(db_engine, today=today, llm=spy)
    conv = orch.start_conversation(customer_id="C-DEMO-HEAVY")
    for text in ("데이터가 너무 느려요", "음 그거 말고 그냥 좀 싸게 쓰는 방법 없을까", "데이터 충전 한도가 있나요?",
                 "저한테 맞는 요금제 추천해 주세요", "고마워요"):
        assert orch.handle(conv, text).reply
    assert spy.used == []
