"""A conversation through the rest adapter when the operator's BSS fails: killed between the preview and the
commit, or losing the answer of a commit it carried out. The customer gets a clear Korean reply, the turn and the
proposal are kept, and the retry never writes twice (a live reference BSS process; Sangdam's store is separate)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from orchestrator_fixtures import FIXTURES, TODAY
from sangdam.domain.db import make_engine, migrate, session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.domain.models import AuditLog, Bill, Line
from sangdam.evaluation.rest_harness import RestHarness
from sangdam.orchestrator import Orchestrator
from sangdam.tools.messages import error_ko


@pytest.fixture
def world(tmp_path: Path):  # noqa: ANN201
    operator_path = tmp_path / "operator.db"
    operator = make_engine(f"sqlite:///{operator_path}")
    migrate(operator)
    with session_scope(operator) as s:
        load_fixtures(s, FIXTURES)
    store = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(store)
    harness = RestHarness.start(tmp_path / "bss")
    backend = harness.attach(operator, operator_path, TODAY)
    yield harness, Orchestrator(store, today=TODAY, backend=backend), operator, store
    harness.close()
    operator.dispose()
    store.dispose()


def _refilled(operator: Engine) -> tuple[float, int]:
    """The line's refilled GB and how many refill charges its bills carry."""
    with session_scope(operator) as s:
        items = [i for b in s.scalars(select(Bill).where(Bill.line_id == "L1")) for i in (b.items or [])]
        return float(s.get(Line, "L1").data_refill_gb or 0), sum(1 for i in items if "충전" in i["name"])


def _refill_audit(store: Engine) -> list[bool]:
    with session_scope(store) as s:
        return [r.result.get("ok") for r in s.scalars(select(AuditLog).where(AuditLog.tool == "refill_data"))]


def test_bss_killed_between_preview_and_commit(world) -> None:  # noqa: ANN001
    harness, orch, operator, store = world
    conv = orch.start_conversation(customer_id="C1")
    proposal = orch.handle(conv, "데이타 2기가만 충전해주세여")
    assert "4,400원" in proposal.reply and proposal.pending_action is not None
    harness.kill()
    down = orch.handle(conv, "네")
    assert error_ko("backend_unavailable", {}) in down.reply  # nothing left Sangdam: said plainly
    assert down.pending_action is not None and _refilled(operator) == (0.0, 0)
    assert [m["role"] for m in orch.transcript(conv)][-2:] == ["customer", "bot"]  # the turn is stored
    harness.restart()
    done = orch.handle(conv, "네")
    assert "충전했습니다" in done.reply and done.pending_action is None
    assert _refilled(operator) == (2.0, 1)
    assert _refill_audit(store) == [True]  # the broken turn failed before any write was attempted


@pytest.mark.parametrize("mode", ["disconnect", "bad_gateway"])
def test_a_commit_whose_answer_is_lost_is_retried_without_a_second_charge(world, mode: str) -> None:  # noqa: ANN001
    harness, orch, operator, store = world
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2GB 충전 부탁드려요")
    harness.admin("POST", "/faults", {"kind": "lose_response", "mode": mode, "method": "POST",
                                      "path": "data-top-ups$", "count": 5})
    lost = orch.handle(conv, "네")
    assert error_ko("backend_outcome_unknown", {}) in lost.reply
    assert lost.pending_action is not None
    assert _refilled(operator) == (2.0, 1)  # it did happen at the BSS (the adapter's own retry replayed it)
    harness.admin("DELETE", "/faults")
    done = orch.handle(conv, "네")
    assert "충전했습니다" in done.reply and done.pending_action is None
    assert _refilled(operator) == (2.0, 1)  # still one charge
    assert _refill_audit(store) == [False, True]
    with session_scope(store) as s:  # Sangdam's store holds no operator record
        assert s.scalar(select(func.count()).select_from(Line)) == 0


@pytest.mark.parametrize("shape", ["json", "text"])
def test_answers_of_the_wrong_shape_are_a_fault_never_an_empty_account(world, shape: str) -> None:  # noqa: ANN001
    harness, orch, operator, store = world
    conv = orch.start_conversation(customer_id="C1")
    harness.admin("POST", "/faults", {"kind": "malformed", "shape": shape, "count": 6})
    reply = orch.handle(conv, "제 회선 요금제 뭐예요?")  # the catalogue, the lines: every answer is malformed
    assert error_ko("backend_unavailable", {}) in reply.reply
    assert "가입 회선" not in reply.reply  # never "your lines: (none)"
    harness.admin("DELETE", "/faults")
    assert "5G 슬림" in orch.handle(conv, "제 회선 요금제 뭐예요?").reply  # and the next turn works
