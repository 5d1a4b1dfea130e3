"""Procedures as data (docs/procedures.md): an operator adds an intent and the procedure serving it with YAML files
only, and the procedure runner executes every step kind through the orchestrator's ordinary paths (identity gate,
allow-list, slot questions, proposals confirmed in a later turn, state kept between turns and across a restart).

The proof (section 1) routes with the real classifier, retrained on train.yaml plus ``extra_training_examples()``
(about two minutes on two cores: the model is trained for the test's own SANGDAM_HOME). The runner's unit tests
pin the route with an injected keyword router (``PinnedRouter``), so each names the intents its messages route to.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from bss_support import TOKEN, copy_db, make_demo_template, running_bss, write_openapi
from imported_tools_support import home  # noqa: F401 - fixture
from orchestrator_fixtures import orchestrator
from sqlalchemy import func, select
from typer.testing import CliRunner

from sangdam.cli import app as cli
from sangdam.domain.db import make_engine, session_scope
from sangdam.domain.models import Line, ToolExecution
from sangdam.orchestrator import Orchestrator
from sangdam.orchestrator.intents import (
    AGENT_FOR_INTENT,
    INTENTS,
    agent_for,
    all_intents,
    extra_training_examples,
    is_intent,
    operator_intents,
)
from sangdam.orchestrator.router import RouteResult, reset_intent_model
from sangdam.procedures import ProcedureError
from sangdam.procedures.loader import check_tools, compile_procedure, load_procedures

runner = CliRunner()


class PinnedRouter:
    """Routes by keywords (first match wins); anything else is chitchat."""

    def __init__(self, rules: dict[str, str]) -> None:
        self.rules = rules

    def route(self, text: str) -> RouteResult:
        for word, intent in self.rules.items():
            if word in text:
                return RouteResult(intents=[intent], confidence=0.95, via="classifier")
        return RouteResult(intents=["chitchat"], confidence=0.95, via="classifier")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def _utterances(stem: str) -> list[str]:
    return [f"{stem} {tail}" for tail in ("알려줘", "얼마예요", "확인해 주세요", "조회요", "궁금해요", "보여줘",
                                         "어떻게 돼요", "좀 볼게요", "알고 싶어요", "확인 부탁해요")]


def _intent_file(home: Path, name: str, procedure: str, stem: str, file: str | None = None) -> Path:
    doc = {"intents": [{"name": name, "description_ko": f"{stem} 문의", "procedure": procedure,
                        "examples": _utterances(stem)}]}
    path = home / "intents" / (file or f"{name}.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _tools(result: Any, status: str = "ok") -> list[str]:
    return [c.name for c in result.tool_calls if c.status == status]


# =====================================================================================================================
# 1. The proof: a new intent served by an imported BSS operation, with YAML files only
# =====================================================================================================================
MAPPING = """
name: refbss
base_url: ${REFBSS_URL}
auth: {header: Authorization, env: REFBSS_TOKEN, prefix: "Bearer "}
timeout_s: 5
operations:
  getLoyaltyAccount:
    tool: get_membership_points
    description_ko: 고객님의 멤버십 등급과 포인트를 조회합니다.
    description_en: The verified customer's membership tier and point balance.
    customer_param: subscriberId
    result_fields: [membershipStatus, tier, pointBalance, pointsExpiring, pointsExpireOn]
"""

MEMBERSHIP_INTENT = """
intents:
  - name: membership.points
    description_ko: 멤버십 포인트와 등급 조회
    procedure: membership_points
    examples:
      - 멤버십 포인트 얼마나 있어요?
      - 제 멤버십 등급이 뭐예요
      - 포인트 조회해 주세요
      - 멤버십 포인트 확인하고 싶어요
      - 내 등급 골드 맞아요?
      - 적립된 포인트 알려줘
      - 멤버십 포인트 소멸 예정 있나요
      - VIP 등급인지 확인해 주세요
      - 포인트 몇 점 남았어요
      - 멤버십 혜택 등급 조회
      - 통신사 포인트 얼마 있는지 궁금해요
"""

MEMBERSHIP_PROCEDURE = """
procedure: membership_points
description_ko: 멤버십 등급과 사용 가능한 포인트를 안내합니다.
identity: required
labels:
  tier: {VIP: VIP, GOLD: 골드, SILVER: 실버}
steps:
  - call: get_membership_points
    save_as: membership
  - branch:
      on: membership.membershipStatus
      cases:
        - equals: NONE
          goto: no_membership
  - say: "고객님은 {membership.tier|tier} 등급이시고, 사용 가능한 멤버십 포인트는 {membership.pointBalance|number}점입니다."
  - branch:
      on: membership.pointsExpiring
      cases:
        - gt: 0
          goto: expiring
      else: end
  - id: expiring
    say: "이 중 {membership.pointsExpiring|number}점은 {membership.pointsExpireOn|date}에 소멸될 예정입니다."
  - end: true
  - id: no_membership
    say: 현재 가입된 멤버십이 없습니다. 멤버십은 누리텔레콤 앱에서 무료로 가입하실 수 있습니다.
"""


@pytest.fixture
def bss_and_store(tmp_path: Path):  # noqa: ANN201
    template = make_demo_template(tmp_path)
    store = make_engine(f"sqlite:///{copy_db(template, tmp_path / 'sangdam.db')}")
    with running_bss(copy_db(template, tmp_path / "bss.db")) as bss:
        yield bss, store
    store.dispose()


def test_an_operator_adds_membership_points_with_yaml_files_only(home: Path, bss_and_store, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 request: pytest.FixtureRequest) -> None:
    bss, store = bss_and_store
    monkeypatch.setenv("REFBSS_URL", bss.base)
    monkeypatch.setenv("REFBSS_TOKEN", TOKEN)
    operator = tmp_path / "operator"  # what the operator writes
    spec = write_openapi(tmp_path / "bss.openapi.json")  # `sangdam bss openapi`
    mapping = _write(operator / "refbss.map.yaml", MAPPING)
    imported = runner.invoke(cli, ["tools", "import", "openapi", str(spec), "--map", str(mapping)])
    assert imported.exit_code == 0, imported.output
    written = [mapping,
               _write(home / "intents" / "membership.yaml", MEMBERSHIP_INTENT),
               _write(home / "procedures" / "membership_points.yaml", MEMBERSHIP_PROCEDURE)]

    assert is_intent("membership.points") and "membership.points" in all_intents()
    assert agent_for("membership.points") == "procedure:membership_points"
    assert len(extra_training_examples()["membership.points"]) == 11
    reset_intent_model()  # the router retrains on train.yaml + extra_training_examples() (this home's model cache)
    request.addfinalizer(reset_intent_model)
    orch = Orchestrator(store, today=bss.runtime.state.today)  # no injected router: the retrained classifier
    assert orch.agents["procedure:membership_points"].tools == ("get_membership_points",)

    conv = orch.start_conversation()
    first = orch.handle(conv, "멤버십 포인트 얼마나 있어요?")
    assert first.intents == ["membership.points"] and first.via == "classifier"
    assert first.confidence >= orch.router.threshold
    assert "본인 확인" in first.reply and _tools(first) == []  # the identity gate, as for built-in agents
    answer = orch.handle(conv, "010-9000-0003 1968년 11월 3일이요")
    assert answer.verified_customer_id == "C-DEMO-LOST"
    assert "골드 등급" in answer.reply and "12,500점" in answer.reply, answer.reply
    assert "1,200점은 2026년 11월 30일에 소멸" in answer.reply
    assert answer.verifier.passed and _tools(answer) == ["verify_identity", "get_membership_points"]
    assert bss.calls("getLoyaltyAccount") == 1

    # a customer without a membership takes the branch
    other = orch.start_conversation(customer_id="C-DEMO-OVERDUE")
    none = orch.handle(other, "제 멤버십 포인트 좀 알려주세요")
    assert none.intents == ["membership.points"]
    assert "가입된 멤버십이 없습니다" in none.reply and "점입니다" not in none.reply

    # files touched: YAML only. Everything this test (the operator) and Sangdam's commands wrote is under tmp_path
    # (SANGDAM_HOME is in it): the three YAML files, Sangdam's saved import, the databases; no Python anywhere.
    assert [p.suffix for p in written] == [".yaml", ".yaml", ".yaml"]
    created = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert not [p for p in created if p.endswith((".py", ".pyc", ".so"))], created
    assert {p for p in created if p.startswith(("home/intents", "home/procedures", "operator/"))} == {
        "operator/refbss.map.yaml", "home/intents/membership.yaml", "home/procedures/membership_points.yaml"}
    assert "home/tools/openapi-refbss.json" in created  # written by `sangdam tools import openapi`


# =====================================================================================================================
# 2. The runner, step by step (built-in tools on the orchestrator fixtures: C1 with line L1, 5G 슬림 12GB)
# =====================================================================================================================
IDENTITY = "010-2222-3333 1990년 4월 12일이요"

REFILL = """
procedure: data_topup
description_ko: 데이터 사용량을 확인하고 충전을 제안합니다.
steps:
  - ask: line
    question_ko: 어느 회선인가요?
    extractor: line
  - call: get_data_usage
    args: {line_id: "{slots.line.id}"}
    save_as: usage
  - say: "이번 달 {usage.used_gb|gb}를 사용하셨습니다."
  - ask: gb
    question_ko: 몇 기가를 충전할까요?
    extractor: gb
  - branch:
      on: slots.gb
      cases:
        - gt: 5
          goto: too_much
  - propose: refill_data
    args: {line_id: "{slots.line.id}", gb: "{slots.gb}"}
    save_as: refill
    done_ko: "{refill.gb|gb} 충전을 마쳤습니다."
  - say: 충전한 데이터는 바로 사용하실 수 있습니다.
  - end: true
  - id: too_much
    say: 한 번에 충전할 수 있는 양을 넘었습니다.
"""


@pytest.fixture
def proc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    from sangdam.config import reset_settings

    path = tmp_path / "home"
    monkeypatch.setenv("SANGDAM_HOME", str(path))
    reset_settings()
    yield path
    reset_settings()


def _refilled(engine) -> float:  # noqa: ANN001
    with session_scope(engine) as s:
        return float(s.get(Line, "L1").data_refill_gb or 0)


def _executions(engine) -> int:  # noqa: ANN001
    with session_scope(engine) as s:
        return int(s.scalar(select(func.count()).select_from(ToolExecution)))


def _setup(proc_home: Path, db_engine, procedure: str, name: str, words: dict[str, str] | None = None,
           stem: str = "테스트") -> Orchestrator:  # noqa: ANN001
    program = yaml.safe_load(procedure)["procedure"]
    _write(proc_home / "procedures" / f"{program}.yaml", procedure)
    _intent_file(proc_home, name, program, stem)
    return orchestrator(db_engine, router=PinnedRouter(words or {stem: name}))


def test_ask_call_say_branch_propose_then_yes_commits_exactly_once(proc_home: Path, db_engine) -> None:  # noqa: ANN001
    orch = _setup(proc_home, db_engine, REFILL, "data.topup", {"충전": "data.topup"})
    conv = orch.start_conversation()
    orch.handle(conv, "데이터 충전하고 싶어요")
    used = orch.handle(conv, IDENTITY)  # one line: filled without asking; usage said; then the amount is asked
    assert "4.5GB" in used.reply and "몇 기가" in used.reply and used.verifier.passed
    proposed = orch.handle(conv, "2기가요")
    assert _tools(proposed, "proposed") == ["refill_data"] and proposed.pending_action is not None
    assert "refill_data" not in _tools(proposed) and _refilled(db_engine) == 0
    done = orch.handle(conv, "네")
    assert _tools(done).count("refill_data") == 1 and _refilled(db_engine) == 2
    assert "2GB 충전을 마쳤습니다" in done.reply and "바로 사용하실 수 있습니다" in done.reply, done.reply
    assert done.verifier.passed and done.pending_action is None
    again = orch.handle(conv, "네")  # nothing pending any more: never a second charge
    assert "refill_data" not in _tools(again) and _refilled(db_engine) == 2 and _executions(db_engine) == 1


def test_decline_runs_nothing(proc_home: Path, db_engine) -> None:  # noqa: ANN001
    orch = _setup(proc_home, db_engine, REFILL, "data.topup", {"충전": "data.topup"})
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 충전해 주세요")
    orch.handle(conv, "3기가")
    no = orch.handle(conv, "아니요")
    assert "진행하지 않았" in no.reply and "refill_data" not in _tools(no) and _refilled(db_engine) == 0
    assert _executions(db_engine) == 0


def test_branch_takes_the_goto(proc_home: Path, db_engine) -> None:  # noqa: ANN001
    orch = _setup(proc_home, db_engine, REFILL, "data.topup", {"충전": "data.topup"})
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 충전해 주세요")
    big = orch.handle(conv, "8기가")
    assert "넘었습니다" in big.reply and big.pending_action is None and _tools(big, "proposed") == []


def test_a_correction_reproposes_with_the_new_value(proc_home: Path, db_engine) -> None:  # noqa: ANN001
    orch = _setup(proc_home, db_engine, REFILL, "data.topup", {"충전": "data.topup"})
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 충전해 주세요")
    orch.handle(conv, "2기가")
    corrected = orch.handle(conv, "2기가 말고 3기가로")
    assert corrected.pending_action["calls"][0]["args"]["gb"] == 3
    orch.handle(conv, "네")
    assert _refilled(db_engine) == 3


def test_a_restarted_orchestrator_resumes_mid_procedure(proc_home: Path, db_engine) -> None:  # noqa: ANN001
    orch = _setup(proc_home, db_engine, REFILL, "data.topup", {"충전": "data.topup"})
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "데이터 충전해 주세요")
    assert "몇 기가" in asked.reply
    restarted = Orchestrator(db_engine, today=orch.today, router=orch.router)  # a new process, same database
    proposed = restarted.handle(conv, "2기가요")
    assert proposed.pending_action is not None
    again = Orchestrator(db_engine, today=orch.today, router=orch.router)
    done = again.handle(conv, "네")
    assert _refilled(db_engine) == 2 and "2GB 충전을 마쳤습니다" in done.reply


LOOP = """
procedure: no_signal
description_ko: 신호가 안 잡힐 때 기기 조치를 하나씩 안내하고, 안 되면 점검을 접수합니다.
steps:
  - loop:
      over: [휴대폰을 껐다가 다시 켜 주세요., 비행기 모드를 켰다가 꺼 주세요., 유심을 뺐다가 다시 끼워 주세요.]
      steps:
        - say: "{loop.item}"
        - ask: fixed
          question_ko: 해결되셨나요?
          extractor: yes_no
      until: {on: slots.fixed, equals: true}
      else: ticket
  - say: 해결되어 다행입니다.
  - end: true
  - id: ticket
    propose: create_ticket
    args: {category: tech_support, summary: "기기 조치 후에도 신호 없음"}
    save_as: ticket
    done_ko: "점검 요청을 접수했습니다(접수번호 {ticket.ticket_id})."
"""


def test_loop_repeats_until_the_check_passes(proc_home: Path, db_engine) -> None:  # noqa: ANN001
    orch = _setup(proc_home, db_engine, LOOP, "tech.no_signal", {"신호": "tech.no_signal"})
    conv = orch.start_conversation(customer_id="C1")
    first = orch.handle(conv, "신호가 안 잡혀요")
    assert "껐다가 다시 켜" in first.reply and "해결되셨나요" in first.reply
    second = orch.handle(conv, "아니요 그래도 안 돼요")
    assert "비행기 모드" in second.reply and "껐다가 다시 켜" not in second.reply
    fixed = orch.handle(conv, "네 이제 돼요")
    assert "다행입니다" in fixed.reply and fixed.pending_action is None


def test_loop_ends_after_its_items_and_proposes_the_ticket(proc_home: Path, db_engine) -> None:  # noqa: ANN001
    orch = _setup(proc_home, db_engine, LOOP, "tech.no_signal", {"신호": "tech.no_signal"})
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "신호가 안 잡혀요")
    orch.handle(conv, "아니요")
    third = orch.handle(conv, "안 돼요")
    assert "유심" in third.reply
    ticket = orch.handle(conv, "아니요")
    assert _tools(ticket, "proposed")[:1] == ["create_ticket"] and ticket.pending_action is not None
    done = orch.handle(conv, "네")
    assert "create_ticket" in _tools(done) and "(접수번호 T-" in done.reply and done.verifier.passed


HANDOFF_AND_START = """
procedure: lost_phone_help
description_ko: 분실 안내 후 상담사에게 연결합니다.
identity: none
steps:
  - say: 휴대폰을 잃어버리셨군요. 분실 신고는 상담사가 도와드립니다.
  - start: to_agent
"""

TO_AGENT = """
procedure: to_agent
description_ko: 상담사 연결을 제안합니다.
identity: none
steps:
  - handoff: 지금 상담사에게 연결해 드릴까요?
"""


def test_start_continues_with_another_procedure_and_handoff_transfers(proc_home: Path, db_engine) -> None:  # noqa: ANN001
    _write(proc_home / "procedures" / "to_agent.yaml", TO_AGENT)
    orch = _setup(proc_home, db_engine, HANDOFF_AND_START, "line.lost_help", {"잃어": "line.lost_help"})
    assert set(orch.agents["procedure:lost_phone_help"].tools) == {"transfer_to_human"}
    conv = orch.start_conversation()
    offer = orch.handle(conv, "폰을 잃어버렸어요")  # identity: none — asked nothing
    assert "분실 신고는 상담사" in offer.reply and "연결해 드릴까요" in offer.reply
    assert _tools(offer, "proposed") == ["transfer_to_human"]
    done = orch.handle(conv, "네")
    assert done.handed_off and _tools(done) == ["transfer_to_human"]


START_BUILTIN = """
procedure: bill_first
description_ko: 요금 안내를 기존 요금 안내로 넘깁니다.
steps:
  - start: billing.inquiry
"""


def test_start_hands_a_built_in_intent_to_its_agent(proc_home: Path, db_engine) -> None:  # noqa: ANN001
    orch = _setup(proc_home, db_engine, START_BUILTIN, "billing.shortcut", {"청구": "billing.shortcut"})
    conv = orch.start_conversation(customer_id="C1")
    bill = orch.handle(conv, "청구서 보여줘")
    assert "61,200원" in bill.reply and "get_bills" in _tools(bill)


def test_allow_list_is_the_tools_the_procedure_names(proc_home: Path, db_engine) -> None:  # noqa: ANN001
    orch = _setup(proc_home, db_engine, REFILL, "data.topup", {"충전": "data.topup"})
    agent = orch.agents["procedure:data_topup"]
    assert set(agent.tools) == {"get_data_usage", "refill_data", "list_lines"}  # list_lines: the line extractor
    assert agent.needs_customer


def test_operator_intents_join_the_taxonomy_without_changing_the_contract(proc_home: Path) -> None:
    _write(proc_home / "procedures" / "data_topup.yaml", REFILL)
    _intent_file(proc_home, "data.topup", "data_topup", "충전")
    assert [i.name for i in operator_intents()] == ["data.topup"]
    assert all_intents() == (*INTENTS, "data.topup")
    assert set(AGENT_FOR_INTENT) == set(INTENTS) and AGENT_FOR_INTENT["data.topup"] == "procedure:data_topup"
    assert RouteResult(intents=["data.topup"], confidence=0.9, via="classifier").intents == ["data.topup"]
    with pytest.raises(ValueError):
        RouteResult(intents=["data.nothing"], confidence=0.9, via="classifier")


def test_a_scenario_may_name_an_operator_intent(proc_home: Path) -> None:
    from sangdam.evaluation.scenario import TurnExpect as Expect

    _write(proc_home / "procedures" / "data_topup.yaml", REFILL)
    _intent_file(proc_home, "data.topup", "data_topup", "충전")
    assert Expect(intents=["data.topup"]).intents == ["data.topup"]
    with pytest.raises(ValueError, match="unknown intent 'data.topupp'.*did you mean 'data.topup'"):
        Expect(intents=["data.topupp"])


# =====================================================================================================================
# 3. Bad files: clear English errors naming the file and the step or field
# =====================================================================================================================
def _error(data: Any) -> str:
    with pytest.raises(ProcedureError) as err:
        compile_procedure(data, "p.yaml", extractors={"line", "gb", "plan", "yes_no", "text", "number"})
    return str(err.value)


@pytest.mark.parametrize(("steps", "expected"), [
    ([{"say": "a", "ask": "b"}], "p.yaml: steps[0]: a step needs exactly one of"),
    ([{"shout": "a"}], "p.yaml: steps[0].shout: unknown key 'shout'"),
    ([{"say": "ok"}, {"goto": "nowhere"}], "p.yaml: steps[1].goto: goes to 'nowhere', which is no step id"),
    ([{"say": "포인트는 100점입니다"}], "p.yaml: steps[0].say: Korean text may not state a number of its own"),
    ([{"say": "{a.b|shout}"}], "p.yaml: steps[0].say: unknown filter 'shout'"),
    ([{"ask": "x", "question_ko": "무엇인가요?", "extractor": "mind"}], "p.yaml: steps[0].extractor: unknown extractor"),
    ([{"ask": "x"}], "p.yaml: steps[0]: an 'ask' step needs question_ko"),
    ([{"loop": {"steps": [{"say": "a"}, {"branch": {"on": "x", "cases": [{"equals": 1, "goto": "z"}]}}]}}],
     "p.yaml: steps[0].loop.steps[1].branch.cases[0].goto: goes to 'z'"),
    ([{"branch": {"on": "x", "cases": [{"equals": 1, "gt": 2, "goto": "end"}]}}],
     "p.yaml: steps[0].branch.cases[0]: a condition needs exactly one of"),
    ([{"say": "a", "args": {"x": 1}}], "p.yaml: steps[0]: args does not apply to a 'say' step"),
])
def test_bad_procedure_names_file_and_step(steps: list[Any], expected: str) -> None:
    message = _error({"procedure": "p", "description_ko": "시험", "steps": steps})
    assert message.startswith(expected), message


def test_unreadable_yaml_gives_line_and_column(proc_home: Path) -> None:
    bad = _write(proc_home / "procedures" / "broken.yaml", "procedure: x\nsteps: [\n  - say: a\n")
    with pytest.raises(ProcedureError) as err:
        load_procedures()
    assert str(err.value).startswith(f"{bad}: line ") and "not valid YAML" in str(err.value)


def test_unknown_or_misused_tools_are_named(proc_home: Path) -> None:
    for body, expected in ((
        {"call": "get_points"}, "steps[0].call: no tool named 'get_points'"), (
        {"call": "refill_data"}, "steps[0].call: 'refill_data' is a write tool: use 'propose'"), (
        {"propose": "get_bills"}, "steps[0].propose: 'get_bills' is a read tool: use 'call'")):
        program = compile_procedure({"procedure": "p", "description_ko": "시험", "steps": [body]}, "p.yaml")
        with pytest.raises(ProcedureError, match=re.escape(expected)):
            check_tools(program)


@pytest.mark.parametrize(("change", "expected"), [
    ({"examples": ["하나", "둘"]}, "intents[0].examples: at least 10 training utterances"),
    ({"procedure": "missing"}, "intents[0].procedure: no procedure named 'missing'"),
    ({"name": "billing.inquiry"}, "intents[0].name: 'billing.inquiry' is a built-in intent"),
    ({"name": "Points"}, "intents[0].name: 'Points' is not an intent name"),
    ({"colour": "blue"}, "intents[0].colour: unknown key 'colour'"),
])
def test_bad_intent_file_names_file_and_field(proc_home: Path, change: dict[str, Any], expected: str) -> None:
    _write(proc_home / "procedures" / "data_topup.yaml", REFILL)
    path = _intent_file(proc_home, "data.topup", "data_topup", "충전")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["intents"][0].update(change)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ProcedureError) as err:
        operator_intents()
    assert str(err.value).startswith(f"{path}: {expected}"), str(err.value)
    assert not is_intent("data.topup")  # a broken file registers nothing (the last good set, here none)


def test_the_membership_files_of_the_docs_are_valid(tmp_path: Path) -> None:
    program = compile_procedure(yaml.safe_load(MEMBERSHIP_PROCEDURE), "membership_points.yaml",
                                extractors={"text"})
    assert program.tools == ["get_membership_points"]
    assert json.loads(json.dumps(yaml.safe_load(MEMBERSHIP_INTENT)))["intents"][0]["name"] == "membership.points"


# =====================================================================================================================
# 4. A built-in task as data: line.resume is served by the packaged procedure resources/procedures/line_resume.yaml
# =====================================================================================================================
def _suspend(engine, line_id: str = "L1", *, add: str | None = None) -> None:  # noqa: ANN001
    with session_scope(engine) as s:
        s.get(Line, line_id).status = "suspended"
        s.get(Line, line_id).suspend_reason = "temporary"
        if add:
            s.add(Line(id=add, customer_id="C1", number="010-2222-4444", plan_id="P-5G-59", status="suspended",
                       suspend_reason="temporary"))


def _status(engine, line_id: str) -> str:  # noqa: ANN001
    with session_scope(engine) as s:
        return s.get(Line, line_id).status


RESUME = PinnedRouter({"해제": "line.resume", "풀어": "line.resume"})


def test_line_resume_runs_as_a_procedure_under_the_line_agent(db_engine) -> None:  # noqa: ANN001
    orch = orchestrator(db_engine, router=RESUME)
    assert agent_for("line.resume") == "line"  # the contract is unchanged
    assert orch.agents["line"].by_intent["line.resume"].procedure == "line_resume"
    _suspend(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    proposed = orch.handle(conv, "정지 해제해 주세요")
    assert _tools(proposed, "proposed") == ["resume_line"] and proposed.pending_action["agent"] == "line"
    assert "_procedure" in proposed.pending_action["step"]["slots"]
    restarted = Orchestrator(db_engine, today=orch.today, router=RESUME)  # a restart between the two turns
    done = restarted.handle(conv, "네")
    assert _tools(done).count("resume_line") == 1 and _status(db_engine, "L1") == "active"
    assert "회선(끝자리 3333)의 정지를 해제했습니다" in done.reply and done.verifier.passed


def test_line_resume_asks_which_line_and_takes_the_last_four_digits(db_engine) -> None:  # noqa: ANN001
    orch = orchestrator(db_engine, router=RESUME)
    _suspend(db_engine, add="L1B")
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "정지 풀어주세요")
    assert "어느 회선" in asked.reply and "끝자리 3333" in asked.reply and "끝자리 4444" in asked.reply
    assert asked.verifier.passed
    proposed = orch.handle(conv, "4444 회선이요")
    assert proposed.pending_action["calls"][0]["args"] == {"line_id": "L1B"}
    corrected = orch.handle(conv, "아 아니 3333 회선이요")
    assert corrected.pending_action["calls"][0]["args"] == {"line_id": "L1"}
    done = orch.handle(conv, "네")
    assert _status(db_engine, "L1") == "active" and _status(db_engine, "L1B") == "suspended"
    assert "끝자리 3333" in done.reply and done.verifier.passed


def test_line_resume_refused_while_overdue_and_said_when_active(db_engine) -> None:  # noqa: ANN001
    orch = orchestrator(db_engine, router=RESUME)
    overdue = orch.handle(orch.start_conversation(customer_id="C2"), "정지 해제해 주세요")
    assert "resume_line" not in _tools(overdue) and overdue.pending_action is None
    assert "89,000원" in overdue.reply and _status(db_engine, "L2") == "suspended"
    active = orch.handle(orch.start_conversation(customer_id="C1"), "정지 해제해 주세요")
    assert "이미 정상 이용 중" in active.reply and active.pending_action is None


# roaming.disable is served by resources/procedures/roaming_disable.yaml under the roaming agent
ROAMING_OFF = PinnedRouter({"로밍": "roaming.disable"})


def _roaming(engine, line_id: str, on: bool | None = None, *, add: str | None = None) -> bool:  # noqa: ANN001
    with session_scope(engine) as s:
        if add:
            s.add(Line(id=add, customer_id="C1", number="010-2222-4444", plan_id="P-5G-59", status="active",
                       roaming_enabled=True))
        if on is not None:
            s.get(Line, line_id).roaming_enabled = on
        return s.get(Line, line_id).roaming_enabled


def test_roaming_disable_runs_as_a_procedure_under_the_roaming_agent(db_engine) -> None:  # noqa: ANN001
    orch = orchestrator(db_engine, router=ROAMING_OFF)
    assert agent_for("roaming.disable") == "roaming"
    assert orch.agents["roaming"].by_intent["roaming.disable"].procedure == "roaming_disable"
    _roaming(db_engine, "L1", True)
    conv = orch.start_conversation(customer_id="C1")
    proposed = orch.handle(conv, "로밍 꺼 주세요")
    assert _tools(proposed, "proposed") == ["disable_roaming"] and proposed.pending_action["agent"] == "roaming"
    assert "_procedure" in proposed.pending_action["step"]["slots"]
    done = orch.handle(conv, "네")
    assert _tools(done).count("disable_roaming") == 1 and _roaming(db_engine, "L1") is False
    assert "로밍을 껐습니다" in done.reply and done.verifier.passed
    again = orch.handle(orch.start_conversation(customer_id="C1"), "로밍 꺼 주세요")
    assert "로밍이 이미 꺼져 있습니다" in again.reply and again.pending_action is None


def test_roaming_disable_asks_which_line_and_a_correction_reproposes(db_engine) -> None:  # noqa: ANN001
    orch = orchestrator(db_engine, router=ROAMING_OFF)
    _roaming(db_engine, "L1", True, add="L1B")
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "로밍 해제해 주세요")
    assert "어느 회선" in asked.reply and "끝자리 4444" in asked.reply and asked.verifier.passed
    proposed = orch.handle(conv, "4444 회선이요")
    assert proposed.pending_action["calls"][0]["args"] == {"line_id": "L1B"}
    corrected = orch.handle(conv, "아 아니 3333 회선이요")
    assert corrected.pending_action["calls"][0]["args"] == {"line_id": "L1"}
    orch.handle(conv, "네")
    assert _roaming(db_engine, "L1") is False and _roaming(db_engine, "L1B") is True


def test_a_roaming_status_question_routed_to_disable_is_answered_not_proposed(db_engine) -> None:  # noqa: ANN001
    orch = orchestrator(db_engine, router=ROAMING_OFF)
    _roaming(db_engine, "L1", True)
    status = orch.handle(orch.start_conversation(customer_id="C1"), "제 폰 지금 로밍 켜져 있어요?")
    assert "현재 로밍이 켜져 있습니다" in status.reply and status.pending_action is None


# line.suspend is served by resources/procedures/line_suspend.yaml under the line agent (reason: the Python
# extractor suspend_reason)
class _SuspendRouter(PinnedRouter):
    def route(self, text: str) -> RouteResult:
        if "똑같이" in text:  # an ellipsis ("4444도 똑같이 해 주세요"): no confident task of its own
            return RouteResult(intents=["line.suspend"], confidence=0.3, via="classifier")
        return super().route(text)


SUSPEND = _SuspendRouter({"정지": "line.suspend", "분실": "line.suspend"})


def _add_line(engine, status: str = "active") -> None:  # noqa: ANN001
    with session_scope(engine) as s:
        s.add(Line(id="L1B", customer_id="C1", number="010-2222-4444", plan_id="P-5G-59", status=status,
                   suspend_reason=None if status == "active" else "temporary"))


def test_line_suspend_runs_as_a_procedure_and_a_lost_phone_gets_the_advice(db_engine) -> None:  # noqa: ANN001
    orch = orchestrator(db_engine, router=SUSPEND)
    assert orch.agents["line"].by_intent["line.suspend"].procedure == "line_suspend"
    conv = orch.start_conversation(customer_id="C1")
    proposed = orch.handle(conv, "폰 잃어버렸어요 정지해 주세요")
    assert proposed.pending_action["calls"][0]["args"] == {"line_id": "L1", "reason": "lost"}
    assert "_procedure" in proposed.pending_action["step"]["slots"]
    restarted = Orchestrator(db_engine, today=orch.today, router=SUSPEND)  # a restart between the two turns
    done = restarted.handle(conv, "네")
    assert _tools(done).count("suspend_line") == 1 and _status(db_engine, "L1") == "lost"
    assert done.reply.startswith("회선(끝자리 3333)을 정지했습니다. (사유: 분실)\n분실 신고가 접수되었습니다.")
    assert done.verifier.passed


def test_line_suspend_asks_the_reason_and_says_when_already_suspended(db_engine) -> None:  # noqa: ANN001
    orch = orchestrator(db_engine, router=SUSPEND)
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "회선 정지해 주세요")
    assert asked.reply == "정지 사유를 알려 주세요. 분실, 일시정지, 군입대 중 어떤 경우인가요?"
    proposed = orch.handle(conv, "군입대 때문에요")
    assert proposed.pending_action["calls"][0]["args"] == {"line_id": "L1", "reason": "military"}
    done = orch.handle(conv, "네")
    assert done.reply == "회선(끝자리 3333)을 정지했습니다. (사유: 군입대)" and _status(db_engine, "L1") == "suspended"
    again = orch.handle(orch.start_conversation(customer_id="C1"), "회선 정지해 주세요")
    assert again.reply == "회선(끝자리 3333)은 이미 정지 상태입니다." and again.pending_action is None


def test_line_suspend_correction_rechecks_the_new_line_and_a_repeat_keeps_the_reason(db_engine) -> None:  # noqa: ANN001
    orch = orchestrator(db_engine, router=SUSPEND)
    _add_line(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "회선 정지해 주세요")
    orch.handle(conv, "4444요")
    proposed = orch.handle(conv, "분실이요")
    assert proposed.pending_action["calls"][0]["args"] == {"line_id": "L1B", "reason": "lost"}
    corrected = orch.handle(conv, "아 아니 3333 회선이요")
    assert corrected.pending_action["calls"][0]["args"] == {"line_id": "L1", "reason": "lost"}
    orch.handle(conv, "네")
    assert _status(db_engine, "L1") == "lost" and _status(db_engine, "L1B") == "active"
    repeated = orch.handle(conv, "4444도 똑같이 해 주세요")  # the reason is kept, the procedure starts again
    assert repeated.pending_action["calls"][0]["args"] == {"line_id": "L1B", "reason": "lost"}
    orch.handle(conv, "네")
    assert _status(db_engine, "L1B") == "lost"


def test_a_correction_to_a_line_already_in_that_state_says_so(db_engine) -> None:  # noqa: ANN001
    orch = orchestrator(db_engine, router=ROAMING_OFF)
    _roaming(db_engine, "L1", False, add="L1B")  # 4444 has roaming on, 3333 off
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "로밍 꺼 주세요")
    assert orch.handle(conv, "4444요").pending_action["calls"][0]["args"] == {"line_id": "L1B"}
    corrected = orch.handle(conv, "아 아니 3333 회선이요")
    assert "로밍이 이미 꺼져 있습니다" in corrected.reply and corrected.pending_action is None


ON_ERROR = """
procedure: bill_check
description_ko: 청구서 한 건을 확인합니다.
steps:
  - call: explain_bill
    args: {bill_id: NOPE}
    on_error: {any: missing}
  - say: 확인했습니다.
  - end: true
  - id: missing
    say: 말씀하신 청구서를 찾지 못했습니다.
"""

BROKEN_FIELD = """
procedure: broken_field
description_ko: 없는 값을 말하려는 절차입니다.
steps:
  - say: "{nothing.here}"
"""


def test_on_error_jumps_and_a_missing_field_never_crashes_the_turn(proc_home: Path, db_engine) -> None:  # noqa: ANN001
    _write(proc_home / "procedures" / "broken_field.yaml", BROKEN_FIELD)
    _intent_file(proc_home, "test.broken", "broken_field", "고장")
    orch = _setup(proc_home, db_engine, ON_ERROR, "billing.check", {"청구": "billing.check", "고장": "test.broken"})
    conv = orch.start_conversation(customer_id="C1")
    missing = orch.handle(conv, "청구서 확인")
    assert "찾지 못했습니다" in missing.reply and "확인했습니다" not in missing.reply
    broken = orch.handle(conv, "고장 문의")
    assert "문제가 생겨" in broken.reply


def test_start_of_an_unknown_name_and_serves_in_an_operator_file_are_errors(proc_home: Path) -> None:
    bad_start = _write(proc_home / "procedures" / "p.yaml", """
        procedure: p
        description_ko: 시험 절차
        steps:
          - say: 안내
          - start: nowhere.at_all
        """)
    with pytest.raises(ProcedureError) as err:
        operator_intents()
    assert str(err.value) == f"{bad_start}: steps[1].start: 'nowhere.at_all' is neither a procedure nor an intent"
    bad_start.unlink()
    serves = _write(proc_home / "procedures" / "q.yaml", """
        procedure: q
        description_ko: 시험 절차
        serves: [line.suspend]
        steps:
          - say: 안내
        """)
    with pytest.raises(ProcedureError) as err:
        load_procedures()
    assert str(err.value).startswith(f"{serves}: serves: only packaged procedures may serve built-in intents")


def test_a_procedure_file_broken_mid_conversation_keeps_the_last_good_one(proc_home: Path, db_engine) -> None:  # noqa: ANN001
    orch = _setup(proc_home, db_engine, REFILL, "data.topup", {"충전": "data.topup"})
    conv = orch.start_conversation(customer_id="C1")
    assert "몇 기가" in orch.handle(conv, "데이터 충전해 주세요").reply
    _write(proc_home / "procedures" / "data_topup.yaml", "procedure: data_topup\nsteps: [\n")  # an editor's slip
    with pytest.raises(ProcedureError):
        load_procedures()
    proposed = orch.handle(conv, "2기가요")  # the conversation goes on with the version it started with
    assert proposed.pending_action is not None and _tools(proposed, "proposed") == ["refill_data"]
