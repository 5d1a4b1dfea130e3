"""The runner features that let the built-in tasks be data (docs/procedures.md): ``compute`` steps (a registered
Python function: computation only), Korean text by template reference, ``say``/``propose`` with ``each``, the
``choice`` extractor over ``options``, the filters ``period``, ``t:<group>``, ``optional``, and load errors for
each. Operator procedures in a temporary home, routed by an injected keyword router (test_procedures.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from orchestrator_fixtures import orchestrator
from test_procedures import PinnedRouter, _intent_file, _refilled, _tools

from sangdam.orchestrator.format import kdate, kperiod, say, won
from sangdam.procedures import ProcedureError
from sangdam.procedures.functions import FUNCTION_TOOLS, _FUNCTIONS, register_function
from sangdam.procedures.loader import compile_procedure, reset_procedures
from sangdam.procedures.runner import BROKEN_KO


@pytest.fixture
def proc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    from sangdam.config import reset_settings

    path = tmp_path / "home"
    monkeypatch.setenv("SANGDAM_HOME", str(path))
    reset_settings()
    reset_procedures()
    yield path
    reset_settings()
    reset_procedures()


@pytest.fixture
def functions():  # noqa: ANN201
    """Functions an operator's Python package would register (removed again after the test)."""
    added: list[str] = []

    def add(name: str, fn: Any, tools: tuple[str, ...] = ()) -> None:
        register_function(name, tools=tools)(fn)
        added.append(name)

    yield add
    for name in added:
        _FUNCTIONS.pop(name, None)
        FUNCTION_TOOLS.pop(name, None)


def _setup(home: Path, db_engine, procedure: str, intent: str, words: dict[str, str]):  # noqa: ANN001, ANN202
    text = textwrap.dedent(procedure).lstrip()
    name = yaml.safe_load(text)["procedure"]
    (home / "procedures").mkdir(parents=True, exist_ok=True)
    (home / "procedures" / f"{name}.yaml").write_text(text, encoding="utf-8")
    _intent_file(home, intent, name, "테스트")
    return orchestrator(db_engine, router=PinnedRouter(words))


BILLS = """
procedure: bill_list
description_ko: 청구 요금을 모두 안내합니다.
steps:
  - compute: issued_bills
    save_as: found
  - branch:
      on: found.bills
      cases:
        - empty: true
          goto: none
  - say: {template: billing.bill, args: {period: "{item.period|period}", amount: "{item.amount_krw|won}",
                                         due: "{item.due_date|date}", status: "{item.status|t:billing.status}"}}
    each: found.bills
  - say: "합계 {found.total|won}입니다.{found.note|optional}"
  - end: true
  - id: none
    say: 청구 내역이 없습니다.
"""


def _issued_bills(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
    bills = [b.model_dump(mode="json") for b in ctx.call("get_bills", months=12).bills]
    return {"bills": bills, "total": sum(b["amount_krw"] for b in bills)}


def test_compute_feeds_a_template_said_for_each_item(proc_home: Path, db_engine, functions) -> None:  # noqa: ANN001
    functions("issued_bills", _issued_bills, tools=("get_bills",))
    orch = _setup(proc_home, db_engine, BILLS, "bill.list", {"청구": "bill.list"})
    conv = orch.start_conversation(customer_id="C1")
    out = orch.handle(conv, "청구 요금 다 알려줘")
    expected = say("billing.bill", period=kperiod("2026-10"), amount=won(61200), due=kdate("2026-11-25"),
                   status=say("billing.status.issued"))
    assert expected in out.reply, out.reply
    assert "합계 61,200원입니다." in out.reply  # the sum came from the function: a fact the verifier accepts
    assert out.verifier.passed and _tools(out) == ["get_bills"]


def test_a_function_may_call_only_the_tools_it_declares(proc_home: Path, db_engine, functions) -> None:  # noqa: ANN001
    functions("issued_bills", _issued_bills)  # declares no tool: get_bills is outside the allow-list
    orch = _setup(proc_home, db_engine, BILLS, "bill.list", {"청구": "bill.list"})
    conv = orch.start_conversation(customer_id="C1")
    out = orch.handle(conv, "청구 요금 다 알려줘")
    assert out.reply.startswith(BROKEN_KO[:20]) and "61,200" not in out.reply and "get_bills" not in _tools(out)


TWO_REFILLS = """
procedure: split_refill
description_ko: 데이터를 나누어 충전합니다.
steps:
  - ask: line
    question_ko: 어느 회선인가요?
    extractor: line
  - compute: refill_parts
    args: {line: "{slots.line.id}"}
    save_as: parts
  - ask: size
    question_ko: "어느 쪽으로 할까요? {parts.names}"
    extractor: choice
    options: parts.options
  - propose: refill_data
    each: slots.size.amounts
    args: {line_id: "{slots.line.id}", gb: "{item}"}
    save_as: refills
    summary_ko: "{slots.size.name} 충전을 진행합니다."
  - say: "{item.gb|gb} 충전을 마쳤습니다."
    each: refills
"""


def _refill_parts(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
    options = [{"id": "small", "name": "작은 묶음", "amounts": [1]}, {"id": "split", "name": "나눔 묶음", "amounts": [1, 2]}]
    return {"options": options, "names": ", ".join(o["name"] for o in options)}


def test_choice_from_options_then_one_proposal_of_several_calls(proc_home: Path, db_engine, functions) -> None:  # noqa: ANN001
    functions("refill_parts", _refill_parts)
    orch = _setup(proc_home, db_engine, TWO_REFILLS, "data.split", {"충전": "data.split"})
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "데이터 나눠서 충전해 주세요")
    assert "작은 묶음, 나눔 묶음" in asked.reply and asked.pending_action is None
    picked = orch.handle(conv, "두 번째 걸로요")  # by position, in the listed order
    assert picked.pending_action is not None and "나눔 묶음 충전을 진행합니다" in picked.reply
    assert [c["args"]["gb"] for c in picked.pending_action["calls"]] == [1, 2]
    assert _tools(picked, "proposed") == ["refill_data", "refill_data"] and _refilled(db_engine) == 0
    done = orch.handle(conv, "네")
    assert _tools(done).count("refill_data") == 2 and _refilled(db_engine) == 3
    assert "1GB 충전을 마쳤습니다" in done.reply and "2GB 충전을 마쳤습니다" in done.reply, done.reply


def test_a_choice_named_in_the_request_is_not_asked(proc_home: Path, db_engine, functions) -> None:  # noqa: ANN001
    functions("refill_parts", _refill_parts)
    orch = _setup(proc_home, db_engine, TWO_REFILLS, "data.split", {"충전": "data.split"})
    conv = orch.start_conversation(customer_id="C1")
    out = orch.handle(conv, "작은 묶음으로 충전해 주세요")
    assert out.pending_action is not None and [c["args"]["gb"] for c in out.pending_action["calls"]] == [1]


def test_an_answer_that_names_no_option_is_a_new_request(proc_home: Path, db_engine, functions) -> None:  # noqa: ANN001
    functions("refill_parts", _refill_parts)
    orch = _setup(proc_home, db_engine, TWO_REFILLS, "data.split", {"충전": "data.split"})
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "데이터 나눠서 충전해 주세요")
    out = orch.handle(conv, "안녕하세요")
    assert out.pending_action is None and _tools(out, "proposed") == []


@pytest.mark.parametrize(("step", "reason"), [
    ({"compute": "no_such_function"}, "unknown function 'no_such_function'"),
    ({"ask": "x", "question_ko": "고르세요", "extractor": "choice"}, "'options'"),
    ({"ask": "x", "question_ko": "고르세요", "options": "xs"}, "'options'"),
    ({"say": {"template": "billing.nope"}}, "no template of templates/ko.yaml"),
    ({"say": "{b.status|t:billing.nope}"}, "names no group"),
    ({"say": "끝", "each": "not a path"}, "not a variable path"),
    ({"call": "get_bills", "each": "xs"}, "each does not apply to a 'call' step"),
    ({"say": {"template": "billing.item", "args": {"name": "{x|nofilter}", "amount": "{y|won}"}}}, "unknown filter"),
])
def test_load_errors_name_the_step(step: dict[str, Any], reason: str) -> None:
    doc = {"procedure": "p", "description_ko": "설명", "steps": [step]}
    with pytest.raises(ProcedureError) as err:
        compile_procedure(doc, "p.yaml", extractors={"choice", "text"}, functions={"known"})
    assert "steps[0]" in str(err.value) and reason in str(err.value), str(err.value)
