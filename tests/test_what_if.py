"""Questions about an action's consequences are not requests to do it (issue 13, item 6): the action is previewed
(its amount or date, from the tools) and nothing is proposed; "그럼 해 주세요" then proposes it, and it still needs
its own yes. Questions about rules go to the documents."""

from __future__ import annotations

import pytest

from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.orchestrator import Orchestrator
from sangdam.orchestrator.dialogue import asks_what_if
from orchestrator_fixtures import FIXTURES, TODAY


@pytest.fixture
def orch(db_engine) -> Orchestrator:  # noqa: ANN001
    with session_scope(db_engine) as s:
        load_fixtures(s, FIXTURES)
    return Orchestrator(db_engine, today=TODAY)


@pytest.mark.parametrize("text, expected", [
    ("프리미엄으로 바꾸면 언제부터 적용되나요?", True),
    ("2기가 충전하면 얼마 나와요?", True),
    ("로밍 켜 두면 요금이 나가요?", True),
    ("프리미엄으로 바꾸면 좋겠어요. 바꿔 주세요", False),
    ("데이터 2기가 충전해 주세요", False),
    ("이번 달 요금 얼마예요?", False),
])
def test_what_if_questions_are_told_from_requests(text: str, expected: bool) -> None:
    assert asks_what_if(text) is expected


def test_a_what_if_about_an_amount_is_previewed_and_never_proposed(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "데이터 2기가 충전하면 얼마 나와요?")
    assert "4,400원" in asked.reply and asked.pending_action is None
    assert not [c for c in asked.tool_calls if c.status == "ok" and c.name == "refill_data"]
    assert asked.verifier is not None and asked.verifier.passed
    taken = orch.handle(conv, "그럼 해 주세요")  # proposed now, with its own question
    assert taken.pending_action is not None and taken.pending_action["intent"] == "data.refill"
    assert not [c for c in taken.tool_calls if c.status == "ok" and c.name == "refill_data"]
    done = orch.handle(conv, "네")
    assert [c.name for c in done.tool_calls if c.status == "ok" and c.name == "refill_data"] == ["refill_data"]


def test_a_what_if_about_a_date_states_the_date(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "요금제를 5G 프리미엄으로 바꾸면 언제부터 적용되나요?")
    assert "12월 1일" in asked.reply and asked.pending_action is None


def test_a_no_after_a_what_if_proposes_nothing(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전하면 얼마 나와요?")
    no = orch.handle(conv, "아니요 괜찮아요")
    assert no.pending_action is None and not [c for c in no.tool_calls if c.name == "refill_data"]


def test_the_offer_lasts_one_turn(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전하면 얼마 나와요?")
    orch.handle(conv, "10월 요금은 얼마였죠?")
    later = orch.handle(conv, "네")
    assert later.pending_action is None  # a yes two turns later is not an answer to the preview
