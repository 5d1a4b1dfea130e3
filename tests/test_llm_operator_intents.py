"""The operator's registered intents (docs/procedures.md) are offered to the models as the built-in ones are: the
router's LLM fallback and the LLM command generator list them with their description and accept them in their
schemas; an intent that is neither built in nor registered is still refused."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_procedures import _intent_file

from sangdam.orchestrator.intents import reset_operator_intents
from sangdam.orchestrator.router_llm import LlmIntentFallback
from sangdam.procedures.loader import reset_procedures
from sangdam.understanding.generators import DialogueView, LlmCommandGenerator

PROCEDURE = """procedure: membership_points
description_ko: 멤버십 포인트를 안내합니다.
steps:
  - say: 멤버십 포인트는 앱에서 확인하실 수 있습니다.
"""


class _Server:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer, self.calls = answer, []

    def chat(self, messages: Any, **kwargs: Any) -> Any:
        self.calls.append((messages, kwargs.get("json_schema")))
        return SimpleNamespace(text=json.dumps(self.answer))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    from sangdam.config import reset_settings

    path = tmp_path / "home"
    monkeypatch.setenv("SANGDAM_HOME", str(path))
    reset_settings()
    (path / "procedures").mkdir(parents=True)
    (path / "procedures" / "membership_points.yaml").write_text(PROCEDURE, encoding="utf-8")
    _intent_file(path, "membership.points", "membership_points", "멤버십 포인트")
    reset_procedures()
    reset_operator_intents()
    yield path
    reset_settings()
    reset_procedures()
    reset_operator_intents()


def test_the_fallback_offers_and_accepts_an_operator_intent(home: Path) -> None:
    server = _Server({"intents": ["membership.points"]})
    assert LlmIntentFallback(server).classify("포인트 얼마나 쌓였어?", []) == ["membership.points"]
    messages, schema = server.calls[0]
    assert "membership.points" in schema["properties"]["intents"]["items"]["enum"]
    assert "- membership.points: 멤버십 포인트 문의" in messages[0]["content"]  # its own description_ko


def test_the_fallback_still_refuses_an_unregistered_intent(home: Path) -> None:
    with pytest.raises(ValueError):
        LlmIntentFallback(_Server({"intents": ["membership.coupons"]})).classify("쿠폰 있어요?", [])


def test_the_command_generator_offers_and_accepts_an_operator_intent(home: Path) -> None:
    server = _Server({"commands": [{"kind": "start_task", "intent": "membership.points", "clause": "포인트"}]})
    result = LlmCommandGenerator(server).generate("포인트 얼마나 쌓였어?", DialogueView())
    assert [c.intent for c in result.commands] == ["membership.points"]
    messages, schema = server.calls[0]
    assert "membership.points=멤버십 포인트 문의" in messages[0]["content"]
    assert "membership.points" in json.dumps(schema)
