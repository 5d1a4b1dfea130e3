"""The LLM answer writer: cited sentences from a capable model, rejected when a sentence cites nothing."""

from __future__ import annotations

import json

import pytest

from sangdam.knowledge.answer import answer
from sangdam.knowledge.store import ingest_directory
from sangdam.knowledge.writer import WRITER_SCHEMA, LlmAnswerWriter
from sangdam.llm.router import LLMRouter
from sangdam.llm.scripted import ScriptedBackend


@pytest.fixture(scope="module")
def refill_kb(tmp_path_factory):
    docs = tmp_path_factory.mktemp("docs")
    (docs / "충전.md").write_text(
        "# 데이터 충전\n\n데이터는 한 번에 1GB에서 5GB까지, 한 달에 최대 10GB까지 충전할 수 있습니다.\n\n"
        "# 로밍\n\n로밍 패스 요금은 이번 달 요금에 청구됩니다.\n", encoding="utf-8")
    ingest_directory(docs, "writertest")
    return "writertest"


def _writer(reply: dict) -> tuple[LlmAnswerWriter, ScriptedBackend]:
    script = ScriptedBackend([json.dumps(reply, ensure_ascii=False)])
    return LlmAnswerWriter(LLMRouter(backends={"strong": script, "fast": script})), script


def test_writer_answer_is_used_when_every_sentence_cites_a_passage(refill_kb):
    writer, script = _writer({"sentences": [{"text": "한 달에 최대 10GB까지 충전하실 수 있습니다.", "passage_ids": [1]}]})
    result = answer("데이터 충전 한 달에 몇 기가까지 돼요?", kb=refill_kb, writer=writer)
    assert result.answer == "한 달에 최대 10GB까지 충전하실 수 있습니다."
    assert result.citations and "10GB" in result.citations[0].quote
    call = script.calls[0]
    assert "[자료 1]" in str(call) and WRITER_SCHEMA["required"] == ["sentences"]


def test_uncited_sentence_falls_back_to_the_extractive_answer(refill_kb):
    writer, _ = _writer({"sentences": [{"text": "한 달에 무제한으로 충전됩니다.", "passage_ids": [99]}]})
    result = answer("데이터 충전 한 달에 몇 기가까지 돼요?", kb=refill_kb, writer=writer)
    assert "무제한" not in result.answer
    assert "10GB" in result.answer
