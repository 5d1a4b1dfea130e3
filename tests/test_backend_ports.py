"""Backend ports and the sql adapter: the operator's records are reached only through a backend; Sangdam's own
store keeps conversations, audit and its idempotency record; a write happens once per key on the backend side,
even when Sangdam never hears the answer."""

from __future__ import annotations

import ast
import datetime as dt
import typing
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from orchestrator_fixtures import FIXTURES, TODAY
from sangdam.backends import BackendConfigError, BackendUnavailable, build_backend, load_backend_config
from sangdam.backends.ports import EFFECTS, PORTS, Ports
from sangdam.backends.sql import SqlBackend
from sangdam.config import reset_settings
from sangdam.domain.db import make_engine, migrate, session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.domain.models import AuditLog, BackendRequest, Customer, CustomerPreference, Line, ToolExecution
from sangdam.orchestrator import Orchestrator
from sangdam.tools.base import NoArgs, ToolContext, ToolError
from sangdam.tools.inputs import LineArgs, RefillDataArgs
from sangdam.tools.registry import CANONICAL_NAMES, get_tool
from sangdam.tools.messages import error_ko

SRC = Path(__file__).resolve().parents[1] / "src" / "sangdam"


def _fresh(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    return engine


@pytest.fixture
def two_stores(tmp_path: Path) -> tuple[Engine, Engine]:
    """Sangdam's store (empty of operator records) and the operator's database (the fixtures)."""
    store, operator = _fresh(tmp_path / "store.db"), _fresh(tmp_path / "operator.db")
    with session_scope(operator) as s:
        load_fixtures(s, FIXTURES)
    yield store, operator
    store.dispose()
    operator.dispose()


def _refilled(engine: Engine) -> float:
    with session_scope(engine) as s:
        return float(s.get(Line, "L1").data_refill_gb or 0)


def _ctx(store: Engine, backend: object, key: str | None = None) -> ToolContext:
    return ToolContext(engine=store, today=TODAY, customer_id="C1", idempotency_key=key, backend=backend)


# --- the typed ports --------------------------------------------------------------------------------------------
def test_every_canonical_tool_is_one_typed_operation_of_one_port() -> None:
    operations: dict[str, tuple[str, dict]] = {}
    for port_name, port in PORTS.items():
        for name in dir(port):
            if not name.startswith("_"):
                assert name not in operations, f"{name} is in two ports"
                operations[name] = (port_name, typing.get_type_hints(getattr(port, name)))
    for tool_name in CANONICAL_NAMES:
        tool = get_tool(tool_name)
        if tool_name == "verify_identity":  # runs in Sangdam; the match is find_customer
            assert "find_customer" in operations
            continue
        if not tool.is_write:
            _, hints = operations[tool_name]
            assert hints["args"] is tool.input_model and hints["return"] is tool.output_model, tool_name
            continue
        _, preview = operations[f"preview_{tool_name}"]
        _, commit = operations[f"commit_{tool_name}"]
        assert preview["args"] is tool.input_model and preview["return"] is EFFECTS[tool_name]
        assert commit["args"] is tool.input_model and commit["return"] is tool.output_model
        assert "idempotency_key" in commit


def test_the_typed_views_answer_with_the_declared_models(two_stores) -> None:  # noqa: ANN001
    store, operator = two_stores
    ports = Ports(SqlBackend(operator))
    ctx = _ctx(store, ports.backend)
    assert [line.id for line in ports.lines.list_lines(ctx, NoArgs()).lines] == ["L1"]
    effect = ports.usage.preview_refill_data(ctx, RefillDataArgs(line_id="L1", gb=2))
    assert effect.charge_krw == 2 * 2200 and effect.line_id == "L1"
    assert ports.customers.customer_names({"C1", "C-nobody"}) == {"C1": "김하늘"}
    with pytest.raises(ToolError) as err:  # another customer's line is "not found", typed view or not
        ports.lines.get_line(ctx, LineArgs(line_id="L2"))
    assert err.value.code == "not_found"
    with pytest.raises(AttributeError):
        ports.billing.get_line  # noqa: B018 - a line is not a billing operation


@pytest.mark.parametrize("tool, args", [
    ("refill_data", {"line_id": "L1", "gb": 2}),
    ("change_plan", {"line_id": "L1", "plan_id": "P-5G-UNL", "effective": "immediate"}),
    ("enable_roaming", {"line_id": "L1", "pass_id": "R-JP3"}),
    ("suspend_line", {"line_id": "L1", "reason": "temporary"}),
    ("pay_bill", {"bill_id": "B1"}),
    ("create_ticket", {"category": "tech_support", "summary": "집에서 통화가 끊겨요", "line_id": "L1"}),
    ("transfer_to_human", {"summary": "상담사 연결 요청"}),
    ("request_cancellation", {"line_id": "L1"}),
])
def test_sql_previews_fit_their_effect_models_unchanged(two_stores, tool: str, args: dict) -> None:  # noqa: ANN001
    store, operator = two_stores
    backend = SqlBackend(operator)
    spec = get_tool(tool)
    raw = backend.preview(tool, _ctx(store, backend), spec.parse_args(args))
    assert EFFECTS[tool].model_validate(raw).model_dump() == raw  # nothing dropped, nothing retyped
    assert spec.preview(_ctx(store, backend), args).effect == raw


# --- idempotency on the backend side ----------------------------------------------------------------------------
def test_a_key_seen_by_the_backend_writes_once_even_without_sangdams_record(two_stores) -> None:  # noqa: ANN001
    store, operator = two_stores
    backend = SqlBackend(operator)
    refill = get_tool("refill_data")
    first = refill.run(_ctx(store, backend, "k-1"), {"line_id": "L1", "gb": 2})
    with session_scope(store) as s:  # Sangdam's own record lost (crash between the backend's commit and it)
        s.query(ToolExecution).delete()
    again = refill.run(_ctx(store, backend, "k-1"), {"line_id": "L1", "gb": 2})
    assert again == first and _refilled(operator) == 2
    with session_scope(operator) as s:
        assert s.scalar(select(func.count()).select_from(BackendRequest)) == 1
    with pytest.raises(ToolError) as err:  # the same key for another request is refused, nothing written
        backend.commit("refill_data", _ctx(store, backend), RefillDataArgs(line_id="L1", gb=3), "k-1")
    assert err.value.code == "idempotency_conflict" and _refilled(operator) == 2


# --- two stores: Sangdam's records and the operator's ----------------------------------------------------------
def test_a_conversation_keeps_sangdams_records_apart_from_the_operators(two_stores) -> None:  # noqa: ANN001
    store, operator = two_stores
    orch = Orchestrator(store, today=TODAY, backend=SqlBackend(operator))
    conv = orch.start_conversation()
    orch.handle(conv, "이번달 요금 얼마 나왔어요?")
    bill = orch.handle(conv, "010-2222-3333 1990년 4월 12일이요")
    assert "61,200원" in bill.reply
    orch.handle(conv, "데이터 2기가 충전해주세요")
    done = orch.handle(conv, "네")
    assert "충전" in done.reply and _refilled(operator) == 2
    saved = orch.handle(conv, "앞으로 안내는 문자로 해주세요")
    assert "문자" in saved.reply
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0  # no operator record in Sangdam's store
        assert s.scalar(select(func.count()).select_from(Line)) == 0
        audited = s.scalars(select(AuditLog.tool)).all()
        assert "refill_data" in audited and "verify_identity" in audited
        assert s.get(CustomerPreference, "C1").preferences == {"contact_channel": "sms"}
    with session_scope(operator) as s:
        assert s.scalar(select(func.count()).select_from(AuditLog)) == 0  # audit is Sangdam's, not the operator's
        assert s.get(Customer, "C1").preferences in ({}, None)  # the CRM profile untouched
    profile = get_tool("get_customer").run(_ctx(store, SqlBackend(operator)))
    assert profile.preferences["contact_channel"] == "sms"  # merged from Sangdam's store


class _LosesCommitAnswers(SqlBackend):
    """A backend whose first commit goes through but whose answer never arrives (a dropped connection)."""

    lost = 0

    def commit(self, tool, ctx, args, idempotency_key):  # noqa: ANN001, ANN201
        result = super().commit(tool, ctx, args, idempotency_key)
        if not self.lost:
            self.lost += 1
            raise BackendUnavailable("connection reset after the request was sent")
        return result


def test_a_lost_commit_answer_keeps_the_proposal_and_the_retry_charges_once(two_stores) -> None:  # noqa: ANN001
    store, operator = two_stores
    orch = Orchestrator(store, today=TODAY, backend=_LosesCommitAnswers(operator))
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해줘")
    lost = orch.handle(conv, "네")
    assert error_ko("backend_outcome_unknown", {}) in lost.reply
    assert lost.pending_action is not None  # still the same proposal
    assert _refilled(operator) == 2  # it did happen on the backend
    retried = orch.handle(conv, "네")
    assert "충전했습니다" in retried.reply and retried.pending_action is None
    assert _refilled(operator) == 2  # once
    with session_scope(store) as s:
        outcomes = [r.result.get("ok") for r in s.scalars(select(AuditLog).where(AuditLog.tool == "refill_data"))]
    assert outcomes == [False, True]


class _Down(SqlBackend):
    def read(self, tool, ctx, args):  # noqa: ANN001, ANN201
        raise BackendUnavailable("connection refused")


def test_a_backend_that_is_down_gets_a_korean_answer_and_the_turn_is_kept(two_stores) -> None:  # noqa: ANN001
    store, operator = two_stores
    orch = Orchestrator(store, today=TODAY, backend=_Down(operator))
    conv = orch.start_conversation(customer_id="C1")
    reply = orch.handle(conv, "이번 달 요금 알려주세요")
    assert "상담사" in reply.reply and "연결" in reply.reply
    assert [m["role"] for m in orch.transcript(conv)] == ["customer", "bot"]


# --- configuration ----------------------------------------------------------------------------------------------
def test_the_backend_file_selects_the_adapter_and_names_what_is_wrong(tmp_path, two_stores, monkeypatch) -> None:  # noqa: ANN001
    store, _ = two_stores
    path = tmp_path / "backend.yaml"
    path.write_text(f"backend: sql\nsql:\n  database_url: sqlite:///{tmp_path / 'operator.db'}\n", encoding="utf-8")
    backend = build_backend(store, path)
    assert backend.customer_names({"C1"}) == {"C1": "김하늘"}  # the operator database, not the store
    path.write_text("backend: soap\n", encoding="utf-8")
    with pytest.raises(BackendConfigError) as err:
        load_backend_config(path)
    assert err.value.path == "backend" and str(path) in str(err.value) and "soap" in err.value.reason
    path.write_text("backend: rest\n", encoding="utf-8")
    with pytest.raises(BackendConfigError) as err:
        build_backend(store, path)
    assert err.value.path == "rest"
    monkeypatch.setenv("SANGDAM_BACKEND", "sql")  # the environment overrides the file
    reset_settings()
    try:
        assert load_backend_config(path)[0] == "sql"
    finally:
        monkeypatch.delenv("SANGDAM_BACKEND")
        reset_settings()


# --- nothing else reads the operator's tables -------------------------------------------------------------------
OPERATOR_MODELS = {"Plan", "Customer", "Line", "Bill", "UsageDaily", "RoamingPass", "Outage", "Ticket"}
# The sql adapter, the schema and demo seed,
# the evaluation harness (it builds and checks the operator database of each scenario) and the reference BSS.
ALLOWED = ("backends/sql/", "domain/", "evaluation/", "bss/")


def test_only_the_sql_adapter_touches_the_operator_tables() -> None:
    """Nothing outside the sql adapter (and the schema, seed, evaluation harness and reference BSS, which build and
    check operator databases) imports an operator table or reaches into the adapter: not the tools, responder,
    preferences, server or CLI."""
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(ALLOWED):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "sangdam.domain.models":
                names = {a.name for a in node.names}
                if names & OPERATOR_MODELS:
                    offenders.append(f"{rel}: {sorted(names)}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sangdam.backends.sql") and \
                    not rel.startswith("backends/"):
                offenders.append(f"{rel}: {node.module} (use the configured backend, not the sql adapter)")
            if isinstance(node, ast.ImportFrom) and node.module == "sangdam.domain" and \
                    {a.name for a in node.names} & {"models", "repo", "seed"}:
                offenders.append(f"{rel}: sangdam.domain.{[a.name for a in node.names]}")
    assert offenders == []


def test_the_date_of_an_effect_stays_a_date() -> None:
    # a REST backend sends "2026-12-01"; the confirmation text formats dates, so the effect must carry a date
    effect = EFFECTS["suspend_line"].model_validate({
        "line_id": "L1", "line_number": "010-2222-3333", "reason": "temporary", "reason_ko": "일시 정지",
        "new_status": "suspended", "effective_date": "2026-12-01", "extra": "dropped"})
    assert effect.model_dump()["effective_date"] == dt.date(2026, 12, 1) and "extra" not in effect.model_dump()


@pytest.mark.parametrize("text", ["앞으로 안내는 문자로 주세요", "앞으로 안내는 문자로 해주세요", "연락은 이메일로 부탁해요",
                                  "문자로 안내해 주세요", "안내는 문자로 받을게요"])
def test_a_stated_preference_alone_is_saved_and_nothing_else_runs(two_stores, text: str) -> None:  # noqa: ANN001
    store, operator = two_stores
    orch = Orchestrator(store, today=TODAY, backend=SqlBackend(operator))
    reply = orch.handle(orch.start_conversation(customer_id="C1"), text)
    assert "저장" in reply.reply and "요금제" not in reply.reply  # not taken for a plan change
    assert [c.name for c in reply.tool_calls] == []


def test_serve_refuses_to_start_on_a_broken_backend_file_naming_file_path_and_reason(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from sangdam.cli import app

    home = tmp_path / "home"
    home.mkdir()
    (home / "backend.yaml").write_text("backend: rest\nrest:\n  base_url: http://127.0.0.1:1\n  timeout: 3\n",
                                       encoding="utf-8")
    monkeypatch.setenv("SANGDAM_HOME", str(home))
    reset_settings()
    try:
        result = CliRunner().invoke(app, ["serve", "--port", "1"])
    finally:
        monkeypatch.undo()
        reset_settings()
    assert result.exit_code == 2
    assert f"{home / 'backend.yaml'}: rest.timeout: Extra inputs are not permitted" in result.output


class _Miscalculates(SqlBackend):
    """A backend whose refill quote does not follow the rules (a mapping bug: the price of 1 GB for 2 GB)."""

    def preview(self, tool, ctx, args):  # noqa: ANN001, ANN201
        effect = super().preview(tool, ctx, args)
        return {**effect, "charge_krw": effect["price_per_gb_krw"]} if tool == "refill_data" else effect


def test_a_preview_that_contradicts_the_rules_is_never_put_to_the_customer(two_stores) -> None:  # noqa: ANN001
    from sangdam.backends import guard

    store, operator = two_stores
    with pytest.raises(ToolError) as err:
        get_tool("refill_data").preview(_ctx(store, _Miscalculates(operator)), {"line_id": "L1", "gb": 2})
    assert err.value.code == "policy_mismatch" and "charge_krw" in err.value.message_en
    orch = Orchestrator(store, today=TODAY, backend=_Miscalculates(operator))
    conv = orch.start_conversation(customer_id="C1")
    reply = orch.handle(conv, "데이터 2기가 충전해 주세요")
    assert error_ko("policy_mismatch", {}) in reply.reply and "2,200원" not in reply.reply
    assert reply.pending_action is None and _refilled(operator) == 0
    assert orch.handle(conv, "네").pending_action is None and _refilled(operator) == 0
    # the same preview from a backend that follows the rules passes the check
    good = SqlBackend(operator).preview("refill_data", _ctx(store, None), RefillDataArgs(line_id="L1", gb=2))
    assert guard.problems("refill_data", EFFECTS["refill_data"].model_validate(good).model_dump(), TODAY) == []


@pytest.mark.parametrize("tool, change, problem", [
    ("change_plan", {"prorated_charge_krw": 1}, "prorated_charge_krw"),
    ("change_plan", {"effective_date": dt.date(2026, 12, 2)}, "effective_date"),
    ("suspend_line", {"reason": "vacation"}, "reason"),
    ("pay_bill", {"amount_krw": 0}, "amount_krw"),
    ("request_cancellation", {"early_termination_total_krw": 1}, "early_termination_total_krw"),
])
def test_the_rules_catch_each_kind_of_wrong_preview(two_stores, tool: str, change: dict, problem: str) -> None:  # noqa: ANN001
    from sangdam.backends import guard

    store, operator = two_stores
    args = {"change_plan": {"line_id": "L1", "plan_id": "P-5G-UNL", "effective": "immediate"},
            "suspend_line": {"line_id": "L1", "reason": "temporary"}, "pay_bill": {"bill_id": "B1"},
            "request_cancellation": {"line_id": "L1"}}[tool]
    effect = get_tool(tool).preview(_ctx(store, SqlBackend(operator)), args).effect
    assert guard.problems(tool, effect, TODAY) == []
    found = guard.problems(tool, {**effect, **change}, TODAY)
    assert len(found) == 1 and found[0].startswith(problem)


def test_init_and_seed_put_the_demo_tables_where_the_sql_adapter_reads_them(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from sangdam.cli import app

    home = tmp_path / "home"
    home.mkdir()
    operator_url = f"sqlite:///{tmp_path / 'operator.db'}"
    (home / "backend.yaml").write_text(f"backend: sql\nsql:\n  database_url: {operator_url}\n", encoding="utf-8")
    monkeypatch.setenv("SANGDAM_HOME", str(home))
    monkeypatch.setenv("SANGDAM_TODAY", TODAY.isoformat())
    reset_settings()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["init"]).exit_code == 0
        assert runner.invoke(app, ["seed"]).exit_code == 0
        store, operator = make_engine(f"sqlite:///{home / 'sangdam.db'}"), make_engine(operator_url)
        with session_scope(store) as s:
            assert s.scalar(select(func.count()).select_from(Customer)) == 0
        with session_scope(operator) as s:
            assert s.scalar(select(func.count()).select_from(Customer)) > 0
        (home / "backend.yaml").write_text("backend: rest\nrest:\n  base_url: http://127.0.0.1:1\n", encoding="utf-8")
        assert runner.invoke(app, ["init"]).exit_code == 0  # Sangdam's own store is still made
        refused = runner.invoke(app, ["seed"])
        assert refused.exit_code == 2 and "rest backend" in refused.output
    finally:
        monkeypatch.undo()
        reset_settings()


class _RefusesQuotingTheCustomer(SqlBackend):
    """An operator system whose error text quotes the customer's phone number."""

    def commit(self, tool, ctx, args, idempotency_key):  # noqa: ANN001, ANN201
        raise BackendUnavailable("503 from BSS: subscriber 010-2222-3333 (김하늘) locked by another order")


def test_an_outside_systems_error_text_is_audited_masked(two_stores) -> None:  # noqa: ANN001
    store, operator = two_stores
    with pytest.raises(ToolError):
        get_tool("refill_data").run(_ctx(store, _RefusesQuotingTheCustomer(operator), "k-9"), {"line_id": "L1", "gb": 1})
    with session_scope(store) as s:
        rows = [r.result for r in s.scalars(select(AuditLog).where(AuditLog.tool == "refill_data"))]
    assert rows and rows[-1]["error"] == "backend_outcome_unknown"
    assert "010-2222-3333" not in rows[-1]["message_en"] and "locked by another order" in rows[-1]["message_en"]
