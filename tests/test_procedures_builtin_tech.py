"""tech.troubleshoot as data (issue 13): resources/procedures/tech_troubleshoot.yaml serves the built-in intent under
its agent name ``tech_support`` (there is no Python agent class any more). The symptom is read from the request or
asked; the network side is checked first (check_line_diagnostics) and a blocking finding of the flow's checks is
explained; else one device step per turn, each an ordinary slot question of the procedure ("loop until a check
passes"), until one fixes it, and a ticket is proposed when they run out or the customer asks for one. A message
that answers no device step is a new request.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest
from orchestrator_fixtures import orchestrator
from sqlalchemy import select

from sangdam.domain.db import session_scope
from sangdam.domain.models import Bill, Customer, Line, Outage, Ticket
from sangdam.orchestrator import Orchestrator
from sangdam.orchestrator.format import say, speed
from sangdam.orchestrator.intents import agent_for
from sangdam.orchestrator.router import RouteResult
from sangdam.orchestrator.state import ConversationState, Frame
from sangdam.procedures import ProcedureError
from sangdam.procedures.functions.tech import fix_result, flows, pick_flow
from sangdam.procedures.loader import compile_procedure
from sangdam.procedures.models import Template


class Router:
    """Every intent whose cue word the message holds, in the order of the rules (a pinned, multi-intent route)."""

    RULES = [("안 돼", "tech.troubleshoot"), ("안 되", "tech.troubleshoot"), ("안 가", "tech.troubleshoot"),
             ("안 보내", "tech.troubleshoot"), ("끊겨", "tech.troubleshoot"), ("느려", "tech.troubleshoot"), ("이상해", "tech.troubleshoot"),
             ("요금 알려", "billing.inquiry"), ("충전", "data.refill"), ("상담사", "agent.human")]

    def route(self, text: str) -> RouteResult:
        intents = list(dict.fromkeys(intent for cue, intent in self.RULES if cue in text)) or ["chitchat"]
        return RouteResult(intents=intents, confidence=0.95, via="classifier")


def _orch(engine: Any) -> Orchestrator:
    return orchestrator(engine, router=Router())


def _tools(result: Any, status: str = "ok") -> list[str]:
    return [c.name for c in result.tool_calls if c.status == status]


def _step(flow: str, index: int) -> str:
    return say("tech.ask_device_step", instruction=flows()[flow]["steps"][index])


def _tickets(engine: Any) -> list[tuple[str, str | None, str]]:
    with session_scope(engine) as s:
        return [(t.summary, t.line_id, t.category) for t in s.scalars(select(Ticket).order_by(Ticket.created_at))]


def _line(engine: Any, line_id: str = "L1", **values: Any) -> None:
    with session_scope(engine) as s:
        line = s.get(Line, line_id)
        for key, value in values.items():
            setattr(line, key, value)


# -- the intent is data --------------------------------------------------------------------------------------------
def test_tech_troubleshoot_runs_as_a_procedure_under_the_tech_support_name(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    assert agent_for("tech.troubleshoot") == "tech_support"  # the contract is unchanged
    agent = orch.agents["tech_support"]
    assert agent.by_intent["tech.troubleshoot"].procedure == "tech_troubleshoot"
    assert set(agent.tools) == {"check_line_diagnostics", "create_ticket", "list_lines"}
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("sangdam.agents.tech_support")
    conv = orch.start_conversation(customer_id="C1")
    first = orch.handle(conv, "데이터가 안 돼요")
    assert first.reply == "\n".join([say("tech.network_ok", last4="3333"), _step("mobile_data", 0)])
    assert _tools(first)[:2] == ["list_lines", "check_line_diagnostics"] and first.verifier.passed
    step = orch.traces(conv)[-1]["plan"][0]
    assert step["agent"] == "tech_support" and step["slots"]["_procedure"]["name"] == "tech_troubleshoot"
    assert first.pending_action is None


def test_each_device_step_is_a_slot_question_until_the_steps_run_out_then_a_ticket(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터가 안 돼요")
    stack = orch.traces(conv)[-1]["stack"]
    assert stack == [{"intent": None, "waits": ["awaiting"], "interrupted": False}]  # an ordinary question
    # "아니요" to a device step is "not fixed" (never "stop"); "네" (done it) and "그래도 안 돼요" the same
    for index, answer in enumerate(["아니요", "그래도 안 돼요", "네"], start=1):
        reply = orch.handle(conv, answer)
        assert reply.reply == _step("mobile_data", index) and reply.tool_calls == []
    restarted = Orchestrator(db_engine, today=orch.today, router=Router())  # state survives a restart
    exhausted = restarted.handle(conv, "안 돼요")
    assert exhausted.reply.startswith(say("tech.exhausted"))
    assert exhausted.pending_action["intent"] == "tech.troubleshoot" and exhausted.pending_action["agent"] == "tech_support"
    assert exhausted.pending_action["calls"] == [{"tool": "create_ticket", "args": {
        "category": "tech_support", "summary": "troubleshooting 'mobile_data' exhausted without resolution",
        "line_id": "L1"}}]
    done = restarted.handle(conv, "네")
    assert _tools(done).count("create_ticket") == 1
    assert _tickets(db_engine) == [("troubleshooting 'mobile_data' exhausted without resolution", "L1", "tech_support")]
    ticket = next(c.result for c in done.tool_calls if c.name == "create_ticket")["ticket_id"]
    assert done.reply == say("tech.ticket_done", ticket=ticket) and done.verifier.passed


def test_fixed_by_a_step_ends_the_flow_without_a_ticket(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    assert orch.handle(conv, "통화가 자꾸 끊겨요").reply.endswith(_step("call_drops", 0))
    assert orch.handle(conv, "아니요").reply == _step("call_drops", 1)
    resolved = orch.handle(conv, "이제 됐어요")
    assert resolved.reply == say("tech.resolved") and resolved.pending_action is None
    assert orch.traces(conv)[-1]["stack"] == [] and _tickets(db_engine) == []


def test_a_ticket_asked_for_mid_flow_is_proposed_and_a_decline_writes_nothing(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "통화가 자꾸 끊겨요")
    asked = orch.handle(conv, "기사 점검 접수해 주세요")
    assert asked.reply.startswith(say("tech.exhausted")) and _tools(asked, "proposed") == ["create_ticket"]
    assert asked.pending_action["calls"][0]["args"]["summary"] == "troubleshooting 'call_drops' exhausted without resolution"
    declined = orch.handle(conv, "아니요")
    assert "create_ticket" not in _tools(declined) and _tickets(db_engine) == []


def test_another_request_leaves_the_flow_and_is_served(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터가 안 돼요")
    other = orch.handle(conv, "이번 달 요금 알려주세요")
    assert other.intents == ["billing.inquiry"] and "61,200원" in other.reply
    assert _step("mobile_data", 1) not in other.reply
    after = orch.handle(conv, "아니요")  # the flow is over: a bare no answers nothing now
    assert _step("mobile_data", 1) not in after.reply


# -- the symptom and the line --------------------------------------------------------------------------------------
def test_the_symptom_is_asked_when_the_request_names_none(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "휴대폰이 이상해요")
    assert asked.reply == ("어떤 증상이 있으신지 알려 주세요. (예: 전화가 안 돼요, 데이터가 안 돼요, 사진 문자가 안 가요, "
                           "통화가 자주 끊겨요, 유심 잠김)")
    assert "check_line_diagnostics" not in _tools(asked)
    assert orch.handle(conv, "네").reply == asked.reply  # a bare yes is no symptom: asked again
    mms = orch.handle(conv, "사진 문자가 안 보내져요")
    assert mms.reply == "\n".join([say("tech.network_ok", last4="3333"), _step("mms", 0)])
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "휴대폰이 이상해요")
    billed = orch.handle(conv, "이번 달 요금 알려주세요")  # no symptom: a new request
    assert billed.intents == ["billing.inquiry"] and "61,200원" in billed.reply


def test_the_line_is_asked_when_the_customer_has_several(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    with session_scope(db_engine) as s:
        s.add(Line(id="L1B", customer_id="C1", number="010-2222-4444", plan_id="P-5G-59", status="active"))
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "데이터가 안 돼요")
    assert "어느 회선" in asked.reply and "끝자리 3333" in asked.reply and "끝자리 4444" in asked.reply
    started = orch.handle(conv, "4444요")
    assert started.reply == "\n".join([say("tech.network_ok", last4="4444"), _step("mobile_data", 0)])
    assert next(c.args for c in started.tool_calls if c.name == "check_line_diagnostics") == {"line_id": "L1B"}


def test_identity_comes_first(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation()
    asked = orch.handle(conv, "데이터가 안 돼요")
    assert asked.reply == say("identity.ask") and "check_line_diagnostics" not in _tools(asked)
    verified = orch.handle(conv, "010-2222-3333 1990-04-12")
    assert verified.reply.endswith(_step("mobile_data", 0)) and "check_line_diagnostics" in _tools(verified)


# -- the network side first ------------------------------------------------------------------------------------------
def test_a_suspended_line_is_explained_with_its_reason_and_the_overdue_total(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    with session_scope(db_engine) as s:  # a second overdue bill: the total is a sum computed in code
        s.add(Bill(id="B2B", customer_id="C2", line_id="L2", period="2026-08", due_date=dt.date(2026, 9, 25),
                   amount=10500, status="overdue", items=[{"name": "월정액", "amount": 10500}]))
    reply = orch.handle(orch.start_conversation(customer_id="C2"), "전화가 안 돼요")
    assert reply.reply == "\n".join([say("tech.found.line_suspended", reason=say("line.reasons.nonpayment")),
                                     say("tech.found.overdue_bill", amount="99,500원")])
    assert reply.verifier.passed and reply.pending_action is None  # 99,500 is stated by no tool: a computed fact
    _line(db_engine, "L1", status="suspended", suspend_reason=None)
    no_reason = orch.handle(orch.start_conversation(customer_id="C1"), "전화가 안 돼요")
    assert no_reason.reply == say("tech.found.line_suspended", reason="")


def test_a_lost_line_and_an_overdue_bill_of_an_active_line(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    _line(db_engine, "L1", status="lost", suspend_reason="lost")
    lost = orch.handle(orch.start_conversation(customer_id="C1"), "전화가 안 돼요")
    assert lost.reply == say("tech.found.line_lost")
    _line(db_engine, "L1", status="active", suspend_reason=None)
    with session_scope(db_engine) as s:
        s.get(Bill, "B1").status = "overdue"
    overdue = orch.handle(orch.start_conversation(customer_id="C1"), "사진 문자가 안 가요")
    assert overdue.reply == say("tech.found.overdue_bill", amount="61,200원") and overdue.verifier.passed
    slow = orch.handle(orch.start_conversation(customer_id="C1"), "데이터가 너무 느려요")  # not a check of slow_data
    assert _step("slow_data", 0) in slow.reply


def test_an_outage_in_the_area_with_and_without_its_expected_end(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    with session_scope(db_engine) as s:
        s.get(Customer, "C1").address = "서울 강남구 테헤란로 152"
        s.add(Outage(id="O1", area="서울 강남구", service="all", started_at=dt.datetime(2026, 11, 15, 7, 30),
                     expected_end=dt.datetime(2026, 11, 15, 18, 0), description="기지국 장비 교체"))
    reply = orch.handle(orch.start_conversation(customer_id="C1"), "전화가 안 돼요")
    expected = say("tech.found.outage_expected", when="2026년 11월 15일 18시 00분")
    assert reply.reply == say("tech.found.outage_in_area", area="서울 강남구", expected=expected)
    assert reply.verifier.passed
    with session_scope(db_engine) as s:
        s.get(Outage, "O1").expected_end = None
    open_ended = orch.handle(orch.start_conversation(customer_id="C1"), "통화가 자꾸 끊겨요")
    assert open_ended.reply == say("tech.found.outage_in_area", area="서울 강남구", expected="")
    mms = orch.handle(orch.start_conversation(customer_id="C1"), "사진 문자가 안 가요")  # not a check of mms
    assert mms.reply.endswith(_step("mms", 0))


def test_a_reached_data_cap_states_the_speed(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    _line(db_engine, "L1", data_used_gb=12.5)
    reply = orch.handle(orch.start_conversation(customer_id="C1"), "데이터가 너무 느려요")
    assert reply.reply == say("tech.found.data_cap_reached", speed=speed(1000)) and reply.verifier.passed
    assert "refill_data" not in _tools(reply, "proposed")


def test_mms_not_provisioned_proposes_a_ticket(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    _line(db_engine, "L1", mms_enabled=False)
    conv = orch.start_conversation(customer_id="C1")
    proposed = orch.handle(conv, "사진 문자가 안 보내져요")
    assert proposed.reply.startswith("\n".join([say("tech.found.mms_disabled"), say("tech.mms_ticket")]))
    assert proposed.reply.count("?") == 1  # the proposal asks already: only how to answer is added
    assert proposed.pending_action["calls"] == [{"tool": "create_ticket", "args": {
        "category": "tech_support", "summary": "MMS not provisioned on line; customer cannot send MMS",
        "line_id": "L1"}}]
    done = orch.handle(conv, "네")
    assert _tickets(db_engine) == [("MMS not provisioned on line; customer cannot send MMS", "L1", "tech_support")]
    assert done.reply.startswith("점검 요청(접수번호 T-") and done.verifier.passed


@pytest.mark.parametrize("text", ["지금 일본인데 데이터가 안 돼요", "해외 출장 중인데 전화가 안 돼요"])
def test_abroad_with_roaming_off_is_said_so(db_engine, text: str) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    reply = orch.handle(orch.start_conversation(customer_id="C1"), text)
    assert reply.reply == say("tech.found.roaming_off") and reply.pending_action is None
    assert "enable_roaming" not in _tools(reply, "proposed")
    _line(db_engine, "L1", roaming_enabled=True)  # roaming on: the device steps
    on = orch.handle(orch.start_conversation(customer_id="C1"), text)
    assert on.reply.startswith(say("tech.network_ok", last4="3333"))


# -- other requests of the same message --------------------------------------------------------------------------------
def test_a_device_step_does_not_hold_up_the_other_requests_of_the_message(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    both = orch.handle(conv, "인터넷이 안 되는데 이번 달 요금 알려주세요")
    assert both.intents == ["tech.troubleshoot", "billing.inquiry"]
    assert _step("mobile_data", 0) in both.reply and "61,200원" in both.reply
    assert orch.handle(conv, "아니요").reply == _step("mobile_data", 1)  # the device step is still answered
    conv = orch.start_conversation(customer_id="C1")
    refill = orch.handle(conv, "인터넷이 안 되고 데이터 2기가 충전해 주세요")
    assert _step("mobile_data", 0) in refill.reply and _tools(refill, "proposed") == ["refill_data"]
    assert "refill_data" in _tools(orch.handle(conv, "네"))
    assert orch.handle(conv, "아니요").reply == _step("mobile_data", 1)
    conv = orch.start_conversation(customer_id="C1")
    human = orch.handle(conv, "인터넷이 안 되는데 상담사 연결해 주세요")
    assert _step("mobile_data", 0) in human.reply and "transfer_to_human" in _tools(human)


# -- no separate troubleshooting mechanism ---------------------------------------------------------------------------
def test_no_troubleshooting_state_and_old_stored_states_still_load() -> None:
    assert "troubleshoot" not in Frame.model_fields and "troubleshoot" not in ConversationState.model_fields
    flow = {"flow": "mobile_data", "line_id": "L1", "step_index": 1}
    legacy = ConversationState.model_validate({"turn_index": 2, "pending": None, "awaiting": None, "queue": [],
                                               "troubleshoot": flow, "verified_customer_id": "C1"})
    assert legacy.stack == [] and "troubleshoot" not in legacy.model_dump(mode="json")
    stacked = ConversationState.model_validate({"turn_index": 2, "troubleshoot": flow, "stack": [
        {"intent": "tech.troubleshoot", "troubleshoot": flow},
        {"intent": "billing.inquiry", "awaiting": {"kind": "slot", "slot": "line"}}]})
    assert [f.intent for f in stacked.stack] == ["tech.troubleshoot", "billing.inquiry"]
    assert stacked.awaiting.slot == "line" and stacked.stack[0].idle()  # the old flow waits for nothing
    stacked.prune()
    assert [f.intent for f in stacked.stack] == ["billing.inquiry"]


def test_the_console_summary_reads_the_device_step_as_the_open_question(db_engine) -> None:  # noqa: ANN001
    from sangdam.contact_center.summary import _open_question

    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터가 안 돼요")
    _, state = orch.store.load(conv)
    assert state.awaiting.kind == "slot" and state.awaiting.slot == "troubleshoot"
    assert _open_question(state.model_dump(mode="json")) == ("기기 점검 결과", "tech.troubleshoot")


# -- the Python parts: parsing and selecting --------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("해결됐어요", "resolved"), ("이제 돼요", "resolved"), ("됐어요", "resolved"),
    ("아니요", "not_resolved"), ("그래도 안 돼요", "not_resolved"), ("네", "not_resolved"),
    ("네 해봤어요", "not_resolved"), ("점검 접수해 주세요", "ticket"), ("기사님 불러주세요", "ticket"),
    ("이것도 소용없네요. 점검 접수해 주세요", "ticket"), ("이번 달 요금 알려주세요", None),
])
def test_fix_result_reads_the_answer_to_a_device_step(text: str, expected: str | None) -> None:
    assert fix_result(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("유심이 잠겼어요", "usim_pin"), ("사진 문자가 안 가요", "mms"), ("데이터가 너무 느려요", "slow_data"),
    ("인터넷이 안 돼요", "mobile_data"), ("통화가 자꾸 끊겨요", "call_drops"), ("전화가 안 돼요", "no_service"),
    ("지금 일본인데 안 돼요", "mobile_data"), ("휴대폰이 이상해요", None),
])
def test_pick_flow_by_trigger_words(text: str, expected: str | None) -> None:
    assert pick_flow(text) == expected


def test_runner_options_are_checked_when_the_file_loads() -> None:
    with pytest.raises(ProcedureError, match="holds does not apply to a 'say' step"):
        compile_procedure({"procedure": "p", "description_ko": "설명", "steps": [{"say": "안녕하세요", "holds": False}]}, "p.yaml")
    nested = {"template": "tech.found.outage_in_area", "args": {"area": "{diag.outages.0.area}", "expected": {
        "template": "tech.found.outage_expected", "args": {"when": "{found.outage_expected_at}"}}}}
    assert isinstance(Template.model_validate(nested).args["expected"], Template)  # a template as a value
    nested["args"]["expected"]["template"] = "tech.found.nothing_like_it"
    with pytest.raises(ValueError, match="no template of templates/ko.yaml"):
        Template.model_validate(nested)
