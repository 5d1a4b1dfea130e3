"""``sangdam route``: one JSON object per utterance, exactly {intents, confidence, via}."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sangdam.cli import app
from sangdam.orchestrator import router as router_module
from sangdam.orchestrator.intents import INTENTS
from sangdam.orchestrator.router_training import load_or_train


@pytest.fixture(autouse=True)
def _cached_model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = Path(request.config.cache.mkdir("sangdam-router"))
    monkeypatch.setattr(router_module, "_model", load_or_train(cache_dir=folder))


def _check_shape(obj: dict) -> None:
    assert set(obj) == {"intents", "confidence", "via"}
    assert obj["intents"] and all(i in INTENTS for i in obj["intents"])
    assert isinstance(obj["confidence"], float) and 0.0 <= obj["confidence"] <= 1.0
    assert obj["via"] == "classifier"


def test_route_text_prints_one_json_object() -> None:
    out = CliRunner().invoke(app, ["route", "데이터 얼마나 남았는지 보고 2기가 충전해줘"])
    assert out.exit_code == 0, out.output
    obj = json.loads(out.stdout)
    _check_shape(obj)
    assert obj["intents"] == ["data.usage", "data.refill"]


def test_route_jsonl_prints_one_line_per_utterance_skipping_blank_lines() -> None:
    out = CliRunner().invoke(app, ["route", "--jsonl"], input="요금 얼마야\n\n로밍 꺼줘\n상담원 연결해 주세요\n")
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    for obj in lines:
        _check_shape(obj)
    assert [o["intents"] for o in lines] == [["billing.inquiry"], ["roaming.disable"], ["agent.human"]]


def test_route_without_text_or_jsonl_is_a_usage_error() -> None:
    out = CliRunner().invoke(app, ["route"])
    assert out.exit_code == 2
    assert "--jsonl" in out.output
