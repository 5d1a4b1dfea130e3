"""The birth date is the second identity factor (issue 10, item 5): masked in the stored transcript, traces,
after-call summary and transfer summary like any PII, while the verification itself still uses the original."""

from __future__ import annotations

import json

import pytest

from sangdam.contact_center.summary import summarize
from orchestrator_fixtures import orchestrator

# How C1's birth date (1990-04-12) can appear in clear, in any record.
CLEAR_FORMS = ("1990-04-12", "1990년", "90.04.12", "900412", "구공공사일이", "4월 12일", "90년생")


def _without_timings(value):
    """Traces without their latency numbers (a float may contain any run of digits)."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in ("latency_ms", "ms")}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _assert_no_birth_date(blob: str) -> None:
    leaked = [form for form in CLEAR_FORMS if form in blob]
    assert leaked == [], f"birth date in clear: {leaked}"


@pytest.mark.parametrize(
    "answer",
    ["010-2222-3333 생년월일은 1990년 4월 12일입니다", "01022223333 90.04.12", "010-2222-3333 90년생 4월 12일이요",
     "공일공 이이이이 삼삼삼삼 구공공사일이"],
)
def test_birth_date_given_for_identity_is_masked_in_transcript_traces_and_summary(db_engine, answer: str) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation()
    orch.handle(conv, "제 요금 얼마 나왔어요?")
    done = orch.handle(conv, answer)
    assert done.verified_customer_id == "C1"  # the verification got the original date

    customer_lines = [m["text"] for m in orch.transcript(conv) if m["role"] == "customer"]
    _assert_no_birth_date(json.dumps(customer_lines, ensure_ascii=False))
    assert "[생년월일#1]" in customer_lines[1]
    traces = json.dumps(_without_timings(orch.traces(conv)), ensure_ascii=False)
    _assert_no_birth_date(traces)
    verify = next(c for c in done.tool_calls if c.name == "verify_identity")
    assert verify.args["birth_date"] == "[생년월일]"
    _assert_no_birth_date(summarize(db_engine, conv).model_dump_json())


def test_birth_date_is_masked_in_the_transfer_summary(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation()
    orch.handle(conv, "제 요금 얼마 나왔어요?")
    orch.handle(conv, "010-2222-3333, 1990년 4월 12일")
    proposed = orch.handle(conv, "상담사 연결해 주세요")
    transfer = next(c for c in proposed.tool_calls if c.name == "transfer_to_human")
    assert "[생년월일#1]" in transfer.args["summary"]
    _assert_no_birth_date(transfer.args["summary"])
    done = orch.handle(conv, "네")
    calls = [c.model_dump(mode="json") for c in done.tool_calls]
    _assert_no_birth_date(json.dumps(_without_timings(calls), ensure_ascii=False))


def test_customer_record_birth_date_is_masked_in_traces(db_engine) -> None:
    from sangdam.agents.base import _mask_tree
    from sangdam.orchestrator.privacy import Privacy

    record = {"id": "C1", "name": "김하늘", "birth_date": "1990-04-12", "lines": [{"number": "010-2222-3333"}]}
    masked = _mask_tree(record, Privacy.mask_only)
    assert masked["birth_date"] == "[생년월일]"
    assert masked["lines"][0]["number"] == "[전화번호]"


def test_a_wrong_birth_date_is_masked_too(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation()
    orch.handle(conv, "제 요금 얼마 나왔어요?")
    orch.handle(conv, "010-2222-3333 1991년 4월 12일이요")
    customer_lines = [m["text"] for m in orch.transcript(conv) if m["role"] == "customer"]
    assert "1991" not in customer_lines[1]


def test_dates_that_are_not_identity_answers_stay_readable(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "11월 25일까지 내면 되나요?")
    customer_lines = [m["text"] for m in orch.transcript(conv) if m["role"] == "customer"]
    assert customer_lines == ["11월 25일까지 내면 되나요?"]
