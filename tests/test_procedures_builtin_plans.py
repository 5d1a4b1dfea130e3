"""plan.info, plan.recommend and plan.change run from packaged YAML procedures (resources/procedures/plan_info.yaml,
plan_recommend.yaml, plan_change.yaml; ``serves:``): the plans agent has no Python class any more, its intents keep
the agent name ``plans``, and the computation (which plans a request names, the recommendation from the usage and
contract results, the switch cost, when a change applies) is Python in ``sangdam.procedures.functions.plans``.

Routes are pinned (``PinnedRouter``) so each test names the intents its messages go to; the replies are the ones
the Python agent gave (the same templates of templates/ko.yaml)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sangdam.agents.base import AgentContext
from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.domain.models import Line
from sangdam.orchestrator import Orchestrator
from sangdam.orchestrator.blackboard import Blackboard, MissingResult, StepResult
from sangdam.orchestrator.format import say
from sangdam.orchestrator.intents import agent_for
from sangdam.orchestrator.planner import blocked_message
from sangdam.orchestrator.router import RouteResult
from sangdam.orchestrator.state import ConversationState, Step
from sangdam.procedures import ProcedureError
from sangdam.procedures.loader import check_tools, compile_procedure, load_procedures
from sangdam.procedures.runner import ProcedureBackedAgent

TODAY = dt.date(2026, 11, 15)


def _usage(line_id: str | None, mb: int = 1500) -> list[dict[str, Any]]:
    return [{"line_id": line_id, "date": f"2026-{m:02d}-{d:02d}", "data_mb": mb} for m in (8, 9, 10) for d in (10, 20)]


FIXTURES = {
    "plans": [
        {"id": "P-5G-LITE", "name": "5G 라이트", "network": "5G", "monthly_fee": 45000, "data_gb": 6,
         "throttle_kbps": 400, "refill_price_per_gb": 2750},
        {"id": "P-5G-STD", "name": "5G 스탠다드", "network": "5G", "monthly_fee": 69000, "data_gb": 110,
         "throttle_kbps": 5000, "refill_price_per_gb": 0, "description": "넉넉한 5G. 기본 데이터 110GB, 소진 후 최대 5Mbps."},
        {"id": "P-5G-PREM", "name": "5G 프리미엄", "network": "5G", "monthly_fee": 89000, "data_gb": None,
         "throttle_kbps": None, "refill_price_per_gb": 0, "description": "무제한 데이터."},
    ],
    "customers": [
        # a light user on a selective-discount contract: cheaper plans fit, each costs the 66,750원 payback
        {"id": "C13", "name": "문가은", "birth_date": "1968-02-14", "phone": "010-1313-4545",
         "lines": [{"id": "L13", "number": "010-1313-4545", "plan_id": "P-5G-PREM", "status": "active",
                    "data_used_gb": 1.8, "contract_kind": "selective_discount", "contract_start": "2026-08-01",
                    "contract_end": "2028-07-31", "monthly_discount": 22250}],
         "usage_daily": _usage(None)},
        # two lines: a heavy user on 5G 스탠다드 (it fits) and one on 5G 라이트 that needs more data
        {"id": "C20", "name": "김하늘", "birth_date": "1990-04-12", "phone": "010-2222-3333",
         "lines": [{"id": "L21", "number": "010-2222-3333", "plan_id": "P-5G-LITE", "status": "active"},
                   {"id": "L22", "number": "010-2222-4444", "plan_id": "P-5G-STD", "status": "active"}],
         "usage_daily": _usage("L21", 5000) + _usage("L22", 40000)},
    ],
}
IDENTITY_C13 = "010-1313-4545, 1968년 2월 14일이요"


class PinnedRouter:
    """Routes by keywords (first match wins); a pointer ("그걸로", "똑같이") has no confident task of its own."""

    RULES = {"추천": "plan.recommend", "바꿔": "plan.change", "변경": "plan.change", "요금제": "plan.info",
             "얼마": "plan.info"}

    def route(self, text: str) -> RouteResult:
        if "그걸로" in text or "똑같이" in text:
            return RouteResult(intents=["chitchat"], confidence=0.3, via="classifier")
        for word, intent in self.RULES.items():
            if word in text:
                return RouteResult(intents=[intent], confidence=0.95, via="classifier")
        return RouteResult(intents=["chitchat"], confidence=0.95, via="classifier")


@pytest.fixture
def orch(db_engine) -> Orchestrator:  # noqa: ANN001
    with session_scope(db_engine) as s:
        load_fixtures(s, FIXTURES)
    return Orchestrator(db_engine, today=TODAY, router=PinnedRouter())


def _tools(reply: Any, status: str = "ok") -> list[str]:
    return [c.name for c in reply.tool_calls if c.status == status]


def _plan_of(engine, line_id: str) -> tuple[str, str | None]:  # noqa: ANN001
    with session_scope(engine) as s:
        line = s.get(Line, line_id)
        return line.plan_id, line.pending_plan_id


# -- the plans agent is data --------------------------------------------------------------------------------------
def test_the_plans_intents_run_from_yaml_under_the_plans_agent(orch: Orchestrator) -> None:
    with pytest.raises(ModuleNotFoundError):
        __import__("sangdam.agents.plans")
    agent = orch.agents["plans"]
    assert isinstance(agent, ProcedureBackedAgent)
    assert {i: a.procedure for i, a in agent.by_intent.items()} == {
        "plan.info": "plan_info", "plan.recommend": "plan_recommend", "plan.change": "plan_change"}
    assert all(agent_for(i) == "plans" for i in ("plan.info", "plan.recommend", "plan.change"))  # the contract
    programs = load_procedures()
    for name in ("plan_info", "plan_recommend", "plan_change"):
        check_tools(programs[name])  # every tool the files name exists, reads called, the write proposed
    # the allow-lists: what each procedure names, its functions and extractors declare, and nothing else
    assert set(agent.by_intent["plan.info"].tools) == {"list_plans", "get_line", "list_lines"}
    assert set(agent.by_intent["plan.recommend"].tools) == {"recommend_plans"}
    assert set(agent.by_intent["plan.change"].tools) == {"change_plan", "list_lines", "list_plans"}
    conv = orch.start_conversation(customer_id="C13")
    proposed = orch.handle(conv, "5G 라이트로 바꿔 주세요")
    assert proposed.pending_action["agent"] == "plans" and "_procedure" in proposed.pending_action["step"]["slots"]
    assert proposed.pending_action["step"]["slots"]["_procedure"]["name"] == "plan_change"


# -- plan.info ----------------------------------------------------------------------------------------------------
def test_plan_info_lists_the_catalogue_without_identity(orch: Orchestrator) -> None:
    reply = orch.handle(orch.start_conversation(), "요금제 종류 알려주세요")
    assert reply.reply.split("\n") == [
        say("plans.list_header"),
        "- 5G 라이트 (5G): 월 45,000원, 데이터 6GB",
        "- 5G 스탠다드 (5G): 월 69,000원, 데이터 110GB",
        "- 5G 프리미엄 (5G): 월 89,000원, 데이터 무제한"]
    assert _tools(reply) == ["list_plans", "list_plans"] and reply.verifier.passed  # (names read, then listed)
    assert reply.verified_customer_id is None


def test_plan_info_details_of_the_named_plans_without_identity_even_about_me(orch: Orchestrator) -> None:
    """Named plans: their details (the description less what the detail text says already; the throttle speed
    when the plan has one), at most two, no identity asked even when the request says "제가"."""
    one = orch.handle(orch.start_conversation(), "제가 5G 스탠다드 쓰면 얼마예요?")
    assert one.reply == ("5G 스탠다드는 5G 요금제로 월 69,000원, 기본 데이터 110GB입니다. 넉넉한 5G. "
                         "기본 데이터 소진 후에는 최대 5Mbps 속도로 계속 이용하실 수 있습니다.")
    assert "본인 확인" not in one.reply and one.verifier.passed
    two = orch.handle(orch.start_conversation(), "5G 프리미엄이랑 5G 라이트 요금제 차이")
    assert two.reply.split("\n") == [
        "5G 프리미엄은 5G 요금제로 월 89,000원, 기본 데이터 무제한입니다.",  # ("무제한 데이터." restates it)
        "5G 라이트는 5G 요금제로 월 45,000원, 기본 데이터 6GB입니다. 기본 데이터 소진 후에는 최대 400kbps 속도로 계속 이용하실 수 있습니다."]


def test_plan_info_about_my_plan_asks_identity_then_which_line_and_says_a_pending_change(orch: Orchestrator,
                                                                                         db_engine) -> None:  # noqa: ANN001
    with session_scope(db_engine) as s:
        line = s.get(Line, "L22")
        line.pending_plan_id, line.pending_plan_effective_date = "P-5G-LITE", dt.date(2026, 12, 1)
    conv = orch.start_conversation()
    asked = orch.handle(conv, "제 요금제 뭐예요?")
    assert say("identity.ask") in asked.reply and _tools(asked) == ["list_plans"]  # (does it name a plan?)
    which = orch.handle(conv, "010-2222-3333 1990년 4월 12일이요")
    assert "어느 회선" in which.reply and "끝자리 4444 (5G 스탠다드)" in which.reply
    assert orch.store.load(conv)[1].awaiting.slot == "line"
    answered = orch.handle(conv, "4444요")
    assert answered.reply.split("\n") == [
        say("plans.current", name="5G 스탠다드", fee="69,000원", data="110GB"),
        say("plans.pending", name="5G 라이트", date="2026년 12월 1일")]
    assert answered.verifier.passed
    # a verified customer without "my": the catalogue
    listed = orch.handle(orch.start_conversation(customer_id="C13"), "요금제 종류 알려주세요")
    assert listed.reply.startswith(say("plans.list_header"))


def test_plan_info_identity_is_decided_from_the_request(orch: Orchestrator) -> None:
    agent = orch.agents["plans"]
    board = Blackboard()
    ctx = AgentContext(engine=orch.engine, today=TODAY, conversation_id="t", state=ConversationState(),
                       text="", blackboard=board, tool_calls=[], mask=lambda s: s, backend=orch.backend)
    ctx.allowed = frozenset(agent.tools)

    def needs(text: str, intent: str = "plan.info") -> bool:
        return agent.needs_identity(Step(agent="plans", intent=intent, text=text), ctx)

    assert needs("제 요금제 뭐예요?") and needs("지금 쓰는 요금제 알려줘")
    assert not needs("요금제 뭐 있어요?") and not needs("제가 5G 라이트 쓰면 얼마예요?")
    assert needs("요금제 추천해 주세요", "plan.recommend") and needs("5G 라이트로 바꿔 주세요", "plan.change")


# -- plan.recommend -----------------------------------------------------------------------------------------------
def test_plan_recommend_cheaper_plans_with_the_switch_cost_then_that_one_is_taken_up(orch: Orchestrator,
                                                                                     db_engine) -> None:  # noqa: ANN001
    conv = orch.start_conversation()
    orch.handle(conv, "요금제 추천해 주세요")
    rec = orch.handle(conv, IDENTITY_C13)
    lines = rec.reply.split("\n")
    assert lines[1:] == [
        say("plans.usage_basis", avg="2.93GB", max="2.93GB"),
        say("plans.recommend_header"),
        "- 5G 라이트: 월 45,000원, 데이터 6GB (현재보다 월 44,000원 절약)",
        say("plans.switch_cost", cost="66,750원"),
        "- 5G 스탠다드: 월 69,000원, 데이터 110GB (현재보다 월 20,000원 절약)",
        say("plans.switch_cost", cost="66,750원"),
        say("plans.recommend_change_hint")]
    assert rec.verifier.passed
    steps = orch.traces(conv)[-1]["plan"]
    assert [(s["intent"], s["status"]) for s in steps] == [
        ("data.usage", "ok"), ("contract.info", "ok"), ("plan.recommend", "ok")]
    assert steps[-1]["tools"] == ["recommend_plans"]  # usage and contract are the steps' it depends on
    state = orch.store.load(conv)[1]
    assert state.last_recommended == ["P-5G-LITE", "P-5G-STD"]
    taken = orch.handle(conv, "그걸로 해 주세요")  # the recommendation's first plan
    assert taken.pending_action["calls"][0]["args"] == {"line_id": "L13", "plan_id": "P-5G-LITE",
                                                        "effective": "next_cycle"}
    assert "할인 반환금 66,750원" in taken.reply  # the contract's effect, from the tool's preview
    done = orch.handle(conv, "네")
    assert done.reply.split("\n") == [
        say("plans.changed_next", new="5G 라이트", date="2026년 12월 1일"),
        say("plans.switch_cost_charged", amount="66,750원")]
    assert _plan_of(db_engine, "L13") == ("P-5G-PREM", "P-5G-LITE") and done.verifier.passed


def test_plan_recommend_more_data_and_fits_already(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C20")
    orch.handle(conv, "요금제 추천해 주세요")
    more = orch.handle(conv, "3333요")  # 5G 라이트, ~9.8GB a month: plans with more data, at an extra cost
    assert say("plans.recommend_more_data") in more.reply
    assert "- 5G 스탠다드: 월 69,000원, 데이터 110GB (현재보다 월 24,000원 추가)" in more.reply
    assert "반환금" not in more.reply and more.verifier.passed
    assert orch.store.load(conv)[1].last_recommended[0] == "P-5G-STD"
    conv2 = orch.start_conversation(customer_id="C20")
    orch.handle(conv2, "요금제 추천해 주세요")
    fits = orch.handle(conv2, "4444요")  # 5G 스탠다드, ~78GB: it fits and nothing cheaper does
    assert fits.reply.split("\n")[-1] == say("plans.fits_already", name="5G 스탠다드")
    assert orch.store.load(conv2)[1].last_recommended == []


def _agent_ctx(orch: Orchestrator, board: Blackboard) -> AgentContext:
    ctx = AgentContext(engine=orch.engine, today=TODAY, conversation_id="t",
                       state=ConversationState(verified_customer_id="C13"), text="요금제 추천해 주세요",
                       blackboard=board, tool_calls=[], mask=lambda s: s, backend=orch.backend)
    ctx.allowed = frozenset(orch.agents["plans"].tools)
    return ctx


def test_the_recommendation_is_produced_from_the_running_steps_inputs(orch: Orchestrator) -> None:
    """The runner gives functions the running step (``ctx.step``): ``recommend`` reads the results of its
    ``depends_on`` steps and produces the step's result (its line, average and peak, switch cost per plan)."""
    board = Blackboard()
    ctx = _agent_ctx(orch, board)
    ctx.allowed = frozenset({"get_data_usage", "get_contract"})  # the inputs, as the steps before it produce them
    board.record_step(0, StepResult("data.usage", "ok", ctx.call("get_data_usage", line_id="L13").model_dump(mode="json")))
    board.record_step(1, StepResult("contract.info", "ok", ctx.call("get_contract", line_id="L13").model_dump(mode="json")))
    ctx.allowed = frozenset(orch.agents["plans"].tools)
    before = len(ctx.tool_calls)
    step = Step(agent="plans", intent="plan.recommend", depends_on=[0, 1])
    outcome = orch.agents["plans"].handle(step, ctx)
    assert ctx.step is step  # set by the runner
    assert [c.name for c in ctx.tool_calls[before:]] == ["recommend_plans"]
    produced = board.produced["plan.recommend"]
    assert {k: produced[k] for k in ("line_id", "avg_monthly_gb", "max_monthly_gb", "switch_cost_krw")} == {
        "line_id": "L13", "avg_monthly_gb": 2.93, "max_monthly_gb": 2.93,
        "switch_cost_krw": {"P-5G-LITE": 66750, "P-5G-STD": 66750}}
    assert outcome.messages[0] == say("plans.usage_basis", avg="2.93GB", max="2.93GB")


def test_the_recommendation_never_runs_on_a_missing_or_mismatched_input(orch: Orchestrator) -> None:
    board = Blackboard()
    board.record_step(0, StepResult("data.usage", "failed"))
    ctx = _agent_ctx(orch, board)
    step = Step(agent="plans", intent="plan.recommend", depends_on=[0, 1])
    with pytest.raises(MissingResult) as err:  # the step fails (the engine says the blocked message)
        orch.agents["plans"].handle(step, ctx)
    assert err.value.message_ko == blocked_message("plan.recommend") and ctx.tool_calls == []
    board = Blackboard()  # usage of one line, the contract of another: neither fits the other
    ctx = _agent_ctx(orch, board)
    ctx.allowed = frozenset({"get_data_usage", "get_contract"})
    board.record_step(0, StepResult("data.usage", "ok", ctx.call("get_data_usage", line_id="L13").model_dump(mode="json")))
    board.record_step(1, StepResult("contract.info", "ok", {
        **ctx.call("get_contract", line_id="L13").model_dump(mode="json"), "line_id": "L21"}))
    ctx.allowed = frozenset(orch.agents["plans"].tools)
    before = len(ctx.tool_calls)
    with pytest.raises(MissingResult):
        orch.agents["plans"].handle(step, ctx)
    assert ctx.tool_calls[before:] == []


# -- plan.change --------------------------------------------------------------------------------------------------
def test_plan_change_immediate_with_a_credit_and_the_payback_then_the_same_plan_is_refused(orch: Orchestrator,
                                                                                          db_engine) -> None:  # noqa: ANN001
    conv = orch.start_conversation(customer_id="C13")
    proposed = orch.handle(conv, "5G 라이트로 바로 바꿔 주세요")
    assert proposed.pending_action["calls"][0]["args"] == {"line_id": "L13", "plan_id": "P-5G-LITE",
                                                           "effective": "immediate"}
    assert "바로 변경합니다" in proposed.reply and "차감됩니다" in proposed.reply and "66,750원" in proposed.reply
    done = orch.handle(conv, "네")
    assert done.reply.split("\n") == [
        say("plans.changed_now", new="5G 라이트"),
        say("plans.prorated_credit", amount="23,467원"),
        say("plans.switch_cost_charged", amount="66,750원")]
    assert _tools(done).count("change_plan") == 1 and _plan_of(db_engine, "L13") == ("P-5G-LITE", None)
    assert done.verifier.passed
    same = orch.handle(orch.start_conversation(customer_id="C13"), "5G 라이트로 바꿔 주세요")
    assert "이미 5G 라이트 요금제를 사용하고 계십니다" in same.reply and same.pending_action is None
    up = orch.handle(conv, "5G 스탠다드로 지금 바로 바꿔 주세요")
    assert "반환금" not in up.reply  # a move up costs no payback
    assert orch.handle(conv, "네").reply.split("\n") == [
        say("plans.changed_now", new="5G 스탠다드"), say("plans.prorated_charge", amount="12,800원")]


def test_plan_change_asks_line_and_plan_and_a_correction_changes_when(orch: Orchestrator,
                                                                      db_engine) -> None:  # noqa: ANN001
    conv = orch.start_conversation(customer_id="C20")
    asked_line = orch.handle(conv, "요금제 변경해 주세요")
    assert "어느 회선" in asked_line.reply and orch.store.load(conv)[1].awaiting.slot == "line"
    asked_plan = orch.handle(conv, "3333이요")
    assert asked_plan.reply == say("plans.ask_plan", names="5G 라이트, 5G 스탠다드, 5G 프리미엄")
    proposed = orch.handle(conv, "5G 스탠다드로 바로요")  # the plan and, in the same answer, when
    assert proposed.pending_action["calls"][0]["args"] == {"line_id": "L21", "plan_id": "P-5G-STD",
                                                           "effective": "immediate"}
    corrected = orch.handle(conv, "아 아니 다음 달부터요")
    assert say("confirm.corrected") in corrected.reply
    assert corrected.pending_action["calls"][0]["args"] == {"line_id": "L21", "plan_id": "P-5G-STD",
                                                            "effective": "next_cycle"}
    plan = orch.handle(conv, "아 아니 5G 프리미엄으로요")
    assert plan.pending_action["calls"][0]["args"]["plan_id"] == "P-5G-PREM"
    done = orch.handle(conv, "네")
    assert done.reply == say("plans.changed_next", new="5G 프리미엄", date="2026년 12월 1일")
    assert _plan_of(db_engine, "L21") == ("P-5G-LITE", "P-5G-PREM")
    again = orch.handle(conv, "4444도 똑같이 해 주세요")  # the same change for the other line, same values
    assert again.pending_action["calls"][0]["args"] == {"line_id": "L22", "plan_id": "P-5G-PREM",
                                                        "effective": "next_cycle"}


# -- the runner features the plans procedures use -----------------------------------------------------------------
def _compile(extra: dict[str, Any]) -> Any:
    doc = {"procedure": "t", "description_ko": "테스트", **extra}
    return compile_procedure(doc, "t.yaml", functions={"mentions_own_plan"})


@pytest.mark.parametrize(("doc", "expected"), [
    ({"identity": "when", "steps": [{"end": True}]}, "identity: when and identity_when"),
    ({"identity_when": "mentions_own_plan", "steps": [{"end": True}]}, "identity: when and identity_when"),
    ({"identity": "when", "identity_when": "nope", "steps": [{"end": True}]}, "unknown function 'nope'"),
    ({"steps": [{"say": "안녕하세요", "adds_to_request": True}]}, "adds_to_request does not apply to a 'say' step"),
    ({"steps": [{"say": "안녕하세요", "when": {"equals": 1}}]}, "when: the condition needs 'on'"),
    ({"steps": [{"call": "list_plans", "when": {"on": "x", "equals": 1}}]}, "when does not apply to a 'call' step"),
])
def test_the_new_step_options_are_checked(doc: dict[str, Any], expected: str) -> None:
    with pytest.raises(ProcedureError, match=expected):
        _compile(doc)


def test_identity_when_and_a_text_list_compile() -> None:
    program = _compile({"identity": "when", "identity_when": "mentions_own_plan", "steps": [
        {"say": [{"template": "plans.list_header"}, "{x|optional}"], "when": {"on": "x", "empty": False}}]})
    assert program.identity == "when" and program.identity_when == "mentions_own_plan"
    assert "mentions_own_plan" in program.functions
