"""data.usage, data.refill, contract.info and contract.cancel run from packaged YAML procedures
(resources/procedures/data_usage.yaml, data_refill.yaml, contract.yaml): the Python DataAgent and ContractAgent are
gone, the intents keep their agent names ("data", "contract"), and every reply is the text the agents said (built
here with the same templates).

One conversation per branch of the procedures: usage capped / throttled / unlimited / with the last months, which
line; a refill with the amount in the request, asked (a bare "2" answers), not whole, an unlimited plan, corrected,
repeated on another line; the contract's sentences (selective discount, ending soon, ended, instalment only, none,
payback only); a cancellation not named, proposed with the total, filed and handed to a person, corrected to
another line.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.util
from typing import Any

import pytest
from test_procedures import PinnedRouter

from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.orchestrator import Orchestrator
from sangdam.orchestrator.format import say
from sangdam.procedures.models import StepSpec
from sangdam.procedures.runner import ProcedureBackedAgent

TODAY = dt.date(2026, 11, 15)
PLANS = [
    {"id": "P-5G-59", "name": "5G 슬림", "network": "5G", "monthly_fee": 59000, "data_gb": 12, "throttle_kbps": 1000,
     "refill_price_per_gb": 2200},
    {"id": "P-5G-UNL", "name": "5G 프리미엄", "network": "5G", "monthly_fee": 89000, "data_gb": None,
     "throttle_kbps": None, "refill_price_per_gb": 0},
    {"id": "P-LTE-33", "name": "LTE 베이직", "network": "LTE", "monthly_fee": 33000, "data_gb": 3, "throttle_kbps": 400,
     "refill_price_per_gb": 3300},
]


def _daily(line: str, months: list[tuple[int, int]]) -> list[dict[str, Any]]:
    return [{"line_id": line, "date": f"2026-{m:02d}-10", "data_mb": mb} for m, mb in months]


CUSTOMERS = [
    # three lines: a capped one with a selective-discount contract and a handset, a throttled one, a suspended one
    {"id": "C1", "name": "김하늘", "birth_date": "1990-04-12", "phone": "010-2222-3333",
     "lines": [{"id": "L1", "number": "010-2222-3333", "plan_id": "P-5G-59", "data_used_gb": 4.5,
                "contract_kind": "selective_discount", "contract_start": "2026-03-10", "contract_end": "2028-03-09",
                "monthly_discount": 13750, "device_model": "Galaxy S25", "device_installment_left": 320000},
               {"id": "L1B", "number": "010-2222-4444", "plan_id": "P-LTE-33", "data_used_gb": 3.0},
               {"id": "L1C", "number": "010-2222-5555", "plan_id": "P-5G-UNL", "status": "suspended",
                "suspend_reason": "temporary"}],
     "usage_daily": [*_daily("L1", [(8, 3200), (9, 4096), (10, 2500)]), *_daily("L1B", [(9, 900)])]},
    # unlimited, the contract ends in 15 days
    {"id": "C2", "name": "박민수", "birth_date": "1985-01-30", "phone": "010-5555-6666",
     "lines": [{"id": "L2", "number": "010-5555-6666", "plan_id": "P-5G-UNL", "data_used_gb": 40.0,
                "contract_kind": "selective_discount", "contract_start": "2024-11-01", "contract_end": "2026-11-30",
                "monthly_discount": 22250}]},
    # throttled; the contract ended, the handset is still being paid
    {"id": "C3", "name": "이도윤", "birth_date": "1979-09-12", "phone": "010-7777-8888",
     "lines": [{"id": "L3", "number": "010-7777-8888", "plan_id": "P-LTE-33", "data_used_gb": 3.5,
                "contract_kind": "selective_discount", "contract_start": "2024-10-01", "contract_end": "2026-10-31",
                "monthly_discount": 8250, "device_model": "iPhone 15", "device_installment_left": 90000}],
     "usage_daily": _daily("L3", [(10, 3100)])},
    # no contract, a handset instalment
    {"id": "C4", "name": "최유리", "birth_date": "1995-05-05", "phone": "010-1212-3434",
     "lines": [{"id": "L4", "number": "010-1212-3434", "plan_id": "P-5G-59", "data_used_gb": 1.0,
                "device_model": "Galaxy A55", "device_installment_left": 150000}]},
    # no contract at all, one capped line
    {"id": "C5", "name": "정우성", "birth_date": "1970-07-07", "phone": "010-9898-7676",
     "lines": [{"id": "L5", "number": "010-9898-7676", "plan_id": "P-5G-59", "data_used_gb": 2.0}]},
    # a selective discount only (a payback, no handset)
    {"id": "C6", "name": "한지민", "birth_date": "1982-02-02", "phone": "010-4545-6767",
     "lines": [{"id": "L6", "number": "010-4545-6767", "plan_id": "P-5G-59", "data_used_gb": 2.0,
                "contract_kind": "selective_discount", "contract_start": "2026-08-01", "contract_end": "2027-07-31",
                "monthly_discount": 14750}]},
]

USAGE_C1 = say("data.usage", allowance="12GB", used="4.5GB", remaining="7.5GB", days=16)
MONTHS_C1 = say("data.last_months", months="2026년 8월 3.12GB, 2026년 9월 4GB, 2026년 10월 2.44GB")
REFILL_2GB_L5 = ("끝자리 7676 회선에 데이터 2GB를 충전합니다. 충전 요금 4,400원은 이번 달 요금에 함께 청구되며, "
                 "이번 달 데이터 제공량은 14GB가 됩니다.")  # the tool's own preview sentence




@pytest.fixture
def orch(db_engine: Any) -> Orchestrator:
    with session_scope(db_engine) as s:
        load_fixtures(s, {"plans": PLANS, "customers": copy.deepcopy(CUSTOMERS)}, today=TODAY)
    return Orchestrator(db_engine, today=TODAY)


def _talk(orch: Orchestrator, customer: str | None, *turns: str) -> list[Any]:
    conv = orch.start_conversation(customer_id=customer) if customer else orch.start_conversation()
    return [orch.handle(conv, text) for text in turns]


def _tools(result: Any) -> list[tuple[str, str]]:
    return [(c.name, c.status) for c in result.tool_calls]


def _proposed(result: Any) -> list[dict[str, Any]]:
    return [c["args"] for c in (result.pending_action or {}).get("calls", [])]


def _awaiting(orch: Orchestrator, result: Any) -> Any:
    return orch.store.load(result.conversation_id)[1].awaiting


# -- the intents are procedures -----------------------------------------------------------------------------------
def test_the_data_and_contract_intents_are_served_by_packaged_procedures(orch: Orchestrator) -> None:
    for module in ("sangdam.agents.data", "sangdam.agents.contract"):
        assert importlib.util.find_spec(module) is None  # no Python agent left
    data, contract = orch.agents["data"], orch.agents["contract"]
    assert isinstance(data, ProcedureBackedAgent) and isinstance(contract, ProcedureBackedAgent)
    assert {i: a.procedure for i, a in data.by_intent.items()} == {"data.usage": "data_usage", "data.refill": "data_refill"}
    assert {i: a.procedure for i, a in contract.by_intent.items()} == {"contract.info": "contract",
                                                                       "contract.cancel": "contract"}
    # each allow-list is what its procedure names (the functions call no tools)
    assert set(data.by_intent["data.usage"].tools) == {"get_data_usage", "get_line", "list_lines"}
    assert set(data.by_intent["data.refill"].tools) == {"refill_data", "get_data_usage", "list_lines"}
    assert set(contract.by_intent["contract.cancel"].tools) == {"get_contract", "request_cancellation", "list_lines"}


# -- data.usage ---------------------------------------------------------------------------------------------------
def test_usage_asks_which_line_then_says_the_usage_and_the_last_months(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "데이터 얼마 남았어요?")
    lines = "끝자리 3333 (5G 슬림), 끝자리 4444 (LTE 베이직), 끝자리 5555 (5G 프리미엄)"
    assert asked.reply.startswith(say("slots.line", lines=lines))
    awaiting = _awaiting(orch, asked)
    assert awaiting.slot == "line" and awaiting.step.slots["_procedure"]["name"] == "data_usage"
    answered = orch.handle(conv, "3333이요")
    assert answered.reply == f"{USAGE_C1}\n{MONTHS_C1}"  # the months in one sentence, no throttling
    assert _tools(answered) == [("list_lines", "ok"), ("get_data_usage", "ok")] and answered.verifier.passed
    plan = orch.traces(answered.conversation_id)[-1]["plan"]
    assert [(s["agent"], s["intent"], s["slots"]["line_id"]) for s in plan] == [("data", "data.usage", "L1")]


def test_a_throttled_line_gets_the_refill_price_of_its_plan(orch: Orchestrator) -> None:
    (used,) = _talk(orch, "C3", "데이터 얼마나 썼어요?")
    assert used.reply == "\n".join([
        say("data.usage", allowance="3GB", used="3.5GB", remaining="0GB", days=16),
        say("data.throttled", speed="400kbps", price="3,300원"),
        say("data.last_months", months="2026년 10월 3.03GB"),
    ])
    assert _tools(used) == [("list_lines", "ok"), ("get_data_usage", "ok"), ("get_line", "ok")]


def test_an_unlimited_plan_says_so_and_a_named_line_is_used(orch: Orchestrator) -> None:
    (unlimited,) = _talk(orch, "C2", "데이터 사용량 알려주세요")
    assert unlimited.reply.startswith(say("data.usage_unlimited", plan="5G 프리미엄", used="40GB"))
    assert "get_line" not in [c.name for c in unlimited.tool_calls]
    (named,) = _talk(orch, "C1", "끝자리 4444 데이터 사용량 알려 줘")
    assert named.reply.startswith(say("data.usage", allowance="3GB", used="3GB", remaining="0GB", days=16))
    assert [c.args for c in named.tool_calls if c.name == "get_data_usage"] == [{"line_id": "L1B"}]


# -- data.refill --------------------------------------------------------------------------------------------------
def test_a_refill_named_in_the_request_is_proposed_and_done(orch: Orchestrator) -> None:
    proposed, done = _talk(orch, "C5", "데이터 2기가 충전해 주세요", "네")
    assert proposed.reply.startswith(REFILL_2GB_L5)  # the tool's preview is the proposal
    assert _proposed(proposed) == [{"line_id": "L5", "gb": 2}]
    assert "get_data_usage" not in [c.name for c in proposed.tool_calls]  # nothing asked: no usage read
    assert done.reply == say("data.refilled", gb="2GB", charge="4,400원", available="8GB")
    assert ("refill_data", "ok") in _tools(done) and not done.handed_off


def test_a_refill_without_an_amount_asks_and_a_bare_number_answers(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C5")
    asked = orch.handle(conv, "데이터 충전해 주세요")
    assert asked.reply.startswith(say("data.ask_gb", available="10GB"))
    awaiting = _awaiting(orch, asked)
    assert awaiting.slot == "gb" and awaiting.step.slots["_procedure"]["name"] == "data_refill"
    proposed = orch.handle(conv, "2")
    assert _proposed(proposed) == [{"line_id": "L5", "gb": 2}] and proposed.reply.startswith(REFILL_2GB_L5)
    # a line's digits in the request are no amount: asked, not read as 4444GB
    (named,) = _talk(orch, "C1", "끝자리 4444 데이터 충전해 주세요")
    assert named.reply.startswith(say("data.ask_gb", available="10GB")) and named.pending_action is None


def test_an_amount_that_is_not_whole_is_asked_again(orch: Orchestrator) -> None:
    half, again, proposed = _talk(orch, "C5", "데이터 2.5기가 충전해 주세요", "1.5기가요", "1")
    assert half.reply.startswith(say("data.ask_whole_gb")) and "refill_data" not in [c.name for c in half.tool_calls]
    assert again.reply.startswith(say("data.ask_whole_gb")) and again.pending_action is None
    assert _proposed(proposed) == [{"line_id": "L5", "gb": 1}]


def test_an_unlimited_plan_is_told_the_rule_not_asked_an_amount(orch: Orchestrator) -> None:
    (refused,) = _talk(orch, "C2", "데이터 충전해 주세요")
    assert "무제한" in refused.reply and say("data.ask_gb", available="0GB") not in refused.reply
    assert refused.pending_action is None and _awaiting(orch, refused) is None
    refusal = [c for c in refused.tool_calls if c.name == "refill_data"]
    assert len(refusal) == 1 and refusal[0].error_code is not None  # the preview's own rule refused it


def test_a_refill_is_corrected_and_repeated_on_another_line(orch: Orchestrator) -> None:
    proposed, corrected, half = _talk(orch, "C5", "데이터 2기가 충전해 줘", "아 아니 3기가요", "아 아니 2.5기가요")
    assert _proposed(corrected) == [{"line_id": "L5", "gb": 3}]
    assert corrected.reply.startswith(say("confirm.corrected"))
    assert say("data.ask_whole_gb") in half.reply and half.pending_action is None
    turns = _talk(orch, "C1", "데이터 1기가 충전해 줘", "3333", "네", "4444도 똑같이 해 주세요", "네")
    assert _proposed(turns[1]) == [{"line_id": "L1", "gb": 1}]
    assert _proposed(turns[3]) == [{"line_id": "L1B", "gb": 1}]
    assert turns[4].reply == say("data.refilled", gb="1GB", charge="3,300원", available="9GB")


# -- contract.info ------------------------------------------------------------------------------------------------
SELECTIVE_L1 = say("contract.selective", discount="13,750원", start="2026년 3월 10일", end="2028년 3월 9일")
INSTALLMENT_L1 = say("contract.installment", device="Galaxy S25", left="320,000원")


def test_the_contract_is_said_in_its_sentences(orch: Orchestrator) -> None:
    _, both = _talk(orch, "C1", "약정 언제 끝나요?", "3333")
    assert both.reply == "\n".join([SELECTIVE_L1, INSTALLMENT_L1,
                                    say("contract.etf", payback="55,000원", total="375,000원")])
    assert _tools(both) == [("list_lines", "ok"), ("get_contract", "ok")]
    (ending,) = _talk(orch, "C2", "약정 정보 알려 주세요")
    assert ending.reply.startswith("\n".join([
        say("contract.selective", discount="22,250원", start="2024년 11월 1일", end="2026년 11월 30일"),
        say("contract.ending_soon", days=15), say("contract.etf_payback_only", payback="160,200원")]))
    (ended,) = _talk(orch, "C3", "위약금 얼마예요?")
    assert ended.reply.startswith("\n".join([
        say("contract.selective", discount="8,250원", start="2024년 10월 1일", end="2026년 10월 31일"),
        say("contract.ended"), say("contract.installment", device="iPhone 15", left="90,000원"),
        say("contract.etf_installment_only")]))


def test_a_contract_without_a_discount(orch: Orchestrator) -> None:
    (installment,) = _talk(orch, "C4", "할부금 얼마 남았어요?")
    assert installment.reply.startswith("\n".join([say("contract.installment", device="Galaxy A55", left="150,000원"),
                                                   say("contract.etf_installment_only")]))
    (none,) = _talk(orch, "C5", "약정 남았어요?")
    assert none.reply.startswith(say("contract.none")) and "할인 반환금" not in none.reply
    (payback,) = _talk(orch, "C6", "약정 정보 알려 주세요")
    assert payback.reply.startswith("\n".join([
        say("contract.selective", discount="14,750원", start="2026년 8월 1일", end="2027년 7월 31일"),
        say("contract.etf_payback_only", payback="44,250원")]))


# -- contract.cancel ----------------------------------------------------------------------------------------------
def test_a_cancellation_states_the_contract_and_the_total_then_hands_off(orch: Orchestrator) -> None:
    asked, proposed, done = _talk(orch, "C1", "회선 해지하고 싶어요", "3333", "네")
    assert "어느 회선" in asked.reply and asked.pending_action is None
    # the terms without the early-termination sentence (the proposal states the total), then the proposal
    assert proposed.reply.startswith("\n".join([SELECTIVE_L1, INSTALLMENT_L1,
                                                say("contract.cancel_proposal", total="375,000원")]))
    assert _proposed(proposed) == [{"line_id": "L1"}] and not proposed.handed_off
    filed = [c for c in done.tool_calls if c.name == "request_cancellation" and c.status == "ok"]
    assert len(filed) == 1 and done.handed_off  # the result says a person takes it over
    state = orch.store.load(done.conversation_id)[1]
    assert state.handed_off and state.actions[-1]["tool"] == "request_cancellation"
    assert done.reply.startswith("해지 신청(접수번호 T-") and "회선은 아직 해지되지 않았습니다." in done.reply
    (none,) = _talk(orch, "C5", "해지 신청해 주세요")
    assert none.reply.startswith("\n".join([say("contract.none"), say("contract.cancel_proposal", total="0원")]))


def test_a_cancellation_not_named_in_words_files_nothing(db_engine: Any) -> None:
    with session_scope(db_engine) as s:
        load_fixtures(s, {"plans": PLANS, "customers": copy.deepcopy(CUSTOMERS)}, today=TODAY)
    orch = Orchestrator(db_engine, today=TODAY, router=PinnedRouter({"접수": "contract.cancel"}))
    (unnamed,) = _talk(orch, "C5", "네 접수해 주세요")
    assert unnamed.reply == say("contract.cancel_unnamed")
    assert "request_cancellation" not in [c.name for c in unnamed.tool_calls] and unnamed.pending_action is None
    plan = orch.traces(unnamed.conversation_id)[-1]["plan"]
    assert [(s["intent"], s["tools"]) for s in plan] == [("contract.cancel", [])]  # not even the contract read


def test_a_cancellation_corrected_to_another_line_is_proposed_for_that_line(orch: Orchestrator) -> None:
    """The Python agent read the correction ("아 아니 4444 회선이요") as a new request that does not name a
    cancellation and filed nothing ("확실하지 않아 …"), though the customer had named it; the procedure goes on
    from the line's question: that line's contract, and the proposal for it."""
    proposed, corrected, done = _talk(orch, "C1", "3333 회선 해지해 주세요", "아 아니 4444 회선이요", "네")
    assert _proposed(proposed) == [{"line_id": "L1"}]
    assert _proposed(corrected) == [{"line_id": "L1B"}]
    assert say("contract.cancel_unnamed") not in corrected.reply
    assert say("contract.cancel_proposal", total="0원") in corrected.reply
    assert done.handed_off and [c.args for c in done.tool_calls if c.status == "ok" and
                                c.name == "request_cancellation"] == [{"line_id": "L1B"}]


def test_hands_off_follows_the_result_field(orch: Orchestrator, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hands_off: filed.handed_off`: a result that says no hand-off leaves the conversation with the bot."""
    import sangdam.agents.base as base

    real = base.get_tool

    class Kept:
        def __init__(self, tool: Any) -> None:
            self.tool = tool

        def run(self, ctx: Any, args: Any) -> Any:
            return self.tool.run(ctx, args).model_copy(update={"handed_off": False})

        def __getattr__(self, name: str) -> Any:
            return getattr(self.tool, name)

    monkeypatch.setattr(base, "get_tool", lambda name: Kept(real(name)) if name == "request_cancellation" else real(name))
    _, done = _talk(orch, "C6", "번호 해지할게요", "네")
    assert ("request_cancellation", "ok") in _tools(done) and not done.handed_off


def test_hands_off_is_an_option_of_propose_only() -> None:
    assert StepSpec.model_validate({"propose": "request_cancellation", "hands_off": "filed.handed_off"}).hands_off
    with pytest.raises(ValueError, match="hands_off does not apply to a 'say' step"):
        StepSpec.model_validate({"say": "안녕하세요", "hands_off": "filed.handed_off"})
    with pytest.raises(ValueError, match="is not a variable path"):
        StepSpec.model_validate({"propose": "request_cancellation", "hands_off": "filed handed off"})
