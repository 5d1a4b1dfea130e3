"""One fact once per reply; proactive notices only when new to the customer and related to the question
(issue 10, item 7)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from sangdam.domain.seed import seed
from sangdam.orchestrator import Orchestrator

TODAY = dt.date(2026, 11, 29)


@pytest.fixture
def demo(db_engine) -> Orchestrator:
    seed(db_engine, today=TODAY)
    return Orchestrator(db_engine, today=TODAY)


def _replies(orch: Orchestrator, customer: str, *messages: str) -> list[str]:
    conv = orch.start_conversation(customer_id=customer)
    return [orch.handle(conv, m).reply for m in messages]


def test_nonpayment_fault_and_resume_request_state_the_overdue_amount_once(demo) -> None:
    (reply,) = _replies(demo, "C-DEMO-OVERDUE", "전화가 안 돼요. 정지를 풀어 주세요")
    assert reply.count("98,000원") == 1
    assert "정지 상태" in reply and "납부하시면 정지가 해제됩니다" in reply
    assert "참고로" not in reply


def test_throttled_customer_hears_the_speed_limit_once(demo) -> None:
    (reply,) = _replies(demo, "C-DEMO-HEAVY", "데이터가 너무 느려요")
    assert len(re.findall(r"모두 사용하셔서", reply)) == 1
    assert "1Mbps" in reply and "참고로" not in reply


def test_overdue_question_after_a_fault_turn_still_answers_with_the_bills(demo) -> None:
    first, second = _replies(demo, "C-DEMO-OVERDUE", "전화가 안 돼요", "미납 요금이 얼마예요?")
    assert first.count("98,000원") == 1
    assert "98,000원" in second and "2026년 9월 요금 49,000원" in second  # a direct question gets its answer


def test_early_termination_without_instalment_states_the_total_once(demo) -> None:
    (reply,) = _replies(demo, "C-DEMO-CONTRACT", "지금 해지하면 위약금이 얼마예요?")
    assert reply.count("119,025원") == 1
    assert "할부금 0원" not in reply


def test_notice_unrelated_to_the_question_is_not_appended(demo) -> None:
    (contract,) = _replies(demo, "C-DEMO-HEAVY", "약정 언제 끝나요?")
    assert "참고로" not in contract and "데이터" not in contract
    (usage,) = _replies(demo, "C-DEMO-CONTRACT", "데이터 얼마나 남았어요?")
    assert "참고로" not in usage and "약정" not in usage


def test_related_notice_new_to_the_customer_is_still_given(demo) -> None:
    (bill,) = _replies(demo, "C-DEMO-CONTRACT", "이번 달 요금 얼마 나왔어요?")
    assert "참고로 약정이 2026년 12월 17일에 끝납니다" in bill


def test_two_bills_each_keep_their_status_aside() -> None:
    from sangdam.orchestrator.repetition import one_fact_once

    bills = ["끝자리 0003 회선의 2026년 10월 청구 요금은 107,083원이며, 납부 기한은 2026년 11월 25일입니다. (납부 완료)",
             "끝자리 0013 회선의 2026년 10월 청구 요금은 19,800원이며, 납부 기한은 2026년 11월 25일입니다. (납부 완료)"]
    assert one_fact_once(bills) == bills


def test_repeated_sentence_and_restated_fact_are_left_out() -> None:
    from sangdam.orchestrator.repetition import one_fact_once

    messages = [
        "미납 요금 98,000원이 있습니다. 납부하시면 정지가 해제됩니다.",
        "미납된 요금 98,000원이 있어 요청하신 처리를 진행할 수 없습니다. 미납 요금을 먼저 납부해 주시면 바로 도와드리겠습니다.",
        "현재 미납 요금은 총 98,000원입니다.\n- 2026년 9월 요금 49,000원 (미납)",
        "납부하시면 정지가 해제됩니다.",
        "참고로 미납 요금 98,000원이 있습니다. 납부를 원하시면 말씀해 주세요.",
        "청구 항목:\n- 월정액: 49,000원",
        "- 월정액: 49,000원",
    ]
    assert one_fact_once(messages) == [
        "미납 요금 98,000원이 있습니다. 납부하시면 정지가 해제됩니다.",
        "- 2026년 9월 요금 49,000원 (미납)",
        "청구 항목:\n- 월정액: 49,000원",
        "- 월정액: 49,000원",  # a list item is not a sentence to merge: the same item of another bill stays
    ]


def test_notice_comes_when_it_first_relates_to_a_question_and_only_once(demo) -> None:
    usage, bill, again = _replies(demo, "C-DEMO-CONTRACT", "데이터 얼마나 남았어요?", "이번 달 요금 얼마 나왔어요?",
                                  "지난달 요금도 알려 주세요")
    assert "약정" not in usage
    assert "참고로 약정이 2026년 12월 17일에 끝납니다" in bill
    assert "참고로" not in again


def test_a_proposal_that_already_asks_is_not_asked_again(demo) -> None:
    (mms,) = _replies(demo, "C-DEMO-MMS", "사진 문자가 안 보내져요")
    assert mms.count("?") == 1 and "진행할까요?" not in mms
    assert '("네" 또는 "아니요"로 답해 주세요)' in mms
    (refill,) = _replies(demo, "C-DEMO-HEAVY", "데이터 2GB 충전해 주세요")
    assert refill.endswith('진행할까요? ("네" 또는 "아니요"로 답해 주세요)')  # a statement of the effect gets the question


def test_plan_details_state_data_and_speed_once(demo) -> None:
    (reply,) = _replies(demo, "C-DEMO-LIGHT", "5G 스탠다드 요금제 알려주세요")
    assert reply.count("110GB") == 1 and reply.count("5Mbps") == 1
    assert "넉넉한 5G" in reply  # what the catalogue adds stays
    (unlimited,) = _replies(demo, "C-DEMO-LIGHT", "5G 프리미엄 요금제 알려주세요")
    assert unlimited.count("무제한") == 1 and "테더링 50GB" in unlimited
    (mini,) = _replies(demo, "C-DEMO-LIGHT", "LTE 미니 요금제 알려주세요")
    assert mini.count("1.5GB") == 1 and "통화 위주 고객용." in mini and "1. 5" not in mini
