"""The planner and the engine's use of ``depends_on``: a step runs after the steps whose results it needs, reads
them from the blackboard, waits with them, and says plainly what it could not do when one failed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sangdam.agents.base import AgentContext
from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.orchestrator import Orchestrator
from sangdam.orchestrator.blackboard import Blackboard, MissingResult, StepResult
from sangdam.orchestrator.followups import READ_ONLY_INTENTS
from sangdam.orchestrator.planner import PlanTableError, blocked_message, check_table, link, needs, plan
from sangdam.orchestrator.state import ConversationState, Step
from sangdam.tools.base import ToolError

TODAY = dt.date(2026, 11, 15)
RECOMMEND = "plan.recommend"


def _shape(steps: list[Step]) -> list[tuple[str, bool, list[int]]]:
    return [(s.intent, s.silent, s.depends_on) for s in steps]


# -- the plan ---------------------------------------------------------------------------------------------------
def test_needed_steps_come_first_silently_and_depends_on_points_at_them():
    assert _shape(plan([RECOMMEND], "요금제 추천해 주세요")) == [
        ("data.usage", True, []), ("contract.info", True, []), (RECOMMEND, False, [0, 1])]


def test_a_needed_step_the_customer_asked_for_later_is_moved_up_and_speaks():
    steps = plan(["billing.inquiry", RECOMMEND, "data.usage"], "요금 알려 주고 요금제 추천하고 사용량도 알려 줘")
    assert _shape(steps) == [
        ("billing.inquiry", False, []),  # the customer's order otherwise
        ("data.usage", False, []),  # asked for: not silent, and only once
        ("contract.info", True, []),
        (RECOMMEND, False, [1, 2]),
    ]


def test_duplicates_merge():
    steps = plan(["data.usage", RECOMMEND, "data.usage", RECOMMEND, "contract.info"], "...")
    assert _shape(steps) == [("data.usage", False, []), ("contract.info", False, []), (RECOMMEND, False, [0, 1])]
    # two clauses asking for the same kind of thing differently are two steps; their needed steps still merge
    two = link([Step(agent="data", intent="data.refill", text="2기가 충전"),
                Step(agent="data", intent="data.refill", text="내일 또 1기가 충전"),
                Step(agent="plans", intent=RECOMMEND, text="추천"), Step(agent="plans", intent=RECOMMEND, text="추천")])
    assert [s.intent for s in two] == ["data.refill", "data.refill", "data.usage", "contract.info", RECOMMEND]


def test_link_recomputes_a_queue_from_an_earlier_turn():
    """A queue keeps the dependent; its needed steps ran in an earlier turn (another blackboard): added again,
    silently, and a silent step nothing needs any more is dropped."""
    queued = [Step(agent="plans", intent=RECOMMEND, depends_on=[7, 9], slots={"line_id": "L1"}),
              Step(agent="billing", intent="billing.inquiry", depends_on=[0]),
              Step(agent="contract", intent="contract.info", silent=True, slots={"line_id": "L2"})]
    steps = link(queued)
    assert _shape(steps) == [("data.usage", True, []), ("contract.info", True, []), (RECOMMEND, False, [0, 1]),
                             ("billing.inquiry", False, [])]
    assert all(s.slots == {"line_id": "L1"} for s in steps[:3])  # about the dependent's line, not L2's
    assert queued[0].depends_on == [7, 9]  # the caller's steps are not changed


def test_the_table_is_declared_read_only_and_acyclic():
    assert needs(RECOMMEND) == ("data.usage", "contract.info")
    assert blocked_message(RECOMMEND)
    with pytest.raises(PlanTableError, match="cycle"):
        check_table({"data.usage": {"needs": ["plan.recommend"], "blocked": "x"},
                     "plan.recommend": {"needs": ["data.usage"], "blocked": "x"}})
    with pytest.raises(PlanTableError, match="blocked"):
        check_table({"plan.recommend": {"needs": ["data.usage"]}})
    from sangdam.orchestrator.planner import _table

    for intent, entry in _table().items():  # a needed step is a read: rerunning it in a later turn is harmless
        assert set(entry["needs"]) <= READ_ONLY_INTENTS, intent


# -- the orchestrator ---------------------------------------------------------------------------------------------
def _usage(line_id: str | None, mb: int = 1500) -> list[dict[str, Any]]:
    return [{"line_id": line_id, "date": f"2026-{m:02d}-{d:02d}", "data_mb": mb} for m in (8, 9, 10) for d in (10, 20)]


FIXTURES = {
    "plans": [
        {"id": "P-5G-LITE", "name": "5G 라이트", "network": "5G", "monthly_fee": 45000, "data_gb": 6,
         "throttle_kbps": 400, "refill_price_per_gb": 2750},
        {"id": "P-5G-STD", "name": "5G 스탠다드", "network": "5G", "monthly_fee": 69000, "data_gb": 110,
         "throttle_kbps": 5000, "refill_price_per_gb": 0},
        {"id": "P-5G-PREM", "name": "5G 프리미엄", "network": "5G", "monthly_fee": 89000, "data_gb": None,
         "throttle_kbps": None, "refill_price_per_gb": 0},
    ],
    "customers": [
        # one line on a selective-discount contract: 22,250원 × 3 months received, paid back in full (≤ 6 months)
        {"id": "C13", "name": "문가은", "birth_date": "1968-02-14", "phone": "010-1313-4545",
         "lines": [{"id": "L13", "number": "010-1313-4545", "plan_id": "P-5G-PREM", "status": "active",
                    "data_used_gb": 1.8, "contract_kind": "selective_discount", "contract_start": "2026-08-01",
                    "contract_end": "2028-07-31", "monthly_discount": 22250}],
         "usage_daily": _usage(None)},
        # two lines: which one a recommendation is for must be asked
        {"id": "C20", "name": "김하늘", "birth_date": "1990-04-12", "phone": "010-2222-3333",
         "lines": [{"id": "L21", "number": "010-2222-3333", "plan_id": "P-5G-PREM", "status": "active"},
                   {"id": "L22", "number": "010-2222-4444", "plan_id": "P-5G-STD", "status": "active"}],
         "usage_daily": _usage("L21") + _usage("L22")},
    ],
}


@pytest.fixture
def orch(db_engine) -> Orchestrator:
    with session_scope(db_engine) as s:
        load_fixtures(s, FIXTURES)
    return Orchestrator(db_engine, today=TODAY)


def _plan(orch: Orchestrator, conv: str) -> list[dict[str, Any]]:
    return orch.traces(conv)[-1]["plan"]


def _step(trace_plan: list[dict[str, Any]], intent: str) -> dict[str, Any]:
    return next(s for s in trace_plan if s["intent"] == intent)


def test_the_recommendation_reads_the_usage_and_contract_its_steps_produced(orch):
    conv = orch.start_conversation(customer_id="C13")
    reply = orch.handle(conv, "요금제 추천해 주세요")
    assert "5G 라이트" in reply.reply and "66,750원" in reply.reply  # the scenario suite's numbers, unchanged
    assert reply.verifier.passed
    steps = _plan(orch, conv)
    assert [(s["intent"], s["depends_on"], s["status"]) for s in steps] == [
        ("data.usage", [], "ok"), ("contract.info", [], "ok"), (RECOMMEND, [0, 1], "ok")]
    # each fact is fetched once, by the step that owns it; the plans step fetches neither
    assert _step(steps, "data.usage")["tools"] == ["list_lines", "get_data_usage"]
    assert _step(steps, "contract.info")["tools"] == ["get_contract"]
    assert not {"get_data_usage", "get_contract", "get_line", "list_lines"} & set(_step(steps, RECOMMEND)["tools"])


def _agent_ctx(orch: Orchestrator, board: Blackboard) -> AgentContext:
    state = ConversationState(verified_customer_id="C13")
    ctx = AgentContext(engine=orch.engine, today=TODAY, conversation_id="t", state=state, text="요금제 추천해 주세요",
                       blackboard=board, tool_calls=[], mask=lambda s: s, backend=orch.backend)
    ctx.allowed = frozenset(orch.agents["plans"].tools)
    return ctx


def test_the_plans_agent_states_what_its_inputs_say_not_a_recomputation(orch):
    """Inputs differing from the database: the reply follows the inputs (the old agent recomputed both)."""
    board = Blackboard()
    usage = {"line_id": "L13", "plan_name": "5G 프리미엄", "period": "2026-11", "used_gb": 1.8, "plan_data_gb": None,
             "refill_gb": 0, "allowance_gb": None, "remaining_gb": None, "unlimited": True, "throttled": False,
             "throttle_kbps": None, "cycle_end": "2026-11-30", "days_left_in_cycle": 16, "refill_available_gb": 0,
             "last_months": [{"period": p, "data_gb": gb} for p, gb in (("2026-08", 2.5), ("2026-09", 3.5), ("2026-10", 3.0))]}
    contract = {"line_id": "L13", "contract_kind": "selective_discount", "contract_start": "2026-08-01",
                "contract_end": "2028-07-31", "months_elapsed": 3, "months_remaining": 20, "days_to_end": 624,
                "ends_within_30_days": False, "monthly_discount_krw": 22250, "device_model": None,
                "device_installment_left_krw": 0, "discount_payback_krw": 12345, "early_termination_total_krw": 12345,
                "as_of": "2026-11-15"}
    board.record_step(0, StepResult("data.usage", "ok", usage))
    board.record_step(1, StepResult("contract.info", "ok", contract))
    ctx = _agent_ctx(orch, board)
    outcome = orch.agents["plans"].handle(Step(agent="plans", intent=RECOMMEND, depends_on=[0, 1]), ctx)
    text = "\n".join(outcome.messages)
    assert "평균 데이터 사용량은 3GB(최대 3.5GB)" in text  # the months it was given
    assert "12,345원" in text and "66,750원" not in text  # the payback it was given
    assert [c.name for c in ctx.tool_calls] == ["recommend_plans"]


def test_the_plans_agent_never_runs_on_missing_inputs(orch):
    board = Blackboard()
    board.record_step(0, StepResult("data.usage", "failed"))
    ctx = _agent_ctx(orch, board)
    with pytest.raises(MissingResult) as err:
        orch.agents["plans"].handle(Step(agent="plans", intent=RECOMMEND, depends_on=[0, 1]), ctx)
    assert err.value.message_ko == blocked_message(RECOMMEND)
    assert ctx.tool_calls == []  # nothing fetched to make up for it


def test_a_failed_needed_step_stops_its_dependent_and_says_so(orch, monkeypatch):
    import sangdam.agents.base as base

    real = base.get_tool

    class Down:
        def __init__(self, tool: Any) -> None:
            self.tool = tool

        def run(self, ctx: Any, args: Any) -> Any:
            raise ToolError("backend_unavailable", "usage store down")

        def __getattr__(self, name: str) -> Any:
            return getattr(self.tool, name)

    monkeypatch.setattr(base, "get_tool", lambda name: Down(real(name)) if name == "get_data_usage" else real(name))
    conv = orch.start_conversation(customer_id="C13")
    reply = orch.handle(conv, "요금제 추천해 주세요")
    assert blocked_message(RECOMMEND) in reply.reply
    assert "연결되지 않아" in reply.reply  # why: the failed step's own message, though it was silent
    assert "recommend_plans" not in [c.name for c in reply.tool_calls]
    steps = _plan(orch, conv)
    assert [(s["intent"], s["status"]) for s in steps] == [("data.usage", "failed"), ("contract.info", "ok")]
    assert orch.store.load(conv)[1].queue == []  # nothing left waiting: it was said what could not be done


def test_a_needed_step_waiting_for_identity_holds_its_dependent_until_verified(orch):
    conv = orch.start_conversation()
    asked = orch.handle(conv, "요금제 추천해 주세요")
    assert "본인 확인" in asked.reply and asked.tool_calls == []
    queued = orch.store.load(conv)[1].queue
    assert [s.intent for s in queued] == ["data.usage", "contract.info", RECOMMEND]
    answered = orch.handle(conv, "010-1313-4545, 1968년 2월 14일이요")
    assert answered.verified_customer_id == "C13"
    assert "66,750원" in answered.reply
    assert [(s["intent"], s["status"]) for s in _plan(orch, conv)] == [
        ("data.usage", "ok"), ("contract.info", "ok"), (RECOMMEND, "ok")]


def test_a_needed_step_asking_which_line_is_heard_and_its_dependent_waits(orch):
    """The silent usage step asks which line (the old engine swallowed the question and answered with the
    fallback); the recommendation waits in the queue and then runs for that line, without asking again."""
    conv = orch.start_conversation(customer_id="C20")
    asked = orch.handle(conv, "요금제 추천해 주세요")
    assert "어느 회선" in asked.reply and "끝자리 4444" in asked.reply
    assert "recommend_plans" not in [c.name for c in asked.tool_calls]
    state = orch.store.load(conv)[1]
    assert state.awaiting.step.intent == "data.usage"
    assert [s.intent for s in state.queue] == ["contract.info", RECOMMEND]
    answered = orch.handle(conv, "4444요")
    assert "5G 라이트" in answered.reply and "어느 회선" not in answered.reply
    steps = _plan(orch, conv)
    assert [(s["intent"], s["slots"].get("line_id"), s["status"]) for s in steps] == [
        ("data.usage", "L22", "ok"), ("contract.info", "L22", "ok"), (RECOMMEND, "L22", "ok")]
    assert [c.args for c in answered.tool_calls if c.name == "recommend_plans"] == [{"line_id": "L22"}]


def test_a_runner_without_the_engine_reads_the_results_produced_in_order(orch):
    """Drafts for a human agent run a plan's steps in order without the engine's bookkeeping: the recommendation
    reads what the steps before it produced this turn (and still fetches neither usage nor contract itself)."""
    ctx = _agent_ctx(orch, Blackboard())
    messages: list[str] = []
    for step in plan([RECOMMEND], "요금제 추천해 주세요"):
        ctx.allowed = frozenset(orch.agents[step.agent].tools)
        before = len(ctx.tool_calls)
        messages += orch.agents[step.agent].handle(step, ctx).messages
        if step.intent == RECOMMEND:
            assert [c.name for c in ctx.tool_calls[before:]] == ["recommend_plans"]
    assert "66,750원" in "\n".join(messages) and "5G 라이트" in "\n".join(messages)
