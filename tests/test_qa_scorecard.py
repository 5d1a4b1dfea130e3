"""The automatic QA scorecard (issue 16 item 1): each deterministic rubric item on real conversations run through
the orchestrator, both ways. Failures the orchestrator never produces (a write without a proposal, data read
before verification) are written as hand-made traces by ``append_handmade_turn``, clearly apart."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from sangdam.contact_center.qa import (
    QaScorecard, Rubric, load_rubric, score_and_store, score_conversation, weighted_score,
)
from sangdam.contact_center.qa_checks import casual_sentence
from sangdam.domain.db import session_scope
from sangdam.domain.insight_models import QaScore
from sangdam.orchestrator import Orchestrator
from sangdam.orchestrator.store import ConversationStore
from orchestrator_fixtures import TODAY, orchestrator


def verdict(card: QaScorecard, item: str) -> bool | None:
    return next(i.passed for i in card.items if i.item == item)


def evidence_turn(card: QaScorecard, item: str) -> int | None:
    return next(i.evidence.turn for i in card.items if i.item == item)


def run(engine, messages: list[str], customer_id: str | None = None) -> str:
    orch = orchestrator(engine)
    conv = orch.start_conversation(customer_id=customer_id)
    for text in messages:
        orch.handle(conv, text)
    return conv


def append_handmade_turn(engine, conv: str, *, user: str, reply: str, tool_calls: list[dict] | None = None,
                         intents: list[str] | None = None, verifier: dict | None = None,
                         pending: dict | None = None, total_ms: float = 10.0) -> int:
    """Store a turn the orchestrator would never produce, exactly as it stores its own: for the failing cases."""
    store = ConversationStore(engine)
    _, state = store.load(conv)
    state.turn_index += 1
    trace = {"user": user, "reply": reply, "intents": intents or [], "confidence": 1.0, "via": "classifier",
             "plan": [], "tool_calls": tool_calls or [], "llm_calls": [], "pending": pending,
             "verifier": verifier or {"passed": True, "unsupported": [], "unexecuted_claims": [],
                                      "foreign_pii": [], "action": "accepted"},
             "latency_ms": {"total": total_ms}}
    store.save_turn(conv, state, [("customer", user), ("bot", reply)], trace, dt.datetime(2026, 11, 15, 12))
    return state.turn_index


def call(name: str, status: str = "ok", result: dict | None = None, error_code: str | None = None) -> dict:
    return {"name": name, "args": {}, "status": status, "result": result, "error_code": error_code, "latency_ms": 1.0}


# -- identity before disclosure -----------------------------------------------------------------------------
def test_bill_read_after_in_chat_verification_passes_identity(db_engine):
    conv = run(db_engine, ["제 요금 얼마 나왔어요?", "010-2222-3333이고 생년월일은 1990년 4월 12일이에요"])
    card = score_conversation(db_engine, conv)
    assert verdict(card, "identity_before_disclosure") is True
    assert evidence_turn(card, "identity_before_disclosure") == 2


def test_bill_read_before_any_verification_fails_identity(db_engine):
    conv = orchestrator(db_engine).start_conversation()
    append_handmade_turn(db_engine, conv, user="제 요금 얼마예요?", reply="61,200원입니다.",
                         tool_calls=[call("get_bills", result={"bills": []})], intents=["billing.inquiry"])
    card = score_conversation(db_engine, conv)
    assert verdict(card, "identity_before_disclosure") is False
    assert evidence_turn(card, "identity_before_disclosure") == 1


def test_failed_verification_does_not_unlock_account_data(db_engine):
    conv = orchestrator(db_engine).start_conversation()
    append_handmade_turn(db_engine, conv, user="010-…", reply="확인되지 않았습니다.",
                         tool_calls=[call("verify_identity", result={"verified": False})])
    append_handmade_turn(db_engine, conv, user="요금 알려줘요", reply="61,200원입니다.",
                         tool_calls=[call("get_bills", result={})])
    assert verdict(score_conversation(db_engine, conv), "identity_before_disclosure") is False


# -- confirmation before write ------------------------------------------------------------------------------
def test_refill_proposed_then_confirmed_passes_confirmation(db_engine):
    conv = run(db_engine, ["데이터 2기가 충전해줘", "네"], customer_id="C1")
    card = score_conversation(db_engine, conv)
    assert verdict(card, "confirmation_before_write") is True
    assert evidence_turn(card, "confirmation_before_write") == 2


def test_roaming_pass_picked_from_priced_choices_counts_as_confirmed(db_engine):
    conv = run(db_engine, ["이번 달 요금 알려주시고 로밍도 켜주세요 일본 가요", "네 아시아 5일로 해주세요"], customer_id="C1")
    assert verdict(score_conversation(db_engine, conv), "confirmation_before_write") is True


def test_write_committed_without_a_proposal_fails_confirmation(db_engine):
    conv = orchestrator(db_engine).start_conversation(customer_id="C1")
    append_handmade_turn(db_engine, conv, user="데이터 2기가 충전해줘", reply="데이터 2GB를 충전했습니다.",
                         tool_calls=[call("refill_data", result={"gb": 2})], intents=["data.refill"])
    card = score_conversation(db_engine, conv)
    assert verdict(card, "confirmation_before_write") is False
    assert "without an earlier proposal" in next(i.evidence.note for i in card.items if i.item == "confirmation_before_write")


def test_write_run_after_the_customer_said_no_fails_confirmation(db_engine):
    conv = run(db_engine, ["데이터 2기가 충전해줘"], customer_id="C1")  # a real proposal, left pending
    append_handmade_turn(db_engine, conv, user="아니요 안 할래요", reply="데이터 2GB를 충전했습니다.",
                         tool_calls=[call("refill_data", result={"gb": 2})])
    assert verdict(score_conversation(db_engine, conv), "confirmation_before_write") is False


def test_declined_proposal_leaves_confirmation_not_applicable(db_engine):
    conv = run(db_engine, ["데이터 2기가 충전해줘", "아니요 안 할래요"], customer_id="C1")
    assert verdict(score_conversation(db_engine, conv), "confirmation_before_write") is None


# -- refusals explained -------------------------------------------------------------------------------------
def test_resume_refused_for_overdue_bill_is_explained(db_engine):
    conv = run(db_engine, ["회선 정지 풀어주세요"], customer_id="C2")
    card = score_conversation(db_engine, conv)
    assert verdict(card, "refusal_explained") is True
    assert verdict(card, "resolution") is True  # refused with a reason is a served request


def test_refusal_without_the_reason_in_the_reply_fails(db_engine):
    conv = orchestrator(db_engine).start_conversation(customer_id="C2")
    append_handmade_turn(db_engine, conv, user="회선 정지 풀어주세요", reply="처리할 수 없습니다.",
                         tool_calls=[call("resume_line", "proposed", error_code="overdue_bill")])
    card = score_conversation(db_engine, conv)
    assert verdict(card, "refusal_explained") is False
    assert evidence_turn(card, "refusal_explained") == 1


# -- grounded facts -----------------------------------------------------------------------------------------
def test_verified_replies_pass_grounding(db_engine):
    conv = run(db_engine, ["이번 달 요금 얼마예요?"], customer_id="C1")
    assert verdict(score_conversation(db_engine, conv), "grounded_facts") is True


def test_reply_the_verifier_rejected_fails_grounding(db_engine):
    conv = run(db_engine, ["이번 달 요금 얼마예요?"], customer_id="C1")
    append_handmade_turn(db_engine, conv, user="할인은요?", reply="30% 할인됩니다.",
                         verifier={"passed": False, "unsupported": ["30%"], "action": "fallback"})
    card = score_conversation(db_engine, conv)
    assert verdict(card, "grounded_facts") is False
    assert evidence_turn(card, "grounded_facts") == 2


# -- handoff ------------------------------------------------------------------------------------------------
def test_request_for_a_person_followed_by_transfer_passes_handoff(db_engine):
    conv = run(db_engine, ["상담사 연결해 주세요"])
    card = score_conversation(db_engine, conv)
    assert verdict(card, "handoff_when_needed") is True
    assert verdict(card, "confirmation_before_write") is True  # asked for: honoured at once, nothing to confirm
    assert verdict(card, "resolution") is True


def test_request_for_a_person_ignored_fails_handoff(db_engine):
    conv = orchestrator(db_engine).start_conversation()
    append_handmade_turn(db_engine, conv, user="사람이랑 얘기할래요", reply="무엇을 도와드릴까요?", intents=["agent.human"])
    assert verdict(score_conversation(db_engine, conv), "handoff_when_needed") is False


OUT_OF_SCOPE = "죄송합니다. 그 질문은 누리텔레콤 상담 범위를 벗어나 도와드리기 어렵습니다."


def test_three_unanswered_turns_without_an_agent_offer_fail_handoff(db_engine):
    conv = orchestrator(db_engine).start_conversation()
    for text in ("오늘 날씨 어때요?", "주식 추천해 주세요", "맛집 알려주세요"):
        append_handmade_turn(db_engine, conv, user=text, reply=OUT_OF_SCOPE, intents=["out_of_scope"])
    card = score_conversation(db_engine, conv)
    assert verdict(card, "handoff_when_needed") is False
    assert evidence_turn(card, "handoff_when_needed") == 3


def test_two_unanswered_turns_are_not_yet_stuck(db_engine):
    conv = run(db_engine, ["오늘 날씨 어때요?", "주식 추천해 주세요"])
    assert verdict(score_conversation(db_engine, conv), "handoff_when_needed") is None


def test_stuck_turns_with_an_agent_offered_pass_handoff(db_engine):
    conv = orchestrator(db_engine).start_conversation()
    for text in ("오늘 날씨 어때요?", "주식 추천해 주세요"):
        append_handmade_turn(db_engine, conv, user=text, reply=OUT_OF_SCOPE, intents=["out_of_scope"])
    append_handmade_turn(db_engine, conv, user="맛집 알려주세요", intents=["out_of_scope"],
                         reply="죄송합니다. 도와드리기 어렵습니다. 상담사 연결을 원하시면 말씀해 주세요.")
    assert verdict(score_conversation(db_engine, conv), "handoff_when_needed") is True


# -- resolution ---------------------------------------------------------------------------------------------
def test_completed_refill_is_resolved(db_engine):
    conv = run(db_engine, ["데이터 2기가 충전해줘", "네"], customer_id="C1")
    assert verdict(score_conversation(db_engine, conv), "resolution") is True


def test_conversation_left_waiting_for_a_yes_is_unresolved(db_engine):
    conv = run(db_engine, ["데이터 2기가 충전해줘"], customer_id="C1")
    card = score_conversation(db_engine, conv)
    assert verdict(card, "resolution") is False
    assert "awaiting_confirmation" in next(i.evidence.note for i in card.items if i.item == "resolution")


# -- polite register ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("reply", [
    "2026년 10월 청구 요금은 61,200원이며, 납부 기한은 2026년 11월 25일입니다.",
    "진행할까요? (\"네\" 또는 \"아니요\"로 답해 주세요)",
    "요금, 데이터, 로밍 문의는 언제든 도와드릴게요.",
    "감사합니다! 좋은 하루 보내세요.",
    "- 일본 3일: 3일, 데이터 2GB, 13,200원",
    "어떤 요금제로 바꿀까요?",
])
def test_polite_sentences_are_not_flagged(reply):
    assert casual_sentence(reply) is None


@pytest.mark.parametrize("reply", [
    "요금은 61,200원이야.", "충전 완료했다.", "그건 안 돼.", "뭐 필요해?", "다시 말해 줄래?", "내가 해 줄게.",
    "확인했어.", "그건 모르겠지.",
])
def test_casual_sentences_are_flagged(reply):
    assert casual_sentence(reply) is not None


def test_orchestrator_replies_pass_politeness(db_engine):
    conv = run(db_engine, ["데이터 2기가 충전해줘", "네"], customer_id="C1")
    assert verdict(score_conversation(db_engine, conv), "polite_register") is True


def test_a_casual_reply_fails_politeness_at_its_turn(db_engine):
    conv = run(db_engine, ["이번 달 요금 얼마예요?"], customer_id="C1")
    append_handmade_turn(db_engine, conv, user="고마워요", reply="응, 또 물어봐.")
    card = score_conversation(db_engine, conv)
    assert verdict(card, "polite_register") is False
    assert evidence_turn(card, "polite_register") == 2


# -- latency (threshold from the rubric) --------------------------------------------------------------------
def _rubric_file(tmp_path: Path, **latency_params: float) -> Path:
    data = load_rubric().model_dump()  # the packaged rubric, as an operator's copy
    for item in data["items"]:
        if item["id"] == "response_latency":
            item["params"] = latency_params
    data["version"] = f"test-{latency_params}"
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_latency_under_and_over_the_rubric_threshold(db_engine, tmp_path, monkeypatch):
    conv = run(db_engine, ["이번 달 요금 얼마예요?"], customer_id="C1")
    generous = load_rubric(_rubric_file(tmp_path, p95_ms=600_000))
    assert verdict(score_conversation(db_engine, conv, rubric=generous), "response_latency") is True
    monkeypatch.setenv("SANGDAM_QA_RUBRIC", str(_rubric_file(tmp_path, p95_ms=0.001)))  # the operator's own copy
    strict = score_conversation(db_engine, conv)
    assert strict.rubric_version == "test-{'p95_ms': 0.001}"
    assert verdict(strict, "response_latency") is False
    assert evidence_turn(strict, "response_latency") == 1


# -- scoring and storage ------------------------------------------------------------------------------------
def _rows(engine, conv: str) -> list[QaScore]:
    with session_scope(engine) as s:
        rows = s.scalars(select(QaScore).where(QaScore.conversation_id == conv)).all()
        s.expunge_all()
        return list(rows)


def test_rescoring_replaces_rows_instead_of_adding(db_engine, tmp_path):
    conv = run(db_engine, ["데이터 2기가 충전해줘"], customer_id="C1")
    first = score_and_store(db_engine, conv)
    assert len(_rows(db_engine, conv)) == len(first.items)
    assert {r.item: r.passed for r in _rows(db_engine, conv)}["resolution"] is False
    Orchestrator(db_engine, today=TODAY).handle(conv, "네")  # the conversation moves on: the next scoring replaces the verdicts
    second = score_and_store(db_engine, conv)
    rows = _rows(db_engine, conv)
    assert len(rows) == len(second.items) == len(first.items)
    assert {r.item: r.passed for r in rows}["resolution"] is True
    assert rows[0].evidence.get("note")
    smaller = Rubric(version="smaller", items=load_rubric().items[:2])  # an operator dropped items
    score_and_store(db_engine, conv, rubric=smaller)
    assert sorted(r.item for r in _rows(db_engine, conv)) == sorted(i.id for i in smaller.items)
    with session_scope(db_engine) as s:
        assert s.scalar(select(func.count()).select_from(QaScore)) == 2


def test_score_is_passed_weight_over_applicable_weight(db_engine):
    rubric = load_rubric()
    weights = {i.id: i.weight for i in rubric.items}
    card = score_conversation(db_engine, run(db_engine, ["데이터 2기가 충전해줘"], customer_id="C1"))
    applicable = [i for i in card.items if i.passed is not None]
    expected = sum(weights[i.item] for i in applicable if i.passed) / sum(weights[i.item] for i in applicable)
    assert card.score == pytest.approx(expected, abs=1e-4) and 0 < card.score < 1
    assert weighted_score(rubric, {"resolution": None}) == 1.0


def test_unknown_check_kind_in_a_rubric_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("version: x\nitems:\n  - {id: a, label_ko: 가, kind: no_such_check}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no_such_check"):
        load_rubric(path)


# -- the optional judge (soft criteria) ---------------------------------------------------------------------
class ScriptedJudge:
    """Unit-test stand-in for the LLM router: says whether its strong profile is trusted and answers from a script
    through the real scripted backend (same JSON validation as a served model)."""

    def __init__(self, responses: list, *, trusted: bool) -> None:
        from sangdam.llm.scripted import ScriptedBackend

        self.backend = ScriptedBackend(responses)
        self.trusted = trusted

    def capable_writer(self, role: str) -> bool:
        return self.trusted and role == "strong"

    def chat(self, messages, role=None, **kwargs):  # noqa: ANN001, ANN201
        return self.backend.chat(messages, **kwargs)


def test_soft_items_not_applicable_and_no_model_called_without_a_trusted_profile(db_engine):
    conv = run(db_engine, ["이번 달 요금 얼마예요?"], customer_id="C1")
    untrusted = ScriptedJudge(['{"passed": false, "turn": 1, "note": "x"}'], trusted=False)
    card = score_conversation(db_engine, conv, llm=untrusted)
    assert verdict(card, "empathy") is None
    assert untrusted.backend.calls == []
    assert verdict(score_conversation(db_engine, conv), "empathy") is None  # the embedded default: no llm at all


def test_trusted_judge_decides_soft_items_with_its_evidence(db_engine):
    conv = run(db_engine, ["이번 달 요금 얼마예요?"], customer_id="C1")
    judge = ScriptedJudge(['{"passed": false, "turn": 1, "note": "ignored the customer\'s frustration"}'], trusted=True)
    card = score_conversation(db_engine, conv, llm=judge)
    item = next(i for i in card.items if i.item == "empathy")
    assert item.passed is False and item.evidence.turn == 1 and item.evidence.trace_id
    assert "frustration" in item.evidence.note
    assert len(judge.backend.calls) == 1  # only the llm items ask the model
    assert "이번 달 요금 얼마예요?" in str(judge.backend.calls[0].messages)


def test_judge_failure_leaves_the_soft_item_not_applicable(db_engine):
    conv = run(db_engine, ["이번 달 요금 얼마예요?"], customer_id="C1")
    card = score_conversation(db_engine, conv, llm=ScriptedJudge([], trusted=True))  # script exhausted: LLMError
    assert verdict(card, "empathy") is None
    assert "judge unavailable" in next(i.evidence.note for i in card.items if i.item == "empathy")


# -- CLI ----------------------------------------------------------------------------------------------------
def test_cli_scores_stores_and_prints_json_or_korean_lines(db_engine, monkeypatch, tmp_path):
    import json

    from typer.testing import CliRunner

    from sangdam.cli import app
    from sangdam.config import reset_settings

    conv = run(db_engine, ["데이터 2기가 충전해줘", "네"], customer_id="C1")
    monkeypatch.setenv("SANGDAM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SANGDAM_DATABASE_URL", str(db_engine.url))
    reset_settings()
    try:
        runner = CliRunner()
        dry = runner.invoke(app, ["qa", "score", conv, "--json", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert _rows(db_engine, conv) == []
        card = json.loads(dry.output)
        assert {i["item"]: i["passed"] for i in card["items"]}["confirmation_before_write"] is True
        text = runner.invoke(app, ["qa", "score", conv])
        assert text.exit_code == 0, text.output
        assert "변경 전 고객 동의" in text.output and "통과" in text.output
        assert len(_rows(db_engine, conv)) == len(card["items"])
        missing = runner.invoke(app, ["qa", "score", "CV-nope"])
        assert missing.exit_code == 2
    finally:
        reset_settings()


def test_score_and_store_is_idempotent_on_each_backend(db_engine_any):
    conv = run(db_engine_any, ["데이터 2기가 충전해줘", "네"], customer_id="C1")
    for _ in range(2):  # a retried batch item
        card = score_and_store(db_engine_any, conv)
    rows = _rows(db_engine_any, conv)
    assert len(rows) == len(card.items)
    assert {r.item: r.passed for r in rows} == {i.item: i.passed for i in card.items}
    assert {r.rubric_version for r in rows} == {card.rubric_version}
