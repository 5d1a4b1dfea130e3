"""Ellipsis (issue 13, item 6): short messages that lean on the previous turn's task — "4444는요?", "4444도
똑같이 해 주세요", "두 번째 걸로", "그걸로 해 주세요" — and never on anything older."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.orchestrator import Orchestrator
from orchestrator_fixtures import FIXTURES, TODAY

WORLD = copy.deepcopy(FIXTURES)
WORLD["customers"][0]["lines"].append({"id": "L1B", "number": "010-2222-4444", "plan_id": "P-5G-59",
                                       "status": "active", "data_used_gb": 11.5})


@pytest.fixture
def orch(db_engine) -> Orchestrator:  # noqa: ANN001
    with session_scope(db_engine) as s:
        load_fixtures(s, WORLD)
    return Orchestrator(db_engine, today=TODAY)


def _calls(result: Any, status: str) -> list[tuple[str, dict]]:
    return [(c.name, c.args) for c in result.tool_calls if c.status == status]


def test_the_same_question_about_another_line(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    assert "7.5GB" in orch.handle(conv, "끝자리 3333 데이터 얼마 남았어요?").reply
    other = orch.handle(conv, "4444는요?")
    assert ("get_data_usage", {"line_id": "L1B"}) in _calls(other, "ok")
    assert "0.5GB" in other.reply


def test_the_same_action_again_for_another_line_is_proposed_with_the_same_amount(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "끝자리 3333에 데이터 1기가 충전해 주세요")
    assert _calls(orch.handle(conv, "네"), "ok")[-1][0] == "refill_data"
    again = orch.handle(conv, "4444도 똑같이 해 주세요")
    proposed = [args for name, args in _calls(again, "proposed") if name == "refill_data"]
    assert proposed and proposed[-1]["line_id"] == "L1B" and proposed[-1]["gb"] == 1
    assert again.pending_action is not None and not [n for n, _ in _calls(again, "ok") if n == "refill_data"]


def test_pointing_at_a_listed_pass_takes_it_up(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    listed = orch.handle(conv, "일본 로밍 패스 뭐 있어요?")
    assert "일본 3일" in listed.reply and listed.pending_action is None
    picked = orch.handle(conv, "두 번째 걸로 3333에 신청해 주세요")
    assert picked.pending_action is not None and picked.pending_action["intent"] == "roaming.enable"
    assert [a["pass_id"] for n, a in _calls(picked, "proposed") if n == "enable_roaming"] == ["R-ASIA5"]


def test_a_message_with_its_own_task_is_not_read_as_ellipsis(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "끝자리 3333 데이터 얼마 남았어요?")
    bill = orch.handle(conv, "10월 요금은요?")
    assert bill.intents == ["billing.inquiry"] and "61,200원" in bill.reply


def test_only_the_previous_turn_counts(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "끝자리 3333 데이터 얼마 남았어요?")
    orch.handle(conv, "안녕하세요")
    late = orch.handle(conv, "4444는요?")
    assert not _calls(late, "ok")


def test_a_corrected_target_of_a_question_is_asked_again(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "끝자리 4444 데이터 얼마 남았어요?")
    fixed = orch.handle(conv, "아 죄송 4444 말고 3333이요")
    assert ("get_data_usage", {"line_id": "L1"}) in _calls(fixed, "ok") and "7.5GB" in fixed.reply


def test_once_more_the_same_is_proposed_again(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "끝자리 3333에 데이터 1기가 충전해 주세요")
    orch.handle(conv, "네")
    again = orch.handle(conv, "한번 더 똑같이 해줘")
    assert [a["gb"] for n, a in _calls(again, "proposed") if n == "refill_data"] == [1]
    assert again.pending_action is not None
