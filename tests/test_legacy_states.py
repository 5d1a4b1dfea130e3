"""Conversations stored while a built-in intent was still a Python agent: a proposal waiting for the customer's yes
has no procedure position. After the upgrade (every task a procedure, no Python agent left) the yes still runs the
agreed write exactly once and the reply says it was done."""

from __future__ import annotations

import pytest
from orchestrator_fixtures import orchestrator
from sqlalchemy import Engine

from sangdam.domain.db import session_scope
from sangdam.domain.models import Line
from sangdam.orchestrator.state import ConversationState
from sangdam.procedures.runner import DONE_DEFAULT, POSITION_KEY


def _strip_position(orch, conv: str) -> None:  # noqa: ANN001
    """The stored state as an older version wrote it: the pending step without the procedure position."""
    conv_row, state = orch.store.load(conv)
    assert state.pending is not None and POSITION_KEY in state.pending.step.slots
    pending = state.pending.model_copy(update={"step": state.pending.step.model_copy(update={"slots": {}})})
    state.pending = pending
    orch.store.save_turn(conv, ConversationState.model_validate(state.model_dump(mode="json")), [], None, orch._now())


@pytest.mark.parametrize(("request_text", "check"), [
    ("데이터 2기가 충전해 주세요", lambda line: float(line.data_refill_gb or 0) == 2),
    ("회선 일시정지 해주세요", lambda line: line.status == "suspended"),
])
def test_a_legacy_proposal_still_runs_once_on_yes(db_engine: Engine, request_text: str, check) -> None:  # noqa: ANN001
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    proposed = orch.handle(conv, request_text)
    assert proposed.pending_action is not None, proposed.reply
    _strip_position(orch, conv)
    done = orch.handle(conv, "네")
    assert DONE_DEFAULT in done.reply and done.pending_action is None
    with session_scope(db_engine) as s:
        assert check(s.get(Line, "L1"))
    again = orch.handle(conv, "네")
    assert [c.name for c in again.tool_calls if c.status == "ok" and c.name in ("refill_data", "suspend_line")] == []
