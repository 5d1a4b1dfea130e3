"""The claim check of the LLM agent's answers (sangdam.agentic.claims): a real number said of the wrong thing, or a
state the records deny, is rejected like an invented number — the three answers below were written by a small
model in real conversations and passed the number-only verifier — while correct statements pass.

The agent-level tests run the real tools on the orchestrator fixtures (C1: line L1 on 5G 슬림, 59,000원, 12GB, 4.5GB
used, October bill issued; C2: line L2 suspended, September bill overdue); the unit tests build the facts directly,
shaped like the tool results (sangdam.tools.results).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine
from test_agent_stream import StreamingAgentModel, _agent_ctx
from test_agentic import GrammarIgnoringModel, _run

from sangdam.agentic.agent import AgenticAgent
from sangdam.agentic.claims import check_claims, facts_of, lexicon
from sangdam.agentic.limits import AgentLimits
from sangdam.domain.models import Line, Plan
from sangdam.orchestrator.blackboard import Blackboard
from sangdam.orchestrator.state import Step
from sangdam.orchestrator.verifier import Verifier


def _rejections(model: GrammarIgnoringModel) -> list[str]:
    """What the model was told was unsupported, in order."""
    return [m["content"] for m in model.sent[-1]["messages"] if m["role"] == "user"
            and m["content"].startswith("Your answer stated")]


# -- the three real answers, with the real tool results ------------------------------------------------------------
def _installment(session: Any) -> None:
    session.add(Plan(id="P-5G-69", name="5G 스탠다드", network="5G", monthly_fee=69000, data_gb=110,
                     throttle_kbps=5000, refill_price_per_gb=2200))
    line = session.get(Line, "L1")
    line.contract_kind, line.device_model = "device_installment", "Galaxy S25"
    line.contract_start, line.contract_end = dt.date(2025, 3, 1), dt.date(2027, 2, 28)
    line.device_installment_left = 420000


def test_a_plan_price_stated_as_the_instalment_left_is_rejected_then_regenerated(db_engine: Engine) -> None:
    model = GrammarIgnoringModel(
        {"action": "call", "tool": "get_contract", "args": {"line_id": "L1"}},
        {"action": "answer", "text": "현재의 할부금은 69000원입니다."},  # 69,000: 5G 스탠다드's price (list_plans)
        {"action": "answer", "text": "할부금은 420,000원 남았습니다."},
    )
    out, ctx, agent = _run(db_engine, model, "할부금 얼마 남았어요?", records=_installment)
    assert out.messages == ["할부금은 420,000원 남았습니다."]
    assert agent.last_run.rejected_drafts == 1 and agent.last_run.ended == "answered"
    assert "69000 (할부)" in _rejections(model)[0]
    # the number verifier alone passes it: 69,000 is a fact of the turn
    plans = [p["name"] for p in ctx.blackboard.get("list_plans")["plans"]]
    assert Verifier(plans).check("현재의 할부금은 69000원입니다.", ctx.blackboard, ctx.tool_calls).passed


def test_the_plans_allowance_stated_as_usage_is_rejected_then_regenerated(db_engine: Engine) -> None:
    model = GrammarIgnoringModel(
        {"action": "call", "tool": "get_data_usage", "args": {"line_id": "L1"}},
        {"action": "answer", "text": "당신의 한달 평균 데이터 사용량은 12GB입니다."},  # 12: 5G 슬림's allowance
        {"action": "answer", "text": "이번 달 데이터는 4.5GB 사용하셨습니다."},
    )
    out, ctx, agent = _run(db_engine, model, "제가 한 달에 데이터 얼마나 써요?")
    assert out.messages == ["이번 달 데이터는 4.5GB 사용하셨습니다."]
    assert agent.last_run.rejected_drafts == 1
    assert "12 (사용량)" in _rejections(model)[0]


def test_a_bill_said_paid_while_the_database_says_overdue_is_rejected_then_regenerated(db_engine: Engine) -> None:
    model = GrammarIgnoringModel(
        {"action": "answer", "text": "9월과 10월의 요금은 모두 냈습니다."},  # C2's September bill is overdue
        {"action": "answer", "text": "9월 요금은 아직 납부되지 않았습니다."},
    )
    out, ctx, agent = _run(db_engine, model, "요금 다 냈죠?", customer="C2")
    assert out.messages == ["9월 요금은 아직 납부되지 않았습니다."]
    assert agent.last_run.rejected_drafts == 1
    assert "9월 납부 완료 (bill status: overdue)" in _rejections(model)[0]


def test_twice_wrong_ends_in_the_safe_reply(db_engine: Engine) -> None:
    model = GrammarIgnoringModel(
        {"action": "answer", "text": "9월 요금은 납부하셨습니다."},
        {"action": "answer", "text": "9월 요금은 납부 완료되었습니다."},
    )
    out, _, agent = _run(db_engine, model, "9월 요금 냈나요?", customer="C2")
    assert agent.last_run.ended == "unverified" and out.messages and "9월" not in out.messages[0]


def test_correct_answers_pass_first_time(db_engine: Engine) -> None:
    model = GrammarIgnoringModel(
        {"action": "call", "tool": "get_data_usage", "args": {"line_id": "L1"}},
        {"action": "answer", "text": "5G 슬림 요금제는 월 59,000원에 기본 제공량 12GB이고, 이번 달 4.5GB 사용하셔서 "
                                     "남은 데이터는 7.5GB입니다. 10월 청구 요금 61,200원은 아직 납부 전입니다."},
    )
    out, _, agent = _run(db_engine, model, "요금제랑 데이터 알려줘")
    assert agent.last_run.rejected_drafts == 0 and agent.last_run.ended == "answered", out.messages


def test_a_streamed_sentence_with_a_wrong_claim_is_not_shown(db_engine: Engine) -> None:
    first, wrong = "이번 달 데이터는 4.5GB 사용하셨습니다. ", "10월 요금은 이미 납부하셨습니다."
    right = "10월 요금 61,200원은 아직 납부되지 않았습니다."
    shown: list[str] = []
    model = StreamingAgentModel({"action": "call", "tool": "get_data_usage", "args": {"line_id": "L1"}},
                                {"action": "answer", "text": first + wrong},
                                {"action": "answer", "text": first + right})
    agent = AgenticAgent(model, limits=AgentLimits())
    ctx = _agent_ctx(db_engine, agent, shown)
    out = agent.handle(Step(agent="agentic", intent="out_of_scope", text=ctx.text), ctx)
    assert shown == [first]  # the October bill is issued, not paid: that sentence was never shown
    assert out.messages == [first + right] and out.trace["rejected_drafts"] == 1


# -- check_claims on facts shaped like the tool results -----------------------------------------------------------
PLANS = {"plans": [
    {"id": "P-5G-SLIM", "name": "5G 슬림", "network": "5G", "monthly_fee_krw": 55000, "data_gb": 12.0,
     "unlimited": False, "throttle_kbps": 1000, "refill_price_per_gb_krw": 2200,
     "description": "가볍게 쓰는 5G. 기본 데이터 12GB, 소진 후 최대 1Mbps."},
    {"id": "P-5G-STD", "name": "5G 스탠다드", "network": "5G", "monthly_fee_krw": 69000, "data_gb": 110.0,
     "unlimited": False, "throttle_kbps": 5000, "refill_price_per_gb_krw": 2200, "description": ""},
    {"id": "P-LTE-BASIC", "name": "LTE 베이직", "network": "LTE", "monthly_fee_krw": 33000, "data_gb": 4.0,
     "unlimited": False, "throttle_kbps": 400, "refill_price_per_gb_krw": 2750, "description": ""},
]}
PASSES = {"country": None, "country_name": None, "passes": [
    {"id": "R-JP3", "name": "일본 3일", "days": 3, "data_gb": 2.0, "price_krw": 13200, "countries": ["JP"]}]}
LINES = {"lines": [
    {"id": "L1", "number": "010-2222-3333", "status": "active", "plan_id": "P-5G-SLIM", "plan_name": "5G 슬림"},
    {"id": "L2", "number": "010-2222-4444", "status": "suspended", "plan_id": "P-LTE-BASIC", "plan_name": "LTE 베이직"}]}
BILLS = {"bills": [
    {"id": "B-L1-202609", "line_id": "L1", "line_number": "010-2222-3333", "period": "2026-09",
     "due_date": "2026-10-25", "amount_krw": 55000, "status": "paid", "items": [{"name": "월정액", "amount_krw": 55000}]},
    {"id": "B-L1-202610", "line_id": "L1", "line_number": "010-2222-3333", "period": "2026-10",
     "due_date": "2026-11-25", "amount_krw": 61200, "status": "issued",
     "items": [{"name": "월정액", "amount_krw": 55000}, {"name": "부가서비스", "amount_krw": 6200}]},
    {"id": "B-L2-202609", "line_id": "L2", "line_number": "010-2222-4444", "period": "2026-09",
     "due_date": "2026-10-25", "amount_krw": 37400, "status": "overdue",
     "items": [{"name": "월정액", "amount_krw": 33000}, {"name": "데이터 충전", "amount_krw": 4400}]},
], "total_overdue_krw": 37400}
USAGE = {"line_id": "L1", "plan_name": "5G 슬림", "period": "2026-11", "used_gb": 4.5, "plan_data_gb": 12.0,
         "refill_gb": 0.0, "allowance_gb": 12.0, "remaining_gb": 7.5, "unlimited": False, "throttled": False,
         "throttle_kbps": 1000, "cycle_end": "2026-11-30", "days_left_in_cycle": 16, "refill_available_gb": 10,
         "last_months": [{"period": "2026-10", "data_gb": 9.8}, {"period": "2026-09", "data_gb": 11.0}]}
CONTRACT = {"line_id": "L1", "contract_kind": "device_installment", "contract_start": "2025-03-01",
            "contract_end": "2027-02-28", "months_elapsed": 20, "months_remaining": 4, "days_to_end": 105,
            "ends_within_30_days": False, "monthly_discount_krw": 0, "device_model": "Galaxy S25",
            "device_installment_left_krw": 420000, "discount_payback_krw": 30000,
            "early_termination_total_krw": 450000, "as_of": "2026-11-15"}
RECOMMEND = {"line_id": "L1", "current_plan": PLANS["plans"][0], "months": [{"period": "2026-10", "data_gb": 9.8}],
             "avg_monthly_gb": 10.4, "max_monthly_gb": 11.0, "current_plan_fits": True, "recommendations": [
                 {"plan": PLANS["plans"][2], "monthly_saving_krw": 22000, "switch_cost_krw": 30000,
                  "first_year_saving_krw": 234000, "break_even_months": 2}]}
LINE_L2 = {"id": "L2", "number": "010-2222-4444", "status": "suspended", "suspend_reason": "nonpayment",
           "plan": PLANS["plans"][2], "roaming_enabled": True, "roaming_pass_id": "R-JP3", "data_used_gb": 3.1}
LINE_L1 = {"id": "L1", "number": "010-2222-3333", "status": "active", "suspend_reason": None,
           "plan": PLANS["plans"][0], "roaming_enabled": False, "roaming_pass_id": None, "data_used_gb": 4.5}
FACTS = [LINES, BILLS, {"months": 3}, PLANS, PASSES, USAGE, {"line_id": "L1"}, CONTRACT, RECOMMEND]


@pytest.mark.parametrize("text, unsupported", [
    ("현재의 할부금은 69000원입니다.", ["69000 (할부)"]),
    ("당신의 한달 평균 데이터 사용량은 12GB입니다.", ["12 (사용량)"]),
    ("9월과 10월의 요금은 모두 냈습니다.", ["9월 납부 완료 (bill status: overdue)", "10월 납부 완료 (bill status: issued)"]),
    ("요금은 전부 납부하셨습니다.", ["납부 완료 (bill status: issued/overdue)"]),
    ("위약금은 6만 9천원입니다.", ["6만 9천 (위약금)"]),
    ("남은 데이터는 12GB입니다.", ["12 (남은 데이터)"]),
    ("기본 제공량은 4.5GB입니다.", ["4.5 (제공량)"]),
    ("이번 달 사용량은 3GB입니다.", ["3 (사용량)"]),  # 3: the months argument, not a data size
    ("할부금은 420,000원, 위약금은 55,000원입니다.", ["55,000 (위약금)"]),  # each amount in its own clause
    ("끝자리 4444 회선은 로밍이 꺼져 있습니다.", ["로밍 꺼짐 (roaming roaming_enabled: true)"]),
    ("끝자리 3333 회선은 정지되어 있습니다.", ["회선 정지 (line status: active)"]),
    ("끝자리 4444 회선은 로밍이 꺼져 있고 끝자리 3333 회선은 로밍이 켜져 있습니다.",
     ["로밍 꺼짐 (roaming roaming_enabled: true)", "로밍 켜짐 (roaming roaming_enabled: false)"]),
    ("끝자리 3333 회선 10월 요금은 연체되었습니다.", ["10월 연체 (bill status: issued)"]),
])
def test_wrong_claims_are_reported(text: str, unsupported: list[str]) -> None:
    assert check_claims(text, [*FACTS, LINE_L1, LINE_L2]) == unsupported


@pytest.mark.parametrize("text", [
    "할부금은 420,000원 남았습니다.",
    "남은 할부금은 42만원입니다.",
    "위약금은 할부금 포함 45만원입니다.",  # names both: the total holds the instalment
    "할인반환금은 30,000원입니다.",
    "이번 달 데이터는 4.5GB 사용하셨습니다.",
    "최근 3개월 평균 사용량은 10.4GB, 가장 많이 쓰신 달은 11GB입니다.",
    "지난달에는 9.8GB를 쓰셨습니다.",
    "5G 슬림은 월 55,000원에 데이터 12GB가 제공됩니다.",
    "5G 스탠다드 요금제는 월 69,000원입니다.",  # plan prices stated as prices
    "LTE 베이직으로 바꾸시면 매달 22,000원을 절약하실 수 있습니다.",
    "기본 제공량 12GB에서 4.5GB를 사용하셔서 7.5GB 남았습니다.",  # three amounts, each with its own words
    "69,000원입니다.",  # no concept named: the number check alone, as before
    "데이터는 12GB입니다.",
    "9월 요금은 55,000원이었고 10월 요금은 61,200원입니다.",
    "끝자리 4444 회선 9월 청구서는 월정액 33,000원과 데이터 충전 4,400원입니다.",  # bill items by their names
    "미납 요금은 37,400원입니다.",
    "일본 3일 패스는 데이터 2GB에 13,200원입니다.",
    "9월 요금은 아직 납부되지 않았습니다.",  # L2's September bill is overdue
    "끝자리 3333 회선 9월 요금은 납부하셨습니다.",  # L1's September bill is paid
    "끝자리 4444 회선 9월 요금이 연체되어 있습니다.",
    "10월 요금은 아직 안 내셨습니다.",
    "미납 요금이 없으시면 바로 변경됩니다.",  # negated: claims nothing
    "9월 요금을 납부하셨나요?",  # a question claims nothing
    "끝자리 4444 회선은 로밍이 켜져 있습니다.",
    "끝자리 3333 회선은 로밍이 꺼져 있습니다.",
    "끝자리 3333 회선은 로밍이 꺼져 있고 끝자리 4444 회선은 로밍이 켜져 있습니다.",  # each clause its own line
    "끝자리 4444 회선은 미납으로 정지되어 있습니다.",
    "끝자리 3333 회선은 정상 사용 중입니다.",
    "요금을 납부하시면 정지가 해제됩니다.",
    "확인했습니다.",
    "10월에 납부되어야 할 금액은 61,200원입니다.",  # not a payment
    "요금 안내 문자를 보내 드렸고, 확인 문자도 보냈습니다.",
    "해지하시면 할인반환금 30,000원과 남은 할부금 420,000원을 합쳐 450,000원이 청구됩니다.",
    "10월 청구 금액 61,200원에는 월정액 55,000원과 부가서비스 6,200원이 포함되어 있습니다.",
    "평균 10.4GB를 사용하셔서 12GB 제공되는 현재 요금제가 적합합니다.",
    "1GB 추가 충전 시 2,200원이 청구됩니다.",
    # comparisons: the amount may be computed, or said of one thing in terms of another
    "끝자리 3333 회선이 61,200원으로 끝자리 4444 회선 37,400원보다 더 나왔습니다.",
    "10월 요금은 9월보다 6,200원 더 많습니다.",
    "LTE 베이직이 33,000원으로 더 저렴합니다.",
    "지금은 데이터 12GB 요금제를 사용 중이십니다.",
])
def test_correct_statements_pass(text: str) -> None:
    assert check_claims(text, [*FACTS, LINE_L1, LINE_L2]) == []


def test_a_state_with_no_record_of_its_kind_is_not_judged() -> None:
    # no line read says whether roaming is on (list_lines does not): nothing to contradict
    assert check_claims("로밍이 켜져 있습니다.", [LINES, BILLS]) == []
    assert check_claims("11월 요금은 납부하셨습니다.", [BILLS]) == []  # no November bill among the facts


def test_a_value_in_no_fact_is_left_to_the_verifier() -> None:
    assert check_claims("할부금은 77,700원입니다.", FACTS) == []


def test_after_a_payment_the_paid_result_supports_the_claim() -> None:
    paid = {"bill_id": "B-L2-202609", "period": "2026-09", "amount_krw": 37400, "status": "paid",
            "lines_resumed": ["L2"], "remaining_overdue_krw": 0}
    assert check_claims("끝자리 4444 회선 9월 요금 37,400원을 납부했습니다.", [*FACTS, paid]) == []
    assert check_claims("끝자리 4444 회선 9월 요금을 납부했습니다.", FACTS) == ["9월 납부 완료 (bill status: overdue)"]
    assert check_claims("9월 요금을 납부했습니다.", FACTS) == []  # L1's September bill is paid: it may be that one


def test_a_number_in_a_text_fact_belongs_to_the_words_around_it_there() -> None:
    passage = "약정 해지 시 위약금은 남은 할인반환금 88,000원이 청구됩니다."
    assert check_claims("위약금은 88,000원입니다.", [passage]) == []
    assert check_claims("할부금은 88,000원입니다.", [passage]) == ["88,000 (할부)"]
    assert check_claims("테더링 50GB까지 쓰실 수 있습니다.", ["5G 데이터 완전 무제한. 테더링 50GB 포함."]) == []


def test_facts_of_gathers_results_arguments_and_passages() -> None:
    board = Blackboard()
    board.put("get_contract", CONTRACT, {"line_id": "L1"})
    board.add_fact("문서 내용 12GB")
    facts = facts_of(board)
    assert CONTRACT in facts and {"line_id": "L1"} in facts and "문서 내용 12GB" in facts
    assert len(facts) == 3  # the latest result of a key is also one of the extra facts: once
    assert check_claims("할부금은 420,000원입니다.", board) == []


def test_the_lexicon_names_real_tool_result_keys() -> None:
    """Every *_krw and *_gb field of the tool results belongs to at least one concept (a field no concept knows
    supports any claim of its unit: the check would be blind to it)."""
    from sangdam.agentic.claims import _path_concepts
    from sangdam.tools import results

    fields = {name for model in vars(results).values() if isinstance(model, type) and hasattr(model, "model_fields")
              for name in model.model_fields if name.endswith(("_krw", "_gb"))}
    fields -= {"data_gb"}  # a plan's or a pass's allowance, or a month's usage: its parent's key says which
    assert fields and not [f for f in sorted(fields) if not _path_concepts(f)]
    assert _path_concepts("plans.data_gb") == {"allowance"} and _path_concepts("last_months.data_gb") == {"usage"}
    assert {"installment", "usage", "allowance", "remaining", "bill", "price", "overdue", "penalty"} <= set(
        lexicon().concepts)
