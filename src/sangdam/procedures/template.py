"""Simple templating over a procedure's variables, and the conditions of ``branch`` and ``loop``.

Variables: ``slots.<name>`` (answers to ``ask`` steps), ``<save_as>`` (a tool's or function's result, e.g.
``membership.tier``), ``loop.index`` / ``loop.item`` inside a loop, ``item`` in a step with ``each``,
``customer.verified``, ``request.text`` / ``request.intent`` / ``request.silent`` (the request the step serves,
PII-masked), ``today``. A field is ``{path}`` or ``{path|filter}``; an argument that is exactly one field keeps
the value's type (``{slots.gb}`` → ``3``). Filters: number, won, gb, date, period, speed, last4, optional ("" when
absent), ``t:<group>`` (the template ``<group>.<value>`` of templates/ko.yaml) and the procedure's ``labels``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sangdam.korean.particles import resolve
from sangdam.procedures.models import FIELD, Condition, Template

MISSING = object()


class TemplateError(ValueError):
    """A field names a variable that has no value (a mistake of the procedure)."""


def lookup(variables: dict[str, Any], path: str) -> Any:
    """The value at dotted ``path`` (list items by index: ``lines.0.id``); ``MISSING`` when absent."""
    node: Any = variables
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node


def fill_args(value: Any, variables: dict[str, Any]) -> Any:
    """Arguments with their fields filled (a lone field keeps its type)."""
    if isinstance(value, dict):
        return {k: fill_args(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_args(v, variables) for v in value]
    if not isinstance(value, str):
        return value
    whole = FIELD.fullmatch(value.strip())
    if whole and "|" not in whole.group(1):
        found = lookup(variables, whole.group(1).strip())
        if found is MISSING:
            raise TemplateError(f"{{{whole.group(1)}}} has no value")
        return found
    return render(value, variables, {})


def render(text: str, variables: dict[str, Any], labels: dict[str, dict[str, str]]) -> str:
    """Korean text with its fields filled and particles resolved ("{tier|tiers}(으)로")."""

    def one(match: Any) -> str:
        path, _, flt = match.group(1).partition("|")
        value = lookup(variables, path.strip())
        flt = flt.strip()
        if flt == "optional":  # "" when the variable has no value
            return "" if value is MISSING or value is None else str(value)
        if value is None and flt in ("gb", "speed"):  # no cap: "무제한", "속도 제한 없음"
            return _filter(value, flt, labels)
        if value is MISSING or value is None:
            raise TemplateError(f"{{{match.group(1)}}} has no value")
        return _filter(value, flt, labels)

    return resolve(FIELD.sub(one, text)).strip()


def render_template(key: str, args: dict[str, Any], variables: dict[str, Any],
                    labels: dict[str, dict[str, str]]) -> str:
    """Template ``key`` of templates/ko.yaml, its values the fields of ``args`` filled from ``variables``."""
    from sangdam.orchestrator.format import say

    values = {name: render_template(field.template, field.args, variables, labels) if isinstance(field, Template)
              else render(str(field), variables, labels) if isinstance(field, str) else field
              for name, field in args.items()}
    return say(key, **values)


def _filter(value: Any, name: str, labels: dict[str, dict[str, str]]) -> str:
    from sangdam.orchestrator.format import gb, kdate, kperiod, say, speed, won

    if not name:
        return str(value)
    if name.startswith("t:"):  # a label by value: the template <group>.<value>
        return say(f"{name[2:]}.{value}")
    if name == "period":
        return kperiod(str(value))
    if name == "speed":
        return speed(None if value is None else int(value))
    if name in labels:
        return labels[name].get(str(value), str(value))
    if name == "number":
        number = float(value)
        return f"{int(number):,}" if number == int(number) else f"{number:,}"
    if name == "won":
        return won(float(value))
    if name == "gb":
        return gb(None if value is None else float(value))
    if name == "date":
        return kdate(value if isinstance(value, (str, dt.date)) else str(value))
    if name == "last4":
        digits = "".join(ch for ch in str(value) if ch.isdigit())
        return digits[-4:]
    raise TemplateError(f"unknown filter {name!r}")


def holds(condition: Condition, variables: dict[str, Any], on: str | None = None) -> bool:
    """Whether ``condition`` holds for the variable at its ``on`` (or the branch's ``on``)."""
    path = condition.on or on
    assert path is not None
    value = lookup(variables, path)
    value = None if value is MISSING else value
    op, expected = condition.operator()
    if op == "empty":
        return _is_empty(value) == bool(expected)
    if op == "not_empty":
        return _is_empty(value) != bool(expected)
    if op == "equals":
        return _same(value, expected)
    if op == "not_equals":
        return not _same(value, expected)
    if op == "in":
        return any(_same(value, e) for e in expected or [])
    if op == "not_in":
        return not any(_same(value, e) for e in expected or [])
    number = _number(value)
    if number is None:
        return False
    return {"gt": number > expected, "gte": number >= expected, "lt": number < expected,
            "lte": number <= expected}[op]


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        return None


def _same(value: Any, expected: Any) -> bool:
    if value == expected:
        return True
    a, b = _number(value), _number(expected)
    if a is not None and b is not None and not isinstance(expected, bool):
        return a == b
    return str(value) == str(expected) if value is not None and expected is not None else False
