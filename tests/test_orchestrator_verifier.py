"""The verifier blocks replies with facts no tool produced, unexecuted claims and PII."""

from __future__ import annotations

from sangdam.llm.router import LLMRouter
from sangdam.llm.scripted import ScriptedBackend
from sangdam.orchestrator.blackboard import Blackboard
from sangdam.orchestrator.types import ToolCallRecord
from sangdam.orchestrator.verifier import Verifier
from orchestrator_fixtures import orchestrator


class _CapableRouter(LLMRouter):
    """The scripted backend in the strong role, flagged as a capable Korean writer."""

    capable_writer = True


def test_verifier_flags_invented_price():
    bb = Blackboard()
    bb.put("get_bills", {"bills": [{"amount_krw": 61200, "due_date": "2026-11-25"}]})
    verdict = Verifier(["5G 슬림"]).check("이번 달 요금은 61,200원이고 할인 후 39,000원입니다.", bb, [])
    assert not verdict.passed
    assert "39,000" in verdict.unsupported


def test_verifier_flags_claimed_action_without_executed_tool():
    verdict = Verifier([]).check("요금제를 변경했습니다.", Blackboard(), [])
    assert verdict.unexecuted_claims
    ok = Verifier([]).check(
        "요금제를 변경했습니다.", Blackboard(), [ToolCallRecord(name="change_plan", status="ok")]
    )
    assert ok.passed


def test_verifier_flags_phone_numbers_in_reply():
    verdict = Verifier([]).check("010-5555-6666 고객님의 요금입니다.", Blackboard(), [])
    assert verdict.foreign_pii and not verdict.passed


def test_invented_price_from_llm_phrasing_is_blocked_and_template_reply_is_sent(db_engine):
    script = ScriptedBackend(["고객님의 10월 요금은 39,000원입니다. 납부 기한은 11월 25일입니다."])
    llm = _CapableRouter(backends={"strong": script, "fast": script})
    orch = orchestrator(db_engine, llm=llm)
    conv = orch.start_conversation(customer_id="C1")
    result = orch.handle(conv, "요금 얼마 나왔어요?")
    assert "39,000" not in result.reply
    assert "61,200원" in result.reply
    assert result.verifier.action == "fallback"
    assert "39,000" in result.verifier.unsupported


def test_grounded_llm_phrasing_is_accepted(db_engine):
    script = ScriptedBackend(["고객님, 2026년 10월 요금은 61,200원이고 납부 기한은 2026년 11월 25일입니다."])
    llm = _CapableRouter(backends={"strong": script, "fast": script})
    orch = orchestrator(db_engine, llm=llm)
    conv = orch.start_conversation(customer_id="C1")
    result = orch.handle(conv, "요금 얼마 나왔어요?")
    assert result.reply.startswith("고객님, 2026년 10월 요금은 61,200원")
    assert result.verifier.action == "regenerated"
