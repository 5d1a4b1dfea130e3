"""One dialogue stack (issue 13, item 3): a new task interrupts an open proposal, which is neither confirmed nor
lost and is asked again when the new task is done; answers go to the frame that asked; the stack is persisted
per turn, so a restart resumes mid-task."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.domain.models import Line
from sangdam.orchestrator import Orchestrator
from sangdam.orchestrator.state import MAX_FRAMES, ConversationState
from orchestrator_fixtures import FIXTURES, TODAY


@pytest.fixture
def orch(db_engine) -> Orchestrator:  # noqa: ANN001
    with session_scope(db_engine) as s:
        load_fixtures(s, FIXTURES)
    return Orchestrator(db_engine, today=TODAY)


def _line(orch: Orchestrator) -> Line:
    with session_scope(orch.engine) as s:
        line = s.scalar(select(Line).where(Line.id == "L1"))
        s.expunge_all()
        return line


def _ran(result: Any) -> list[str]:
    return [c.name for c in result.tool_calls if c.status == "ok" and c.name in ("refill_data", "enable_roaming")]


def test_a_write_request_over_a_pending_one_interrupts_and_the_first_resumes(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    first = orch.handle(conv, "데이터 2기가 충전해 주세요")
    assert first.pending_action["intent"] == "data.refill"
    second = orch.handle(conv, "아 그리고 일본 3일 로밍도 켜 주세요")
    assert second.pending_action["intent"] == "roaming.enable"  # the new task's proposal is the one asked
    assert not _ran(second) and "declined" not in {c.status for c in second.tool_calls}  # nothing lost
    assert [f["intent"] for f in orch.traces(conv)[-1]["stack"]] == ["data.refill", "roaming.enable"]
    yes = orch.handle(conv, "네")
    assert _ran(yes) == ["enable_roaming"]  # the yes goes to the frame that asked, only
    assert yes.pending_action["intent"] == "data.refill" and "4,400원" in yes.reply  # asked again, previewed anew
    assert yes.reply.rstrip().endswith(")")  # the question to answer comes last
    again = orch.handle(conv, "네")
    assert _ran(again) == ["refill_data"] and again.pending_action is None
    line = _line(orch)
    assert line.data_refill_gb == 2 and line.roaming_pass_id == "R-JP3"


def test_declining_the_new_task_brings_back_the_interrupted_one(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해 주세요")
    orch.handle(conv, "일본 3일 로밍도 켜 주세요")
    no = orch.handle(conv, "아니요")
    assert not _ran(no) and no.pending_action["intent"] == "data.refill"
    nothing = orch.handle(conv, "아니요")
    assert not _ran(nothing) and nothing.pending_action is None
    line = _line(orch)
    assert line.data_refill_gb == 0 and not line.roaming_enabled


def test_a_read_question_is_answered_and_the_proposal_stays(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해 주세요")
    read = orch.handle(conv, "근데 10월 요금 얼마였죠?")
    assert "61,200원" in read.reply and read.pending_action["intent"] == "data.refill" and not _ran(read)
    assert _ran(orch.handle(conv, "네")) == ["refill_data"]


def test_a_restart_resumes_mid_task(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해 주세요")
    orch.handle(conv, "일본 3일 로밍도 켜 주세요")
    restarted = Orchestrator(orch.engine, today=TODAY)  # a new process on the same store
    yes = restarted.handle(conv, "네")
    assert _ran(yes) == ["enable_roaming"] and yes.pending_action["intent"] == "data.refill"
    assert _ran(Orchestrator(orch.engine, today=TODAY).handle(conv, "네")) == ["refill_data"]


def test_the_stack_holds_a_bounded_number_of_open_tasks(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    for text in ["데이터 1기가 충전해 주세요", "일본 3일 로밍 켜 주세요", "데이터 2기가 충전해 주세요",
                 "5G 프리미엄으로 요금제 바꿔 주세요"]:
        last = orch.handle(conv, text)
    stack = orch.traces(conv)[-1]["stack"]
    assert len(stack) == MAX_FRAMES
    assert "앞서 안내드린 변경은 진행하지 않았습니다" in last.reply  # the oldest was let go, and said so
    assert any(c.status == "declined" and c.name == "refill_data" and c.args.get("gb") == 1 for c in last.tool_calls)


def test_states_stored_before_the_stack_load_as_one_frame() -> None:
    legacy = {"turn_index": 3, "pending": None, "awaiting": {"kind": "slot", "slot": "line_id"}, "queue": [],
              "troubleshoot": None, "verified_customer_id": "C1"}
    state = ConversationState.model_validate(legacy)
    assert len(state.stack) == 1 and state.awaiting.slot == "line_id" and state.pending is None
    stored = state.model_dump(mode="json")
    assert stored["stack"][0]["awaiting"]["slot"] == "line_id"
    assert stored["awaiting"]["slot"] == "line_id"  # readers of the stored JSON still see the top frame's fields
    again = ConversationState.model_validate(stored)  # and the stack, not those copies, is what loads
    assert len(again.stack) == 1 and again.awaiting.slot == "line_id"
    assert ConversationState.model_validate({"turn_index": 1, "pending": None}).stack == []


@pytest.mark.parametrize("text", ["다 취소해 주세요", "둘 다 안 할게요"])
def test_a_no_to_everything_declines_every_open_proposal(orch: Orchestrator, text: str) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해 주세요")
    orch.handle(conv, "일본 3일 로밍도 켜 주세요")
    no = orch.handle(conv, text)
    assert no.pending_action is None and not _ran(no)
    assert sorted(c.name for c in no.tool_calls if c.status == "declined") == ["enable_roaming", "refill_data"]
    assert orch.traces(conv)[-1]["stack"] == []
    assert not _ran(orch.handle(conv, "네"))


def test_a_bare_cancel_is_a_no_not_a_roaming_request(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해 주세요")
    no = orch.handle(conv, "취소해 주세요")
    assert no.intents == [] and no.pending_action is None
    assert not [c for c in no.tool_calls if c.name in ("get_line", "disable_roaming")]
