"""A write that committed in a turn which died before it was saved is reported as done (issue 11, item 3).

The crash is injected between the tool's commit and the turn's save: the conversation state still holds the
proposal, the bill already holds the charge. Whatever the customer answers next, they are told the truth.
"""

from __future__ import annotations

import pytest

from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.domain.models import AuditLog, Line
from sangdam.orchestrator import Orchestrator
from orchestrator_fixtures import FIXTURES, TODAY


class Crash(RuntimeError):
    """The process died here."""


def _crash_on_next_save(orch: Orchestrator, monkeypatch: pytest.MonkeyPatch) -> None:
    def die(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise Crash("killed between the write's commit and the turn's save")
    monkeypatch.setattr(orch.store, "save_turn", die)


def _refill_gb(engine) -> float:  # noqa: ANN001
    with session_scope(engine) as s:
        return s.get(Line, "L1").data_refill_gb


def _executions(engine) -> int:  # noqa: ANN001
    with session_scope(engine) as s:
        return s.query(AuditLog).filter(AuditLog.tool == "refill_data", AuditLog.result["ok"].as_boolean()).count()


def _refill_then_crash_on_yes(engine, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: ANN001
    """A 2 GB refill proposed, then "네": the refill commits and the process dies before the turn is saved."""
    with session_scope(engine) as s:
        load_fixtures(s, FIXTURES)
    orch = Orchestrator(engine, today=TODAY)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해줘")
    _crash_on_next_save(orch, monkeypatch)
    with pytest.raises(Crash):
        orch.handle(conv, "네")
    assert _refill_gb(engine) == 2  # the write had committed
    return conv


@pytest.mark.parametrize("next_answer", ["아니요", "네", "취소할게요"])
def test_a_charge_committed_before_a_crash_is_reported_as_done(db_engine, monkeypatch, next_answer: str) -> None:  # noqa: ANN001
    conv = _refill_then_crash_on_yes(db_engine, monkeypatch)
    restarted = Orchestrator(db_engine, today=TODAY)  # a new process: nothing in memory
    after = restarted.handle(conv, next_answer)
    assert "아무것도 바뀌지 않았습니다" not in after.reply
    assert "이미 처리되었습니다" in after.reply and "충전했습니다" in after.reply
    assert after.pending_action is None
    assert _refill_gb(db_engine) == 2  # charged exactly once
    assert _executions(db_engine) == 2  # the run and its replay, one charge


def test_a_new_request_after_the_crash_is_still_answered(db_engine, monkeypatch) -> None:  # noqa: ANN001
    conv = _refill_then_crash_on_yes(db_engine, monkeypatch)
    after = Orchestrator(db_engine, today=TODAY).handle(conv, "이번 달 요금 얼마예요?")
    assert "이미 처리되었습니다" in after.reply
    assert "61,200원" in after.reply
