"""The LLM agent through a real OpenAI-compatible server process (issue 14): llama-cpp-python's
``python -m llama_cpp.server`` serving the embedded 1.5B GGUF, started here on a free port; a scenario of the
open-world set (evalsets/agent-2026-12/) runs its first turn through ``OpenAICompatBackend`` (HTTP, streamed) with
the agent forced on. For this profile (``tool_calls: true``) on an ``openai`` backend the agent sends its action
schema as native OpenAI ``tools`` (orchestrator/engine.py); the ``response_format`` form of a JSON schema, what the
agent sends where native tool calls are off, is checked live on the same server by its own test.

What is asserted is what must hold whatever a small model does: the agent ran and asked the server at least once
(streamed, offered only allow-listed tools), the turn ended in one of the agent's defined ways, and no write ran and
no other customer's data reached the reply. Whether the 1.5B model answers *correctly* is measured, not required
(bench/agent/openworld.py; docs/agent-eval.md).

Kept affordable on two CPU cores (the prompt is what costs: llama.cpp reads it at ~20-30 tokens/s there): the agent
is offered a short allow-list (``AGENT_TOOLS``: the bill tools the scenario needs and two writes; the server's prompt
is ~1.8k tokens instead of ~4.6k with every tool and the catalogue, the tools being both in the system text and in
the chat template's tool block), at most ``AGENT_MAX_STEPS`` model calls; the intent router and the sentiment model are
the ones cached in pytest's cache folder (as tests/test_router_routing.py does for the router) instead of being
retrained in this session's fresh home; the server generates on one thread (see the fixture).

The server is llama-cpp-python's ``[server]`` extra, installed by ``make setup`` (pyproject's ``llm`` extra): when it
is not importable the test is skipped with the reason on a developer's machine and fails under ``CI``. Skipped with
the reason when the weights are missing (scripts/models.sh assembles them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sangdam.config import Settings

ROOT = Path(__file__).resolve().parents[1]
ENDINGS = {"answered", "proposed", "identify", "unverified", "limit_steps", "limit_tokens", "limit_time",
           "model_error"}
SCENARIOS = ["agent-why-l2-new-item-october"]
# What the agent is offered: the context's lines and bills (list_lines, get_bills), the tool the scenario is about
# (explain_bill) and two writes that must be proposed, never run, within the turn.
AGENT_TOOLS = "list_lines,get_bills,explain_bill,pay_bill,refill_data"
AGENT_MAX_STEPS = 2  # a tool call, then the answer (the last step may only answer)


# Resolved at import, before any test points SANGDAM_HOME elsewhere: the weights live in the real home.
MODELS_DIR = Settings().models_dir


def _weights() -> Path | None:
    path = MODELS_DIR / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    return path if path.is_file() else None


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    env = dict(os.environ)
    probe = subprocess.run([sys.executable, "-c", "import llama_cpp.server.app"], env=env, capture_output=True,
                           text=True)
    if probe.returncode != 0:
        missing = (probe.stderr.strip().splitlines() or ["?"])[-1]
        reason = (f"llama-cpp-python's server extra is not importable ({missing}): it is a declared dependency "
                  "(pyproject's llm extra, 'llama-cpp-python[server]'); run `make setup`")
        if _in_ci():
            pytest.fail(reason)  # under CI a missing declared dependency is a broken set-up, not a skip
        pytest.skip(reason)
    weights = _weights()
    if weights is None:
        pytest.skip(f"the embedded 1.5B GGUF is not in {MODELS_DIR} (scripts/models.sh assembles it)")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            # n_ctx: the ~1k-token prompt, two steps and their results fit in 4096. Threads: reading the prompt is
            # compute-bound (every core); generating is memory-bound and one thread does it nearly as fast, while two
            # spinning threads on a busy two-core box fell to 5 tokens/s against 17 for one (measured, 2026-12-01)
            [sys.executable, "-m", "llama_cpp.server", "--model", str(weights), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "4096", "--n_threads", "1",
             "--n_threads_batch", str(min(4, os.cpu_count() or 2)),
             "--model_alias", "qwen2.5-coder-1.5b-instruct-q4_k_m"],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited ({proc.returncode}): {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start in 300 s: {log.read_text()[-2000:]}")
            time.sleep(1)
        yield base, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_llama_cpp_server_gets_the_schema_in_the_form_it_accepts() -> None:
    """llama-cpp-python's server answers HTTP 500 to ``response_format: {type: json_schema}`` (measured, 0.3.36: "Input
    should be 'text' or 'json_object'"); ``{type: json_object, schema}`` is what it and llama.cpp's llama-server take."""
    from sangdam.llm.backend import ChatRequest
    from sangdam.llm.openai_compat import OpenAICompatBackend
    from sangdam.llm.profiles import get_profile
    from sangdam.llm.structured import OutputSchema
    from sangdam.llm.types import Message

    schema = {"type": "object", "properties": {"action": {"const": "answer"}}, "required": ["action"]}
    backend = OpenAICompatBackend(base_url="http://127.0.0.1:9/v1", profile=get_profile("qwen2.5-coder-1.5b-instruct"))
    request = ChatRequest(messages=[Message(role="user", content="안녕하세요")], schema=OutputSchema(schema))
    body = backend.build_body(request, stream=True)
    assert body["response_format"] == {"type": "json_object", "schema": schema}


def _recorded_bodies(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every request body ``OpenAICompatBackend`` builds from now on (what goes over HTTP), in order."""
    from sangdam.llm.openai_compat import OpenAICompatBackend

    bodies: list[dict[str, Any]] = []
    build_body = OpenAICompatBackend.build_body

    def recording(self: OpenAICompatBackend, chat: Any, *, stream: bool) -> dict[str, Any]:
        body = build_body(self, chat, stream=stream)
        bodies.append(body)
        return body

    monkeypatch.setattr(OpenAICompatBackend, "build_body", recording)
    return bodies


@pytest.mark.slow
def test_a_llama_cpp_server_answers_under_the_schema(llama_server: tuple[str, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The form above, live: a streamed request with ``response_format: {type: json_object, schema}`` is answered
    (not HTTP 500) and the server's grammar holds the answer to the schema at the first try (no repair)."""
    from sangdam.llm.openai_compat import OpenAICompatBackend
    from sangdam.llm.profiles import get_profile

    base, _ = llama_server
    schema = {"type": "object", "properties": {"action": {"const": "answer"}, "line": {"enum": ["L1", "L2"]}},
              "required": ["action", "line"], "additionalProperties": False}
    bodies = _recorded_bodies(monkeypatch)
    backend = OpenAICompatBackend(base_url=base, profile=get_profile("qwen2.5-coder-1.5b-instruct"), timeout_s=120)
    try:
        ask = "번호 끝자리 4444 회선의 id는 L2입니다. 그 회선을 고르세요."
        result = backend.chat([{"role": "user", "content": ask}], json_schema=schema, max_tokens=48, timeout=120)
    finally:
        backend.close()
    assert [b["stream"] for b in bodies] == [True]
    assert bodies[0]["response_format"] == {"type": "json_object", "schema": schema}
    assert not result.repaired and result.data["action"] == "answer" and result.data["line"] in ("L1", "L2")


@pytest.mark.slow
def test_agent_turns_through_a_real_openai_compatible_server(llama_server: tuple[str, Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             request: pytest.FixtureRequest) -> None:
    sys.path.insert(0, str(ROOT / "bench" / "agent"))
    import openworld

    from sangdam.config import reset_settings
    from sangdam.contact_center import sentiment
    from sangdam.orchestrator import router as router_module
    from sangdam.orchestrator.router_training import load_or_train

    base, server_log = llama_server
    # the intent router and the sentiment model from pytest's cache (keyed by their training data, so never stale):
    # training them in this session's fresh home takes over a minute on two cores and is not what this test is about
    monkeypatch.setattr(router_module, "_model",
                        load_or_train(cache_dir=Path(request.config.cache.mkdir("sangdam-router"))))
    classifier = sentiment.SentimentClassifier(
        sentiment.load_or_train(cache_dir=Path(request.config.cache.mkdir("sangdam-sentiment"))))
    monkeypatch.setattr(sentiment, "get_classifier", lambda: classifier)
    monkeypatch.setenv("SANGDAM_AGENT_MAX_SECONDS", "300")  # two shared CPU cores: a ~1k-token prompt takes a minute
    monkeypatch.setenv("SANGDAM_AGENT_MAX_STEPS", str(AGENT_MAX_STEPS))
    monkeypatch.setenv("SANGDAM_AGENT_TOOLS", AGENT_TOOLS)
    reset_settings()
    bodies = _recorded_bodies(monkeypatch)  # what went over HTTP
    config = tmp_path / "llm-server.yaml"
    config.write_text(
        "roles:\n"
        "  strong: {backend: openai, profile: qwen2.5-coder-1.5b-instruct, "
        f"base_url: '{base}', timeout_s: 300}}\n", encoding="utf-8")
    paths = [str(p) for p in sorted((ROOT / "evalsets" / "agent-2026-12" / "scenarios").glob("*.yaml"))]
    from sangdam.evaluation.loader import load_scenarios

    loaded = [i for i in load_scenarios(paths) if i.scenario.id in SCENARIOS]
    assert len(loaded) == len(SCENARIOS)

    traces: list[dict[str, Any]] = []
    from sangdam.evaluation.runner import ScenarioRunner, default_orchestrator_factory

    runner = ScenarioRunner(
        llm_provider=openworld.trusted_provider(str(config)),
        orchestrator_factory=lambda *a, **k: openworld._Recording(default_orchestrator_factory(*a, **k), traces))
    drafts: list[str] = []  # the answer's verified sentences, shown while the server streamed them
    from sangdam.orchestrator import progress

    try:
        with progress.listening(lambda _line: None, draft=drafts.append):
            report = runner.run(openworld.first_turns(loaded))
    finally:
        runner.close()
        monkeypatch.undo()
        reset_settings()

    assert "POST /v1/chat/completions" in server_log.read_text(errors="replace")  # the HTTP path was taken
    assert bodies and all(b["stream"] for b in bodies)  # streamed
    # the first step offers the action schema's options as native tools: only the allow-listed ones (and the
    # documents search, Sangdam's own); the last step may only answer, as plain text
    offered = {t["function"]["name"] for t in bodies[0].get("tools", [])}
    assert offered and offered <= {*AGENT_TOOLS.split(","), "search_documents"}
    assert len(traces) == len(SCENARIOS)
    for scenario, trace in zip(report.scenarios, traces, strict=True):
        runs = [c for c in trace["llm_calls"] if c.get("purpose") == "agent"]
        assert len(runs) == 1, scenario.id
        run = runs[0]
        assert run["ended"] in ENDINGS
        print(f"\n{scenario.id}: {run}")  # how it ended (pytest -s), for docs/agent-eval.md
        assert 1 <= run["steps"] <= AGENT_MAX_STEPS
        assert len(bodies) >= run["steps"]  # each step is a request to the server (a repair retry is another)
        turn = scenario.turns[0]
        assert not any(t.status == "ok" and t.name in ("pay_bill", "change_plan", "refill_data") for t in turn.tools)
        assert "99,000" not in turn.reply and "박서준" not in turn.reply
        assert run["drafted_sentences"] == len(drafts)  # one scenario: every draft piece is this turn's
        if drafts and run["ended"] == "answered" and not run["rejected_drafts"]:
            assert turn.reply.startswith("".join(drafts).strip()), (drafts, turn.reply)  # the draft was the answer
        elif run["ended"] != "answered":
            assert not [d for d in drafts if d.strip() and d.strip() in turn.reply]  # the final reply replaced it
