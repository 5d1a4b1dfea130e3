"""A pending write runs only after an unambiguous yes to *that* proposal (issue 10, items 1, 2 and 9).

Corrections re-propose with the new value, questions about the action keep it pending, a choice among options
leads to a preview, and "네"/"아니요" with nothing pending is answered as what it is. Every test checks the
database, not only the wording: nothing may be charged that the customer did not agree to.
"""

from __future__ import annotations

import copy

from typing import Any

import pytest

from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.domain.models import Bill, Line
from sangdam.orchestrator import Orchestrator
from orchestrator_fixtures import FIXTURES, TODAY

WORLD = copy.deepcopy(FIXTURES)
WORLD["plans"].append(
    {"id": "P-5G-69", "name": "5G 스탠다드", "network": "5G", "monthly_fee": 69000, "data_gb": 30,
     "throttle_kbps": 3000, "refill_price_per_gb": 2000},
)


@pytest.fixture
def orch(db_engine) -> Orchestrator:  # noqa: ANN001
    with session_scope(db_engine) as s:
        load_fixtures(s, WORLD)
    return Orchestrator(db_engine, today=TODAY)


def _written(result, tool: str) -> bool:  # noqa: ANN001
    return any(c.name == tool and c.status == "ok" for c in result.tool_calls)


def _line(orch: Orchestrator, line_id: str = "L1") -> Line:
    with session_scope(orch.engine) as s:
        line = s.get(Line, line_id)
        s.expunge(line)
        return line


def _current_bill_total(orch: Orchestrator) -> int:
    with session_scope(orch.engine) as s:
        return sum(b.amount for b in s.query(Bill).filter(Bill.line_id == "L1"))


def _pending_arg(result, name: str):  # noqa: ANN001, ANN202
    assert result.pending_action is not None, result.reply
    return result.pending_action["calls"][0]["args"][name]


# -- 1. corrections re-propose, never run the original ------------------------------------------------------------

@pytest.mark.parametrize(("correction", "new_gb"), [
    ("아 잠깐만요 2기가 말고 3기가로 해주세요", 3),
    ("그거 말고 1기가만 충전해 주세요", 1),
    ("아 아니 3기가요", 3),
    ("아니요 1기가로 해주세요", 1),
    ("2기가말고 1기가로 부탁해요", 1),
    ("네 3기가로 해주세요", 3),
    ("3GB로 바꿔서 진행해줘", 3),
    ("한 기가만 해줘요", 1),
])
def test_correcting_the_amount_reproposes_and_charges_nothing(orch: Orchestrator, correction: str, new_gb: int) -> None:
    conv = orch.start_conversation(customer_id="C1")
    first = orch.handle(conv, "데이터 2기가 충전해줘")
    assert _pending_arg(first, "gb") == 2
    corrected = orch.handle(conv, correction)
    assert not _written(corrected, "refill_data"), corrected.reply
    assert _line(orch).data_refill_gb == 0
    assert _pending_arg(corrected, "gb") == new_gb
    assert f"{new_gb * 2200:,}원" in corrected.reply  # the new preview, priced again
    done = orch.handle(conv, "네")
    assert _written(done, "refill_data")
    assert _line(orch).data_refill_gb == new_gb


def test_correcting_the_plan_books_neither_plan_before_a_new_yes(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    first = orch.handle(conv, "요금제를 5G 스탠다드로 바꾸고 싶어요")
    assert _pending_arg(first, "plan_id") == "P-5G-69"
    corrected = orch.handle(conv, "아 스탠다드 말고 5G 프리미엄으로 변경해 주세요")
    assert not _written(corrected, "change_plan"), corrected.reply
    assert _line(orch).pending_plan_id is None
    assert _pending_arg(corrected, "plan_id") == "P-5G-UNL"
    done = orch.handle(conv, "네")
    assert _written(done, "change_plan")
    assert _line(orch).pending_plan_id == "P-5G-UNL"


def test_correction_keeps_what_was_not_corrected(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "지금 바로 5G 스탠다드로 요금제 변경해줘")
    corrected = orch.handle(conv, "스탠다드 말고 프리미엄으로요")
    assert _pending_arg(corrected, "plan_id") == "P-5G-UNL"
    assert _pending_arg(corrected, "effective") == "immediate"


def test_restating_the_same_value_is_a_yes(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해줘")
    done = orch.handle(conv, "네 2기가 충전해 주세요")
    assert _written(done, "refill_data")
    assert _line(orch).data_refill_gb == 2


def test_that_one_please_agrees(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해줘")
    done = orch.handle(conv, "그걸로 해주세요")
    assert _written(done, "refill_data")


# -- questions about the action, pauses and other requests -------------------------------------------------------

@pytest.mark.parametrize("question", [
    "충전하면 요금 얼마나 나와요?",
    "네 근데 언제부터 적용돼요?",
    "이거 하면 바로 적용되나요",
    "충전해주면 이번달 요금에 붙는거죠?",
    "아 잠깐만요",
    "음 잠시만요 생각 좀 해볼게요",
])
def test_questions_and_pauses_keep_the_proposal_pending(orch: Orchestrator, question: str) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해줘")
    asked = orch.handle(conv, question)
    assert not _written(asked, "refill_data"), asked.reply
    assert _line(orch).data_refill_gb == 0
    assert asked.pending_action is not None
    assert _pending_arg(asked, "gb") == 2
    done = orch.handle(conv, "네")
    assert _written(done, "refill_data")
    assert _line(orch).data_refill_gb == 2


@pytest.mark.parametrize("other", ["이번 달 요금 얼마 나왔는지 알려주세요", "네 그리고 요금도 알려주세요"])
def test_a_question_about_something_else_is_answered_and_the_write_stays_pending(orch: Orchestrator, other: str) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해줘")
    answered = orch.handle(conv, other)
    assert not _written(answered, "refill_data")
    assert _line(orch).data_refill_gb == 0
    assert "61,200원" in answered.reply
    assert "아직 진행하지 않았습니다" in answered.reply and _pending_arg(answered, "gb") == 2
    done = orch.handle(conv, "네")
    assert _written(done, "refill_data")


def test_another_task_interrupts_the_pending_write_which_waits(orch: Orchestrator) -> None:
    """Issue 13: a new request in the middle of a pending confirmation neither confirms nor loses it (it used
    to cancel it); the dialogue stack keeps it below the new task (tests/test_dialogue_stack.py)."""
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해줘")
    other = orch.handle(conv, "일본 로밍 켜주세요")
    assert not _written(other, "refill_data") and _line(orch).data_refill_gb == 0
    assert not [c for c in other.tool_calls if c.status == "declined"]
    # the new task asks which Japan pass (an ordinary slot question, its options listed) over the waiting top-up
    assert other.pending_action is None and [o["id"] for o in other.options] == ["R-JP3", "R-ASIA5"]
    stack = orch.traces(conv)[-1]["stack"]
    assert [f["intent"] for f in stack] == ["data.refill", "roaming.enable"]
    assert stack[0]["waits"] == ["pending"] and stack[1]["picks"] == "roaming.enable"


@pytest.mark.parametrize("decline", ["취소", "아니 됐어", "no thanks", "취소할게요", "됐어요 그냥 취소"])
def test_a_plain_decline_is_only_a_decline(orch: Orchestrator, decline: str) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해줘")
    declined = orch.handle(conv, decline)
    assert not _written(declined, "refill_data")
    assert declined.pending_action is None
    assert declined.via == "dialogue" and declined.intents == []  # not routed as a new request ("취소" ≠ roaming off)
    assert not [c for c in declined.tool_calls if c.status == "proposed"]


@pytest.mark.parametrize("yes", ["yes please", "ㅇㅋ", "ㄱㄱ", "응 그렇게 해", "네 알겠어요 진행해 주세요", "sure"])
def test_informal_yes_confirms(orch: Orchestrator, yes: str) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해줘")
    done = orch.handle(conv, yes)
    assert _written(done, "refill_data"), done.reply


def test_naming_the_proposed_value_after_a_marker_asks_again(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해줘")
    again = orch.handle(conv, "충전해주세요 3기가 말고 2기가")
    assert not _written(again, "refill_data")
    assert _pending_arg(again, "gb") == 2 and "진행할까요" in again.reply


def test_declining_with_a_changed_mind_runs_nothing(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해줘")
    result = orch.handle(conv, "아니 그거 말고요")
    assert not _written(result, "refill_data")
    assert result.pending_action is None
    assert _line(orch).data_refill_gb == 0


# -- 2. choosing an option leads to a preview ---------------------------------------------------------------------

@pytest.mark.parametrize("pick", ["아시아 5일로 해주세요", "아시아 5일", "첫 번째 걸로 신청해줘", "제일 싼 걸로 해줘"])
def test_choosing_an_option_previews_before_booking(orch: Orchestrator, pick: str) -> None:
    conv = orch.start_conversation(customer_id="C1")
    listed = orch.handle(conv, "다음 주에 일본 가는데 로밍 켜주세요")
    # the passes are listed and one is asked for (a slot of the procedure, not a proposal): nothing to agree to yet
    assert listed.pending_action is None and [o["name"] for o in listed.options] == ["일본 3일", "아시아 5일"]
    before = _current_bill_total(orch)
    chosen = orch.handle(conv, pick)
    assert not _written(chosen, "enable_roaming"), chosen.reply
    assert _line(orch).roaming_enabled is False
    assert _current_bill_total(orch) == before
    assert chosen.pending_action is not None and chosen.options == []
    assert [c["tool"] for c in chosen.pending_action["calls"]] == ["enable_roaming"]
    assert "진행할까요" in chosen.reply
    done = orch.handle(conv, "네")
    assert _written(done, "enable_roaming")
    assert _line(orch).roaming_enabled is True


def test_yes_together_with_the_option_books_it(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "다음 주에 일본 가는데 로밍 켜주세요")
    done = orch.handle(conv, "네, 아시아 5일짜리로 해주세요")
    assert _written(done, "enable_roaming")
    assert _line(orch).roaming_pass_id == "R-ASIA5"


def test_switching_option_after_its_preview_reproposes(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "다음 주에 일본 가는데 로밍 켜주세요")
    orch.handle(conv, "아시아 5일로 할게요")
    switched = orch.handle(conv, "아시아 말고 일본 3일로 해주세요")
    assert not _written(switched, "enable_roaming"), switched.reply
    assert _line(orch).roaming_enabled is False
    assert _pending_arg(switched, "pass_id") == "R-JP3"


# -- 9. yes / no with nothing pending -----------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["네", "넵", "아니요", "아뇨 괜찮아요"])
def test_yes_or_no_with_nothing_pending_asks_what_they_need(orch: Orchestrator, answer: str) -> None:
    conv = orch.start_conversation(customer_id="C1")
    result = orch.handle(conv, answer)
    assert "말씀 감사합니다" not in result.reply
    assert "진행" in result.reply  # says there is nothing waiting for an answer
    assert result.tool_calls == []


def test_identity_given_unasked_and_alone_is_acknowledged_with_a_question(orch: Orchestrator) -> None:
    conv = orch.start_conversation()
    result = orch.handle(conv, "010-2222-3333 1990.04.12")
    assert result.verified_customer_id == "C1"
    assert "무엇을 도와드릴까요" in result.reply
    assert "상담 범위를 벗어나" not in result.reply


def test_a_stated_preference_alone_is_acknowledged_and_starts_no_task(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    result = orch.handle(conv, "앞으로는 이메일로 안내해 주세요")
    assert "이메일로 드리겠습니다" in result.reply
    assert result.pending_action is None and result.intents == []
    assert "요금제" not in result.reply  # was: "어떤 요금제로 변경하실지 알려 주세요"


def test_a_symptom_reported_while_a_ticket_is_proposed_is_no_decline(db_engine) -> None:  # noqa: ANN001
    world = copy.deepcopy(WORLD)
    world["customers"][0]["lines"][0]["mms_enabled"] = False
    with session_scope(db_engine) as s:
        load_fixtures(s, world)
    orch = Orchestrator(db_engine, today=TODAY)
    conv = orch.start_conversation(customer_id="C1")
    proposed = orch.handle(conv, "사진 문자가 안 보내져요")
    assert proposed.pending_action is not None and proposed.pending_action["intent"] == "tech.troubleshoot"
    still = orch.handle(conv, "해봤는데 안돼요")
    assert still.pending_action is not None and "진행할까요" in still.reply
    assert not [c for c in still.tool_calls if c.status == "declined"]
    done = orch.handle(conv, "네 접수해주세요")
    assert _written(done, "create_ticket")


@pytest.mark.parametrize("text", ["네 접수해주세요", "접수해 주세요"])
def test_a_cancellation_is_never_proposed_unless_the_customer_names_it(orch: Orchestrator, text: str) -> None:
    conv = orch.start_conversation(customer_id="C1")
    result = orch.handle(conv, text)
    assert not any(c.name == "request_cancellation" for c in result.tool_calls), result.reply
    assert result.pending_action is None or result.pending_action["intent"] != "contract.cancel"


def test_asking_about_timing_changes_nothing_and_urging_is_an_answer(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "요금제를 5G 스탠다드로 바꾸고 싶어요")
    asked = orch.handle(conv, "바로적용되나요?")
    assert _pending_arg(asked, "effective") == "next_cycle"  # the question is answered by showing it again
    urged = orch.handle(conv, "지금 바로 해주세요")
    assert not _written(urged, "change_plan")
    assert _pending_arg(urged, "effective") == "immediate"  # a new value: previewed, asked again
    again = orch.handle(conv, "지금 바로 해주세요")  # the same words now agree ("pay_bill" had been proposed)
    assert _written(again, "change_plan")
    assert not any(c.name == "pay_bill" for c in again.tool_calls)
    assert _line(orch).plan_id == "P-5G-69"


def test_asking_for_the_roaming_status_never_proposes_turning_it_off(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "일본 로밍 아시아 5일로 켜주세요")
    orch.handle(conv, "네")
    assert _line(orch).roaming_enabled is True
    status = orch.handle(conv, "로밍 상태 보여줘")
    assert status.pending_action is None, status.reply
    assert "켜져 있습니다. 이용 중인 로밍 요금제는 아시아 5일" in status.reply


# An upset customer is offered a person by the escalation (a pending transfer); asking for a person outright is
# honoured at once without an offer (test_an_explicit_request_for_an_agent_is_honoured_at_once).
UPSET = "아니 몇 번을 말해야 돼요? 지금 장난하세요? 진짜 짜증나네"


def _offered(orch: Orchestrator, conv: str) -> Any:
    offered = orch.handle(conv, UPSET)
    assert offered.pending_action is not None and offered.pending_action["calls"][0]["tool"] == "transfer_to_human"
    return offered


def test_an_explicit_request_for_an_agent_is_honoured_at_once(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    done = orch.handle(conv, "상담사 연결해 주세요")
    assert [c.name for c in done.tool_calls if c.status == "ok"] == ["transfer_to_human"]
    assert done.pending_action is None and done.handed_off


def test_an_agent_asked_for_while_a_write_is_pending_drops_the_write(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    assert orch.handle(conv, "데이터 2기가 충전해 주세요").pending_action is not None
    done = orch.handle(conv, "아 됐고 그냥 상담사 연결해 주세요")
    assert {c.name: c.status for c in done.tool_calls if c.name in ("refill_data", "transfer_to_human")} == {
        "refill_data": "declined", "transfer_to_human": "ok"}
    assert done.handed_off and _line(orch).data_refill_gb == 0


@pytest.mark.parametrize("ask", ["됐고 상담사 바꿔", "상담사 연결해 주세요", "사람이랑 얘기할래요"])
def test_asking_for_an_agent_while_a_transfer_is_offered_is_the_yes(orch: Orchestrator, ask: str) -> None:
    conv = orch.start_conversation(customer_id="C1")
    _offered(orch, conv)
    done = orch.handle(conv, ask)
    assert [c.name for c in done.tool_calls if c.status == "ok"] == ["transfer_to_human"]
    assert done.pending_action is None and done.handed_off


def test_declining_the_offered_transfer_still_declines(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    _offered(orch, conv)
    declined = orch.handle(conv, "아니요 상담사 연결하지 마세요")
    assert not [c for c in declined.tool_calls if c.status == "ok"] and declined.pending_action is None


def test_another_question_while_a_handoff_is_offered_is_answered(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C2")
    _offered(orch, conv)
    answered = orch.handle(conv, "미납금 얼마에요")
    assert "89,000원" in answered.reply and answered.pending_action is None
    assert not [c for c in answered.tool_calls if c.name == "transfer_to_human" and c.status == "ok"]


@pytest.mark.parametrize("text", ["충전은 됐고 일본 3일 로밍이나 켜줘", "아니요 충전 필요 없고 일본 3일 로밍 켜 주세요"])
def test_letting_the_proposal_go_for_another_task_never_runs_it(orch: Orchestrator, text: str) -> None:
    """A stranger's finding: "충전은 됐고 …" re-showed the top-up, and the next "네" charged it."""
    conv = orch.start_conversation(customer_id="C1")
    assert orch.handle(conv, "데이터 2기가 충전해 주세요").pending_action is not None
    switched = orch.handle(conv, text)
    assert {c.name: c.status for c in switched.tool_calls if c.name in ("refill_data", "enable_roaming")} == {
        "refill_data": "declined", "enable_roaming": "proposed"}
    assert switched.pending_action is not None and switched.pending_action["intent"] == "roaming.enable"
    done = orch.handle(conv, "네")
    assert _written(done, "enable_roaming") and not _written(done, "refill_data")
    assert _line(orch).data_refill_gb == 0 and _line(orch).roaming_pass_id == "R-JP3"
