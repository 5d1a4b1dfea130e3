"""Roaming as data (issue 13): roaming.enable, roaming.info and roaming.disable are the packaged procedures
roaming_enable, roaming_info and roaming_disable (a status question routed to a change: roaming_status), with the
computation in sangdam.procedures.functions.roaming. A pick from the listed passes is an ordinary slot answer to
the frame that asked; the replies are the templates the Python agent said (built here with ``say``)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.domain.models import Line
from sangdam.orchestrator import Orchestrator
from sangdam.orchestrator.format import say
from sangdam.procedures.runner import POSITION_KEY, ProcedureBackedAgent
from orchestrator_fixtures import FIXTURES, TODAY

WORLD = copy.deepcopy(FIXTURES)
WORLD["roaming_passes"].append({"id": "R-VN7", "name": "베트남 7일", "days": 7, "data_gb": 5, "price": 15000,
                                "countries": ["VN"]})
LISTING_JP = [say("roaming.passes_header", country="일본"),
              say("roaming.pass_item", name="일본 3일", days=3, data="2GB", price="13,200원"),
              say("roaming.pass_item", name="아시아 5일", days=5, data="3GB", price="19,800원")]
ENABLED_ASIA5 = say("roaming.enabled", name="아시아 5일", price="19,800원")


def _orch(engine, *, roaming: dict[str, Any] | None = None, second_line: bool = False) -> Orchestrator:  # noqa: ANN001
    world = copy.deepcopy(WORLD)
    if roaming:
        world["customers"][0]["lines"][0].update(roaming)
    if second_line:
        world["customers"][0]["lines"].append({"id": "L1B", "number": "010-2222-4444", "plan_id": "P-5G-59",
                                               "status": "active", "roaming_enabled": True,
                                               "roaming_pass_id": "R-JP3", "data_used_gb": 1.0})
    with session_scope(engine) as s:
        load_fixtures(s, world)
    return Orchestrator(engine, today=TODAY)


def _line(orch: Orchestrator, line_id: str = "L1") -> tuple[bool, str | None]:
    with session_scope(orch.engine) as s:
        line = s.get(Line, line_id)
        return line.roaming_enabled, line.roaming_pass_id


def _calls(result: Any, status: str = "ok") -> list[str]:
    return [c.name for c in result.tool_calls if c.status == status]


def test_every_roaming_intent_is_a_procedure_and_no_python_agent_is_left(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    roaming = orch.agents["roaming"]
    assert isinstance(roaming, ProcedureBackedAgent) and type(roaming.base).__name__ == "_Unserved"
    assert {i: a.procedure for i, a in roaming.by_intent.items()} == {
        "roaming.enable": "roaming_enable", "roaming.info": "roaming_info", "roaming.disable": "roaming_disable"}
    with pytest.raises(ImportError):
        __import__("sangdam.agents.roaming")
    assert {"list_roaming_passes", "enable_roaming", "disable_roaming", "get_line", "list_lines"} <= set(roaming.tools)


def test_a_named_pass_is_proposed_at_once_and_the_yes_enables_it(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    proposed = orch.handle(conv, "로밍 켜줘 아시아 5일로")
    assert proposed.pending_action["calls"] == [{"tool": "enable_roaming", "args": {"line_id": "L1", "pass_id": "R-ASIA5"}}]
    assert proposed.pending_action["step"]["slots"][POSITION_KEY]["name"] == "roaming_enable"
    assert "19,800원" in proposed.reply and _line(orch) == (False, None)
    done = orch.handle(conv, "네")
    assert done.reply == ENABLED_ASIA5 and _line(orch) == (True, "R-ASIA5") and done.verifier.passed


def test_the_destination_is_asked_the_passes_listed_and_a_pick_previewed(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "로밍 신청하려고요")
    assert asked.reply == say("roaming.ask_country") and asked.pending_action is None
    listed = orch.handle(conv, "일본이요")
    assert listed.reply == "\n".join([*LISTING_JP, say("roaming.choose")]) and listed.verifier.passed
    assert [o["id"] for o in listed.options] == ["R-JP3", "R-ASIA5"] and listed.pending_action is None
    restarted = Orchestrator(db_engine, today=TODAY)  # the awaited pick survives a restart
    picked = restarted.handle(conv, "두 번째 걸로")
    assert _calls(picked, "proposed") == ["enable_roaming"] and not _calls(picked)
    assert picked.pending_action["calls"][0]["args"]["pass_id"] == "R-ASIA5" and "진행할까요" in picked.reply
    done = restarted.handle(conv, "네")
    assert done.reply == ENABLED_ASIA5 and _line(orch) == (True, "R-ASIA5")


def test_a_destination_answer_that_names_a_pass_proposes_it(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "로밍 신청하려고요")
    proposed = orch.handle(conv, "일본 3일로 해주세요")
    assert proposed.pending_action["calls"][0]["args"] == {"line_id": "L1", "pass_id": "R-JP3"}


def test_an_answer_without_a_country_is_a_new_request(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "로밍 신청하려고요")
    again = orch.handle(conv, "네")  # not a destination: asked again
    assert again.reply == say("roaming.ask_country")
    other = orch.handle(conv, "이번 달 요금 알려줘")
    assert other.intents == ["billing.inquiry"] and "61,200원" in other.reply


def test_yes_with_the_pick_agrees_at_once_and_yes_to_a_single_pass_takes_it(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "다음 주에 일본 가는데 로밍 켜주세요")
    done = orch.handle(conv, "네, 아시아 5일짜리로 해주세요")
    assert done.reply == ENABLED_ASIA5 and _calls(done) == ["enable_roaming"] and _line(orch) == (True, "R-ASIA5")
    assert _calls(done, "proposed") == ["enable_roaming"]  # previewed (every rule checked) before it ran
    conv = orch.start_conversation(customer_id="C1")
    listed = orch.handle(conv, "베트남 로밍 켜줘")
    assert [o["name"] for o in listed.options] == ["베트남 7일"]
    only = orch.handle(conv, "네")
    assert only.reply == say("roaming.enabled", name="베트남 7일", price="15,000원") and _line(orch) == (True, "R-VN7")


@pytest.mark.parametrize(("answer", "expected"), [("네", "confirm.pick_one"), ("얼마예요?", "confirm.pick_one"),
                                                  ("아니요", "confirm.declined"), ("다 취소해 주세요", "confirm.declined")])
def test_an_answer_that_picks_nothing(db_engine, answer: str, expected: str) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "다음 주에 일본 가는데 로밍 켜주세요")
    result = orch.handle(conv, answer)
    assert result.reply == say(expected) and not _calls(result, "proposed") and not _calls(result)
    waits = expected == "confirm.pick_one"  # "네" to a longer list: which one? — a no ends the task
    assert bool(result.options) is waits and bool(orch.traces(conv)[-1]["stack"]) is waits


def test_switching_to_another_pass_after_the_preview_reproposes_it(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "다음 주에 일본 가는데 로밍 켜주세요")
    orch.handle(conv, "아시아 5일로 할게요")
    for text, wanted in [("아시아 말고 일본 3일로 해주세요", "R-JP3"), ("두 번째로 해주세요", "R-ASIA5")]:
        switched = orch.handle(conv, text)
        assert switched.pending_action["calls"][0]["args"] == {"line_id": "L1", "pass_id": wanted}, switched.reply
        assert _calls(switched, "declined") == ["enable_roaming"] and "enable_roaming" not in _calls(switched)
    orch.handle(conv, "네")
    assert _line(orch) == (True, "R-ASIA5")


def test_no_pass_for_the_destination_and_refusals_are_said(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine, roaming={"roaming_enabled": True, "roaming_pass_id": "R-JP3"})
    conv = orch.start_conversation(customer_id="C1")
    none = orch.handle(conv, "미국 로밍 켜줘")
    assert none.reply == say("roaming.no_passes", country="미국") and none.pending_action is None
    active = orch.handle(conv, "일본 3일 로밍 켜주세요")  # the tool's own rule, at the preview
    assert active.pending_action is None and "enable_roaming" not in _calls(active)
    assert [c.error_code for c in active.tool_calls if c.name == "enable_roaming"] == ["roaming_pass_already_active"]
    suspended = orch.handle(orch.start_conversation(customer_id="C2"), "일본 3일 로밍 켜주세요")
    assert suspended.pending_action is None and "정지" in suspended.reply


@pytest.mark.parametrize("text", ["제 폰 지금 로밍 켜져 있어요?", "로밍 상태 보여줘", "로밍 꺼져 있나요?"])
def test_a_status_question_is_answered_read_only(db_engine, text: str) -> None:  # noqa: ANN001
    orch = _orch(db_engine, roaming={"roaming_enabled": True, "roaming_pass_id": "R-ASIA5"})
    conv = orch.start_conversation(customer_id="C1")
    status = orch.handle(conv, text)
    assert status.reply.startswith(say("roaming.status_on_pass", name="아시아 5일")), status.reply
    assert status.pending_action is None and not _calls(status, "proposed")
    assert status.intents[0] in ("roaming.enable", "roaming.disable") and "get_line" in _calls(status)


def test_a_status_question_asks_which_line_and_says_off_or_on(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine, second_line=True)
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "로밍 켜져 있어요?")
    assert "어느 회선" in asked.reply and "끝자리 4444" in asked.reply
    assert orch.handle(conv, "4444요").reply == say("roaming.status_on_pass", name="일본 3일")
    orch.handle(conv, "로밍 켜져 있어요?")
    assert orch.handle(conv, "3333요").reply == say("roaming.status_off")
    with session_scope(db_engine) as s:
        s.get(Line, "L1B").roaming_pass_id = None
    orch.handle(conv, "로밍 켜져 있어요?")
    assert orch.handle(conv, "4444요").reply == say("roaming.status_on")


def test_passes_need_no_identity_and_a_verified_customer_also_hears_the_status(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine, roaming={"roaming_enabled": True})
    anonymous = orch.handle(orch.start_conversation(), "일본 로밍 상품 알려주세요")
    assert anonymous.reply == "\n".join(LISTING_JP) and _calls(anonymous) == ["list_roaming_passes"]
    everything = orch.handle(orch.start_conversation(), "로밍 요금제 뭐 있어요?")
    assert everything.reply.startswith(say("roaming.passes_header_all")) and "베트남 7일" in everything.reply
    verified = orch.handle(orch.start_conversation(customer_id="C1"), "일본 로밍 요금 알려줘")
    assert verified.reply == "\n".join([*LISTING_JP, say("roaming.status_on")])
    assert orch.handle(orch.start_conversation(), "미국 가면 로밍 요금 어떻게 돼요?").reply == say(
        "roaming.no_passes", country="미국")


def test_a_verified_customer_with_several_lines_hears_the_status_of_the_line_named_only(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine, second_line=True)
    unnamed = orch.handle(orch.start_conversation(customer_id="C1"), "일본 로밍 요금 알려줘")
    assert unnamed.reply == "\n".join(LISTING_JP) and "get_line" not in _calls(unnamed)  # nothing asked
    named = orch.handle(orch.start_conversation(customer_id="C1"), "끝자리 4444 일본 로밍 요금 알려줘")
    assert named.reply == "\n".join([*LISTING_JP, say("roaming.status_on")])


@pytest.mark.parametrize(("pointer", "pass_id"), [("두 번째 걸로 신청해 주세요", "R-ASIA5"), ("제일 싼 걸로 해줘", "R-JP3")])
def test_a_listed_pass_is_taken_up_by_its_position(db_engine, pointer: str, pass_id: str) -> None:  # noqa: ANN001
    orch = _orch(db_engine)
    conv = orch.start_conversation()
    orch.handle(conv, "일본 로밍 상품 알려주세요")  # listed before identity: remembered all the same
    orch.handle(conv, pointer)
    picked = orch.handle(conv, "010-2222-3333 1990년 4월 12일")
    assert picked.pending_action["calls"][0]["args"] == {"line_id": "L1", "pass_id": pass_id}, picked.reply


def test_disable_is_the_procedure_and_says_when_roaming_is_already_off(db_engine) -> None:  # noqa: ANN001
    orch = _orch(db_engine, roaming={"roaming_enabled": True, "roaming_pass_id": "R-JP3"})
    conv = orch.start_conversation(customer_id="C1")
    proposed = orch.handle(conv, "로밍 꺼 주세요")
    assert proposed.pending_action["step"]["slots"][POSITION_KEY]["name"] == "roaming_disable"
    assert orch.handle(conv, "네").reply == say("roaming.disabled") and _line(orch) == (False, None)
    assert orch.handle(conv, "로밍 꺼 주세요").reply == say("roaming.already_off")
