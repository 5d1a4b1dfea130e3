"""Commands between understanding and the dialogue (issue 13, items 1–2): the generators, and clauses no
intent serves answered instead of dropped."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.llm.config import LLMConfig
from sangdam.llm.router import LLMRouter
from sangdam.llm.scripted import ScriptedBackend
from sangdam.orchestrator import Orchestrator
from sangdam.orchestrator.format import say
from sangdam.understanding.commands import (
    COMMANDS,
    CannotHandle,
    Confirm,
    Handoff,
    StartTask,
    command_for_intent,
    label,
)
from sangdam.understanding.generators import (
    ClassifierGenerator,
    CombinedGenerator,
    DialogueView,
    LlmCommandGenerator,
    command_schema,
    default_generator,
)
from orchestrator_fixtures import FIXTURES, TODAY

HINT = say("escalation.offer_hint_plain")


@pytest.fixture(scope="module")
def classifier() -> ClassifierGenerator:
    from sangdam.orchestrator.router import IntentRouter, get_intent_model

    return ClassifierGenerator(IntentRouter(get_intent_model()))


def labels(gen: Any, text: str) -> list[str]:
    return [label(c) for c in gen.generate(text).commands]


# -- the command types ------------------------------------------------------------------------------------------

def test_commands_round_trip_through_json_by_kind() -> None:
    cmds = [StartTask(intent="data.refill", slots={"gb": 2}, clause="2기가 충전"), Confirm(), Handoff(reason="x"),
            CannotHandle(clause="포인트 조회")]
    back = COMMANDS.validate_json(COMMANDS.dump_json(cmds))
    assert [type(c) for c in back] == [StartTask, Confirm, Handoff, CannotHandle] and back[0].slots == {"gb": 2}


def test_intents_that_are_commands_of_their_own() -> None:
    assert label(command_for_intent("policy.question", "q")) == "AskKnowledge"
    assert label(command_for_intent("agent.human", "q")) == "Handoff"
    assert label(command_for_intent("out_of_scope", "q")) == "CannotHandle"
    assert label(command_for_intent("billing.inquiry", "q")) == "StartTask:billing.inquiry"


# -- the default generator --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("분실 신고하고 포인트 조회도 해줘", ["StartTask:line.suspend", "CannotHandle"]),
    ("정지 풀어주고 멤버십 포인트도 알려줘", ["StartTask:line.resume", "CannotHandle"]),
    ("요금 알려주고 로밍도 켜줘", ["StartTask:billing.inquiry", "StartTask:roaming.enable"]),
])
def test_every_clause_ends_as_a_command(classifier: ClassifierGenerator, text: str, expected: list[str]) -> None:
    assert labels(classifier, text) == expected


@pytest.mark.parametrize("text", [
    "일본 가는데 로밍 켜 주세요",  # scene-setting is not a request of its own
    "해지 말고 정지만 해 주세요",  # a negated clause is not one either
    "인터넷이 안 되는데 뭐가 문제예요?",  # a question right after a fault is about the fault
    "요금이랑 데이터 잔여량 알려줘",  # a fragment sharing the next clause's verb
])
def test_background_negated_and_fault_clauses_are_not_cannot_handle(classifier: ClassifierGenerator, text: str) -> None:
    assert "CannotHandle" not in labels(classifier, text)


def test_the_cannot_handle_clause_keeps_its_place_in_the_order(classifier: ClassifierGenerator) -> None:
    result = classifier.generate("분실 신고하고 포인트 조회도 해줘")
    assert result.intents == ["line.suspend"]  # what the route (and the public TurnResult) reports
    assert "포인트" in result.cannot_handle[0].clause and result.cannot_handle[0].generator == "classifier"


# -- the LLM generator: enums of what is valid now --------------------------------------------------------------

def _llm(responses: list[Any]) -> tuple[LLMRouter, ScriptedBackend]:
    fast = ScriptedBackend(responses)
    return LLMRouter(LLMConfig(), backends={"fast": fast, "strong": ScriptedBackend([])}), fast


def test_the_schema_holds_only_the_ids_valid_now() -> None:
    view = DialogueView(lines=["L1", "L2"], plans=["P-5G-59"], options=["R-ASIA5", "R-JP3"], pending_intents=["roaming.enable"])
    schema = json.dumps(command_schema(["data.refill", "plan.change"], view))
    assert '"enum": ["L1", "L2"]' in schema and '"enum": ["R-ASIA5", "R-JP3"]' in schema
    assert '"enum": ["data.refill", "plan.change"]' in schema
    closed = json.dumps(command_schema(["data.refill"], DialogueView()))
    assert "confirm" not in closed and "choose" not in closed  # nothing is pending: no yes to give


class _GrammarIgnoringServer:
    """A model server that ignored the JSON schema (some do): Sangdam's own checks must still hold."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer, self.schemas = answer, []

    def chat(self, messages: Any, **kwargs: Any) -> Any:
        from types import SimpleNamespace

        self.schemas.append(kwargs.get("json_schema"))
        return SimpleNamespace(text=json.dumps(self.answer))


def test_llm_commands_are_validated_and_foreign_ids_dropped() -> None:
    answer = {"commands": [{"kind": "start_task", "intent": "data.refill", "clause": "2기가",
                            "slots": {"line_id": "L-SOMEONE-ELSE", "gb": 2}},
                           {"kind": "cannot_handle", "clause": "포인트"}]}
    server = _GrammarIgnoringServer(answer)
    result = LlmCommandGenerator(server).generate("2기가 충전하고 포인트도", DialogueView(lines=["L1"]))
    assert [label(c) for c in result.commands] == ["StartTask:data.refill", "CannotHandle"]
    assert result.commands[0].slots == {"gb": 2.0}  # a line the customer does not own never gets through
    assert {c.generator for c in result.commands} == {"llm"}
    assert server.schemas[0]["properties"]["commands"]["items"]["anyOf"][0]["properties"]["slots"]["properties"][
        "line_id"] == {"enum": ["L1"]}


def test_a_schema_respecting_backend_is_asked_with_the_schema() -> None:
    answer = {"commands": [{"kind": "start_task", "intent": "data.refill", "clause": "2기가", "slots": {"line_id": "L1"}}]}
    llm, fast = _llm([json.dumps(answer)])
    result = LlmCommandGenerator(llm).generate("2기가 충전", DialogueView(lines=["L1"]))
    assert result.commands[0].slots == {"line_id": "L1"} and fast.calls[0].schema is not None


def test_an_intent_outside_the_taxonomy_is_refused() -> None:
    server = _GrammarIgnoringServer({"commands": [{"kind": "start_task", "intent": "billing.waive", "clause": "x"}]})
    with pytest.raises(ValueError):
        LlmCommandGenerator(server).generate("요금 깎아줘")


def test_combined_asks_the_llm_only_when_the_classifier_is_unsure(classifier: ClassifierGenerator) -> None:
    llm, fast = _llm([json.dumps({"commands": [{"kind": "start_task", "intent": "billing.inquiry", "clause": "bill"}]})])
    combined = CombinedGenerator(classifier, LlmCommandGenerator(llm), threshold=classifier.router.threshold)
    sure = combined.generate("이번 달 요금 얼마 나왔어요?")
    assert sure.generator == "classifier" and not fast.calls
    unsure = combined.generate("분실 신고하고 포인트 조회도 해줘")  # a clause the classifier could not place
    assert unsure.generator == "llm" and len(fast.calls) == 1


def test_combined_keeps_the_classifier_when_the_llm_fails(classifier: ClassifierGenerator) -> None:
    llm, _ = _llm(["not json"])
    combined = CombinedGenerator(classifier, LlmCommandGenerator(llm), threshold=1.01)
    result = combined.generate("이번 달 요금 얼마 나왔어요?")
    assert result.generator == "classifier" and result.intents == ["billing.inquiry"]


def test_an_untrusted_profile_gets_the_classifier_alone() -> None:
    llm = LLMRouter(LLMConfig(), backends={"fast": ScriptedBackend([]), "strong": ScriptedBackend([])})
    assert isinstance(default_generator(llm), ClassifierGenerator)  # the embedded default decides no intents


# -- in a conversation ------------------------------------------------------------------------------------------

@pytest.fixture
def orch(db_engine) -> Orchestrator:  # noqa: ANN001
    with session_scope(db_engine) as s:
        load_fixtures(s, FIXTURES)
    return Orchestrator(db_engine, today=TODAY)


def test_a_clause_nobody_serves_is_answered_next_to_the_served_one(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    result = orch.handle(conv, "10월 요금 알려주고 멤버십 포인트도 알려줘")
    assert "61,200원" in result.reply  # the bill is answered
    assert "멤버십 포인트는 제가 도와드릴 수 없는 요청이에요" in result.reply and "상담사 연결" in result.reply
    assert result.intents == ["billing.inquiry"] and result.verifier is not None and result.verifier.passed
    trace = orch.traces(conv)[-1]
    assert [c["kind"] for c in trace["commands"]] == ["start_task", "cannot_handle"]
    assert trace["generator"] == "classifier"


def test_with_a_proposal_the_question_still_comes_last(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    result = orch.handle(conv, "데이터 2기가 충전하고 내일 날씨도 알려줘")
    assert result.pending_action is not None and "4,400원" in result.reply
    assert result.reply.index("날씨는") < result.reply.index("진행할까요")
    done = orch.handle(conv, "네")
    assert any(c.name == "refill_data" and c.status == "ok" for c in done.tool_calls)


@pytest.mark.parametrize("text, expected", [
    ("멤버십 포인트랑 데이터 잔여량 같이 알려줘요", ["CannotHandle", "StartTask:data.usage"]),
    ("잠깐 근데 요금제 뭐 쓰고 있지?", ["StartTask:plan.info"]),  # "잠깐" asks nothing (it is no suspension)
    ("데이터얼마남았어요 모자라면충전좀", ["StartTask:data.usage", "StartTask:data.refill"]),  # a conditional request
])
def test_stranger_findings_in_understanding(classifier: ClassifierGenerator, text: str, expected: list[str]) -> None:
    assert labels(classifier, text) == expected


def test_a_payment_method_change_is_not_a_payment(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    result = orch.handle(conv, "자동이체 카드 바꾸고 싶어요")
    assert result.pending_action is None and not [c for c in result.tool_calls if c.name == "pay_bill"]
    assert "상담사" in result.reply


def test_a_read_question_while_a_proposal_waits_is_answered_at_any_confidence(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 2기가 충전해 주세요")
    asked = orch.handle(conv, "잠깐 근데 요금제 뭐 쓰고 있지?")
    assert "5G 슬림" in asked.reply and asked.pending_action["intent"] == "data.refill"
