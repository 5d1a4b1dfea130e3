"""After-call summaries follow what the trace shows (issue 10, item 6): no write done and the request unanswered
is not "안내 완료", and a conversation about an unpaid bill is not filed as a network fault."""

from __future__ import annotations

import datetime as dt

import pytest

from sangdam.contact_center.summary import summarize
from sangdam.domain.seed import seed
from sangdam.orchestrator import Orchestrator

TODAY = dt.date(2026, 11, 29)


@pytest.fixture
def demo(db_engine) -> Orchestrator:
    seed(db_engine, today=TODAY)
    return Orchestrator(db_engine, today=TODAY)


def _talk(orch: Orchestrator, customer: str | None, *messages: str):
    conv = orch.start_conversation(customer_id=customer)
    for message in messages:
        orch.handle(conv, message)
    return summarize(orch.engine, conv)


def test_lost_phone_report_left_at_the_line_question_is_not_marked_answered(demo) -> None:
    summary = _talk(demo, "C-DEMO-LOST", "휴대폰을 잃어버렸어요. 분실 신고해 주세요")
    assert summary.actions_taken == []
    assert summary.outcome == "고객 답변 대기"
    assert "회선" in summary.follow_up and "회선 정지" in summary.follow_up


def test_lost_phone_report_carried_out_is_resolved(demo) -> None:
    summary = _talk(demo, "C-DEMO-LOST", "휴대폰을 잃어버렸어요. 분실 신고해 주세요", "제 번호요, 9000-0003이요", "네")
    assert [a.tool for a in summary.actions_taken] == ["suspend_line"]
    assert (summary.category, summary.outcome) == ("회선 정지", "처리 완료")


def test_nonpayment_conversation_is_filed_as_nonpayment_and_the_refused_resume_is_said(demo) -> None:
    summary = _talk(demo, "C-DEMO-OVERDUE", "전화가 안 돼요", "정지를 풀어 주세요")
    assert summary.category == "요금 미납·이용 정지"
    assert summary.outcome == "처리 불가 안내"
    assert "회선 정지 해제" in summary.follow_up and "미납" in summary.follow_up


def test_nonpayment_conversation_where_the_bills_were_paid_is_a_payment(demo) -> None:
    summary = _talk(demo, "C-DEMO-OVERDUE", "전화가 안 돼요", "미납 요금 다 납부할게요", "네")
    assert {a.tool for a in summary.actions_taken} == {"pay_bill"}
    assert (summary.category, summary.outcome) == ("요금 납부", "처리 완료")


def test_policy_question_without_an_answer_is_unresolved(demo) -> None:
    # the test home has no knowledge base: the bot says it found no document
    summary = _talk(demo, None, "약관에 명의 변경 규정이 어떻게 되나요?")
    assert summary.outcome == "미해결"
    assert summary.follow_up != "없음"


def test_answered_question_stays_answered(demo) -> None:
    summary = _talk(demo, "C-DEMO-CONTRACT", "약정이 언제 끝나요?")
    assert (summary.category, summary.outcome, summary.follow_up) == ("약정 조회", "안내 완료", "없음")


def test_options_left_unchosen_are_named_in_korean(demo) -> None:
    summary = _talk(demo, "C-DEMO-ROAMING", "다음 주에 일본 가는데 로밍 켜주세요")
    assert summary.outcome == "고객 확인 대기"
    assert "로밍 신청" in summary.follow_up and "roaming." not in summary.follow_up
