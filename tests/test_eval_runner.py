"""The runner on real SQLite databases with a tiny fake orchestrator (the real one runs the suite end to end)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from sangdam.domain.models import Line
from sangdam.evaluation.databases import ScenarioDatabases
from sangdam.evaluation.loader import LoadedScenario
from sangdam.evaluation.report import pass_hat
from sangdam.evaluation.runner import ScenarioRunner
from sangdam.evaluation.scenario import Scenario
from sangdam.orchestrator.types import ToolCallRecord, TurnResult

FIXTURES = {
    "today": dt.date(2026, 11, 15),
    "customers": [
        {
            "id": "C1",
            "name": "김하늘",
            "birth_date": dt.date(1990, 4, 12),
            "phone": "010-2222-3333",
            "lines": [{"id": "L1", "plan_id": "P-5G-SLIM", "data_used_gb": 4.5}],
            "bills": [{"id": "B1", "period": "2026-10", "items": [{"name": "월정액", "amount": 55000}]}],
        }
    ],
}


class FakeOrchestrator:
    """Proposes a refill on the first turn, 'executes' it on the second by writing ``refill_gb`` to the DB."""

    def __init__(self, engine: Engine, today: dt.date, llm: object, refill_gb: float = 2.0, crash: bool = False):
        self.engine, self.today, self.refill_gb, self.crash = engine, today, refill_gb, crash
        self.turn = 0

    def start_conversation(self, customer_id: str | None = None, channel: str = "api") -> str:
        assert channel == "eval"
        return "conv-1"

    def handle(self, conversation_id: str, text: str) -> TurnResult:
        self.turn += 1
        if self.crash:
            raise RuntimeError("boom")
        if self.turn == 1:
            return TurnResult(
                conversation_id=conversation_id, turn_index=0, reply="2GB 충전 요금은 4,400원입니다. 진행할까요?",
                intents=["data.refill"], tool_calls=[ToolCallRecord(name="refill_data", status="proposed")],
                pending_action={"tool": "refill_data"}, trace_id="t1",
            )
        with self.engine.begin() as conn:
            conn.execute(update(Line).where(Line.id == "L1").values(data_refill_gb=self.refill_gb))
        return TurnResult(
            conversation_id=conversation_id, turn_index=1, reply="충전했습니다.",
            tool_calls=[ToolCallRecord(name="refill_data", status="ok")], trace_id="t2",
        )


def _scenario(**final: object) -> LoadedScenario:
    data = {
        "id": "refill-2gb",
        "fixtures": FIXTURES,
        "session": {"customer_id": "C1"},
        "turns": [
            {"user": "데이터 2기가 충전해 주세요",
             "expect": {"intents": ["data.refill"], "tools_not_called": ["refill_data"], "pending_action": True,
                        "reply_contains": ["4,400원|4400원"]}},
            {"user": "네", "expect": {"tools_called": ["refill_data"]}},
        ],
        "final": final or {"db": {"lines": {"L1": {"data_refill_gb": 2, "roaming_enabled": False}}}},
    }
    return LoadedScenario(Scenario.model_validate(data), Path("inline.yaml"))


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> ScenarioDatabases:
    return ScenarioDatabases(tmp_path_factory.mktemp("eval-dbs"))


def _runner(databases: ScenarioDatabases, **fake: object) -> ScenarioRunner:
    return ScenarioRunner(
        orchestrator_factory=lambda engine, today, llm: FakeOrchestrator(engine, today, llm, **fake),
        summarizer=lambda engine, cid: None,
        databases=databases,
    )


def test_passing_scenario_report_has_the_json_contract_shape(databases: ScenarioDatabases) -> None:
    report = _runner(databases).run([_scenario()]).to_json_dict()
    assert {"total", "passed", "pass_rate", "scenarios"} <= report.keys()
    assert (report["total"], report["passed"], report["pass_rate"]) == (1, 1, 1.0)
    assert isinstance(report["pass_rate"], float)
    (sc,) = report["scenarios"]
    assert {"id", "passed", "failures", "turns"} <= sc.keys()
    assert sc["id"] == "refill-2gb" and sc["passed"] is True and sc["failures"] == []
    turn = sc["turns"][0]
    assert set(turn) == {"user", "reply", "intents", "tools", "latency_ms"}
    assert turn["intents"] == ["data.refill"] and isinstance(turn["latency_ms"], float)
    assert turn["tools"] == [{"name": "refill_data", "status": "proposed", "error_code": None}]
    assert report["repeat"] == 1 and report["pass_hat_k"] == 1.0


def test_final_db_check_detects_a_wrong_value(databases: ScenarioDatabases) -> None:
    report = _runner(databases, refill_gb=3.0).run([_scenario()])
    (sc,) = report.scenarios
    assert not sc.passed and report.pass_rate == 0.0
    assert sc.failures == ["final db: lines.L1.data_refill_gb: expected 2, got 3.0"]


def test_each_scenario_gets_a_fresh_database(databases: ScenarioDatabases) -> None:
    # The first run writes 2 GB; if the second reused its database, db_unchanged would see no change at all.
    runner = _runner(databases)
    first = runner.run([_scenario()])
    second = runner.run([_scenario(db_unchanged=True)])
    assert first.scenarios[0].passed
    (failure,) = second.scenarios[0].failures
    assert "db_unchanged: table 'lines' changed" in failure


def test_bills_total_delta_and_row_counts(databases: ScenarioDatabases) -> None:
    final = {"bills_total_delta": {"C1": 4400}, "rows": [{"table": "tickets", "where": {"customer_id": "C1"}, "count": 1}]}
    (sc,) = _runner(databases).run([_scenario(**final)]).scenarios
    assert sc.failures == [
        "final bills_total_delta: C1: expected +4,400 KRW, got +0 KRW",
        "final rows[0]: tickets where {'customer_id': 'C1'}: expected 1 rows, got 0",
    ]


def test_missing_summary_fails_with_a_clear_message(databases: ScenarioDatabases) -> None:
    (sc,) = _runner(databases).run([_scenario(summary_contains=["충전"])]).scenarios
    assert sc.failures == ["final summary_contains: summary not available (sangdam.contact_center.summary.summarize)"]


def test_orchestrator_crash_fails_the_scenario_not_the_run(databases: ScenarioDatabases) -> None:
    report = _runner(databases, crash=True).run([_scenario(), _scenario()])
    assert report.total == 2 and report.passed == 0
    assert report.scenarios[0].failures[0].startswith("turn 1 ('데이터 2기가 충전해 주세요'): orchestrator raised RuntimeError: boom (at test_eval_runner.py:")


def test_repeat_reports_pass_hat_k(databases: ScenarioDatabases) -> None:
    gbs = itertools.cycle([2.0, 3.0])  # every second run writes the wrong amount
    runner = ScenarioRunner(
        orchestrator_factory=lambda engine, today, llm: FakeOrchestrator(engine, today, llm, refill_gb=next(gbs)),
        summarizer=lambda engine, cid: None,
        databases=databases,
    )
    report = runner.run([_scenario()], repeat=2)
    (sc,) = report.scenarios
    assert (sc.runs, sc.runs_passed, sc.passed) == (2, 1, False)
    assert report.passed == 0 and report.pass_rate == 0.0
    assert report.pass_hat == {"1": 0.5, "2": 0.0} and report.pass_hat_k == 0.0
    assert sc.failures == ["run 2/2: final db: lines.L1.data_refill_gb: expected 2, got 3.0"]


def test_pass_hat_arithmetic_matches_tau2_bench() -> None:
    # three tasks, 3 trials each, with 3, 2 and 0 successes
    assert pass_hat([3, 2, 0], 3, 1) == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert pass_hat([3, 2, 0], 3, 2) == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert pass_hat([3, 2, 0], 3, 3) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        pass_hat([1], 1, 2)
