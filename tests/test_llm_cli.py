"""``sangdam llm`` commands, against a configured OpenAI-compatible server (real local HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sangdam.cli import app
from sangdam.config import reset_settings
from sangdam.llm.router import reset_llm_router
from test_llm_openai import FakeOpenAIServer

runner = CliRunner()


@pytest.fixture
def configured_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with FakeOpenAIServer(lambda body: {"content": '{"intent": "roaming"}' if "guided_json" in body
                                        else "안녕하세요, 누리텔레콤입니다."}) as server:
        (tmp_path / "llm.yaml").write_text(
            f"roles:\n  strong: {{backend: openai, profile: midm-2.0-base, base_url: '{server.base_url}'}}\n")
        monkeypatch.setenv("SANGDAM_HOME", str(tmp_path))
        reset_settings()
        reset_llm_router()
        yield server
    reset_settings()
    reset_llm_router()


def test_ask_strong_prints_the_answer_as_json(configured_home):
    result = runner.invoke(app, ["llm", "ask", "안녕하세요", "--role", "strong", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["text"] == "안녕하세요, 누리텔레콤입니다." and payload["role"] == "strong"
    assert payload["backend"] == "openai" and payload["usage"]["prompt_tokens"] == 17


def test_ask_with_schema_file_returns_the_validated_object(configured_home, tmp_path: Path):
    schema = tmp_path / "intent.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"intent": {"type": "string"}},
                                  "required": ["intent"]}))
    result = runner.invoke(app, ["llm", "ask", "일본 로밍", "--role", "strong", "--schema", str(schema)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout[: result.stdout.rindex("}") + 1]) == {"intent": "roaming"}


def test_ask_with_unreadable_schema_is_a_usage_error(configured_home, tmp_path: Path):
    result = runner.invoke(app, ["llm", "ask", "x", "--schema", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "cannot read JSON schema" in result.output


def test_models_lists_roles_profiles_and_missing_weights(configured_home):
    result = runner.invoke(app, ["llm", "models", "--json", "--profiles"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    roles = {r["role"]: r for r in payload["roles"]}
    assert roles["strong"]["endpoint"] == configured_home.base_url and roles["strong"]["capable_writer"] is True
    assert roles["fast"]["backend"] == "embedded" and roles["fast"]["weights_present"] is False
    assert {"exaone-4.0-32b", "kanana-1.5-8b"} <= {p["name"] for p in payload["profiles"]}


def test_ask_on_missing_embedded_weights_names_the_fix(configured_home):
    result = runner.invoke(app, ["llm", "ask", "안녕", "--role", "fast"])
    assert result.exit_code == 1 and "scripts/models.sh" in result.output
