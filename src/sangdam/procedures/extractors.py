"""Extractors: how an ``ask`` step reads its slot from the customer's (masked) message.

Built in: ``line`` (one of the verified customer's lines, by its last 4 digits; filled without asking when they
have only one), ``gb`` (a data amount), ``gb_answer`` (a data amount, or a bare number answering a question
about one), ``plan`` (a tariff named in the catalogue), ``suspend_reason`` (분실 /
일시정지 / 군입대: ``lost`` | ``temporary`` | ``military``), ``yes_no``, ``number``, ``choice`` (an item of the
step's ``options`` list, by name or position), ``symptom`` (the troubleshooting flow a fault names, e.g.
``mobile_data``), ``fix_result`` (the answer to a device step: ``resolved`` | ``not_resolved`` | ``ticket``) and
``text`` (the message itself). Python code may register more (``@register_extractor("name")``); a procedure names
them in ``extractor:``. An extractor returns the value, or None when the message does not contain one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sangdam.orchestrator import dialogue

Extractor = Callable[[Any, str], Any]  # (AgentContext, masked text) -> value | None
_EXTRACTORS: dict[str, Extractor] = {}
# Tools an extractor reads through (they join the allow-list of a procedure that uses it).
EXTRACTOR_TOOLS: dict[str, tuple[str, ...]] = {"line": ("list_lines",), "plan": ("list_plans",)}
# Extractors that may find their value in the request itself ("0013 회선 정지해 줘"), before asking.
FROM_REQUEST: set[str] = {"line", "gb", "plan"}  # and those registered with from_request=True


def register_extractor(name: str, tools: tuple[str, ...] = (), *,
                       from_request: bool = False) -> Callable[[Extractor], Extractor]:
    """Register ``fn(ctx, text) -> value | None`` as extractor ``name`` (``tools``: the tools it calls;
    ``from_request``: the request itself is read first, before the question is asked)."""

    def wrap(fn: Extractor) -> Extractor:
        _EXTRACTORS[name] = fn
        if tools:
            EXTRACTOR_TOOLS[name] = tools
        if from_request:
            FROM_REQUEST.add(name)
        return fn

    return wrap


def _load_function_modules() -> None:
    """The packaged function modules may register extractors too (functions/roaming.py: ``country``)."""
    from sangdam.procedures.functions import function_names

    function_names()


def extractor_names() -> list[str]:
    _load_function_modules()
    return list(_EXTRACTORS)


def get_extractor(name: str) -> Extractor:
    _load_function_modules()
    return _EXTRACTORS[name]


def line_value(line: dict[str, Any]) -> dict[str, Any]:
    digits = re.sub(r"\D", "", line.get("number", ""))
    return {"id": line["id"], "last4": digits[-4:], "plan_name": line.get("plan_name"), "status": line.get("status")}


def customer_lines(ctx: Any) -> list[dict[str, Any]]:
    found = ctx.blackboard.get("list_lines") or ctx.call("list_lines").model_dump(mode="json")
    return [ln for ln in found["lines"] if ln.get("status") != "closed"]


def only_line(ctx: Any) -> dict[str, Any] | None:
    """The customer's line when they have exactly one (nothing to ask)."""
    lines = customer_lines(ctx)
    return line_value(lines[0]) if len(lines) == 1 else None


# the line just talked about: "그 회선 요금제는요?" right after a task on one line
_THAT_LINE = re.compile(r"(?:^|\s)[그저]\s*(?:회선|번호|폰|핸드폰|휴대폰)")


def named_line(ctx: Any, text: str, lines: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The line of ``lines`` that ``text`` names: by its last four digits, or as "그 회선" / "그 번호" — the line
    the task of the previous turn was about (``state.last_task``); None when it names none."""
    line = dialogue.match_line(text, lines)
    if line is None and _THAT_LINE.search(text or ""):
        last_id = ((getattr(ctx.state, "last_task", None) or {}).get("slots") or {}).get("line_id")
        line = next((ln for ln in lines if last_id and ln["id"] == last_id), None)
    return line


@register_extractor("line", tools=("list_lines",))
def _line(ctx: Any, text: str) -> Any:
    line = named_line(ctx, text, customer_lines(ctx))
    return line_value(line) if line is not None else None


@register_extractor("gb")
def _gb(ctx: Any, text: str) -> Any:
    amount = dialogue.extract_gb(text)
    if amount is None:
        return None
    return int(amount) if amount == int(amount) else amount


@register_extractor("gb_answer")
def _gb_answer(ctx: Any, text: str) -> Any:
    """The answer to "몇 GB를 충전할까요?": an amount ("2기가", "3GB") or a bare number ("2"); never read from the
    request itself (a bare number there is a line's digits, "0013 회선 충전")."""
    amount = _gb(ctx, text)
    if amount is None:
        digits = [int(t) for t in text.replace("기가", " ").split() if t.isdigit()]
        amount = digits[0] if len(digits) == 1 else None
    return amount


@register_extractor("plan", tools=("list_plans",))
def _plan(ctx: Any, text: str) -> Any:
    plans = (ctx.blackboard.get("list_plans") or ctx.call("list_plans").model_dump(mode="json"))["plans"]
    named = dialogue.match_by_name(text, plans)
    return {"id": named[0]["id"], "name": named[0]["name"]} if named else None


@register_extractor("yes_no")
def _yes_no(ctx: Any, text: str) -> Any:
    if dialogue.is_negative(text) or dialogue.says_not_resolved(text):
        return False
    if dialogue.is_affirmative(text) or dialogue.says_resolved(text):
        return True
    return None


@register_extractor("suspend_reason", from_request=True)
def _suspend_reason(ctx: Any, text: str) -> Any:
    """Why a line is to be suspended: ``lost`` | ``temporary`` | ``military`` (the lexicon's cue words)."""
    return dialogue.suspend_reason(text)


_INT = re.compile(r"(?<![\d\[#])(\d{1,9})(?![\d\]])")


@register_extractor("number")
def _number(ctx: Any, text: str) -> Any:
    m = _INT.search(text)
    return int(m.group(1)) if m else None


@register_extractor("choice")
def _choice(ctx: Any, text: str) -> Any:
    """A pick from the step's ``options`` list: read by the runner, which holds the list (never called alone)."""
    return None


@register_extractor("symptom", from_request=True)
def _symptom(ctx: Any, text: str) -> Any:
    """The troubleshooting flow whose trigger words the message uses (resources/agents/troubleshooting.yaml)."""
    from sangdam.procedures.functions.tech import pick_flow

    return pick_flow(text)


@register_extractor("fix_result")
def _fix_result(ctx: Any, text: str) -> Any:
    """How a device step went: ``resolved`` ("됐어요"), ``not_resolved`` ("아니요", "그래도 안 돼요", "네 해 봤어요")
    or ``ticket`` ("점검 접수해 주세요"); None for anything else (a new request)."""
    from sangdam.procedures.functions.tech import fix_result

    return fix_result(text)


@register_extractor("text")
def _text(ctx: Any, text: str) -> Any:
    clean = text.strip()
    return clean or None
