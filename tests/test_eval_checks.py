"""Grading of one turn and type-aware value comparison."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Float, Integer, String
from sqlalchemy.types import JSON

from sangdam.evaluation.checks import check_turn, matches
from sangdam.evaluation.dbcheck import values_equal
from sangdam.evaluation.scenario import TurnExpect
from sangdam.orchestrator.types import ToolCallRecord, TurnResult


def _result(reply: str = "", intents: list[str] | None = None, calls: list[tuple[str, str]] = (), **kw) -> TurnResult:
    return TurnResult(
        conversation_id="c",
        turn_index=0,
        reply=reply,
        intents=intents or [],
        tool_calls=[ToolCallRecord(name=n, status=s) for n, s in calls],
        trace_id="t",
        **kw,
    )


def test_reply_contains_accepts_any_alternative() -> None:
    assert matches("충전 요금은 19800원입니다", "19,800원|19800원")
    assert matches("충전 요금은 19,800원입니다", "19,800원|19800원")
    assert not matches("충전 요금은 18,800원입니다", "19,800원|19800원")


def test_reply_matching_ignores_spacing_and_latin_case() -> None:
    assert matches("남은 데이터는 7.5 gb 입니다", "7.5GB")
    assert matches("로밍켜기 완료", "로밍 켜기")


def test_failure_names_turn_index_user_text_and_difference() -> None:
    expect = TurnExpect(reply_contains=["61,200원|61200원"], intents=["billing.inquiry"])
    failures = check_turn(1, "이번 달 요금 얼마예요?", expect, _result("요금은 60,000원입니다", ["plan.info"]))
    assert len(failures) == 2
    assert all(f.startswith("turn 2 ('이번 달 요금 얼마예요?')") for f in failures)
    assert "expected ['billing.inquiry'], got ['plan.info']" in failures[0]
    assert "'61,200원|61200원'" in failures[1] and "60,000원" in failures[1]


def test_reply_not_contains_reports_the_alternative_found() -> None:
    (failure,) = check_turn(0, "x", TurnExpect(reply_not_contains=["77,000|77000"]), _result("박민수님 77000원"))
    assert "found '77000'" in failure


def test_proposed_call_does_not_count_as_called() -> None:
    result = _result("19,800원입니다. 진행할까요?", calls=[("list_roaming_passes", "ok"), ("enable_roaming", "proposed")])
    ok = TurnExpect(tools_called=["list_roaming_passes"], tools_not_called=["enable_roaming"], tools_proposed=["enable_roaming"])
    assert check_turn(0, "x", ok, result) == []
    (failure,) = check_turn(0, "x", TurnExpect(tools_called=["enable_roaming"]), result)
    assert "tools_called: expected enable_roaming to run" in failure and "enable_roaming:proposed" in failure


def test_refused_call_counts_as_called_and_as_failed() -> None:
    result = _result("미납 요금이 있어", calls=[("resume_line", "error")])
    assert check_turn(0, "x", TurnExpect(tools_called=["resume_line"], tools_failed=["resume_line"]), result) == []
    assert check_turn(0, "x", TurnExpect(tools_not_called=["resume_line"]), result)


def test_tool_alternatives() -> None:
    result = _result(calls=[("explain_bill", "ok")])
    assert check_turn(0, "x", TurnExpect(tools_called=["get_bills|explain_bill"]), result) == []
    assert check_turn(0, "x", TurnExpect(tools_not_called=["get_bills|explain_bill"]), result)


def test_state_expectations_pending_handoff_verified() -> None:
    result = _result(pending_action={"tool": "pay_bill"}, handed_off=False, verified_customer_id=None)
    assert check_turn(0, "x", TurnExpect(pending_action=True, handed_off=False, verified=False), result) == []
    failures = check_turn(0, "x", TurnExpect(pending_action=False, handed_off=True, verified=True), result)
    assert [f.split(": ")[1] for f in failures] == ["pending_action", "handed_off", "verified"]


def test_values_equal_is_type_aware() -> None:
    assert values_equal(Date(), "2026-12-01", dt.date(2026, 12, 1))
    assert not values_equal(Date(), "2026-12-02", dt.date(2026, 12, 1))
    assert values_equal(Float(), 2, 2.0000000001)
    assert not values_equal(Float(), 2, 2.01)
    assert values_equal(Boolean(), True, True)
    assert not values_equal(Boolean(), 1, True)  # a bool field needs a bool in the scenario
    assert not values_equal(Boolean(), False, True)
    assert values_equal(Integer(), 19800, 19800)
    assert not values_equal(Integer(), True, 1)
    assert values_equal(String(), None, None) and not values_equal(String(), None, "x")
    assert values_equal(JSON(), [{"name": "월정액", "amount": 55000}], [{"name": "월정액", "amount": 55000}])
    assert not values_equal(JSON(), [{"name": "월정액", "amount": 55000}], [{"name": "월정액", "amount": 55001}])
