"""Whole rules for extractive answers: a statement picked from a list, a table or a short section brings the
rest of its rule, and the item that matches the question's condition leads.

Why: a tiered rule (반환 비율 by months of use, data coupons by size, discounts by number of lines) answered by
some of its items can drop exactly the tier the customer asked about — a wrong answer with a citation. The
unit of an answer is therefore the whole section the statement belongs to (every list item, every table row
with its header, every paragraph under that heading), when the section is small enough to read; a longer
section contributes only its best statement(s).

A condition named in the question (10개월, 3GB, 만 19세 미만, 3회선) is matched against the items' numbers and
ranges (``9~12개월``, ``80만 원 이상 150만 원 미만``, ``5회선 이상``); the matching item is put first, the others
follow in document order so the customer still sees the neighbouring tiers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sangdam.knowledge.models import Chunk

MAX_RULE_CHARS = 700
MAX_RULE_ITEMS = 12

_UNITS = r"개월|GB|MB|세|일|회선|회|만\s?원|원|분|시간"
_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_CONDITION = re.compile(rf"({_NUMBER})\s*({_UNITS})")
_RANGE = re.compile(rf"({_NUMBER})\s*(?:({_UNITS})\s*)?[~∼\-]\s*({_NUMBER})\s*({_UNITS})")
_BOUND = re.compile(rf"({_NUMBER})\s*({_UNITS})\s*(이상|이하|미만|초과)")


@dataclass(frozen=True)
class RuleItem:
    """One statement of a rule: a list item, a table row or a paragraph, with the chunk it comes from."""

    chunk: Chunk
    position: int
    text: str


def section_items(chunks: list[Chunk], source: str, heading: str) -> list[RuleItem]:
    """Every statement under ``heading`` of ``source``, in document order (chunks hold one block per line)."""
    section = sorted((c for c in chunks if c.source == source and c.heading == heading), key=lambda c: c.ordinal)
    return [RuleItem(c, pos, line.strip()) for c in section
            for pos, line in enumerate(c.text.split("\n")) if line.strip()]


def whole_rule(chunks: list[Chunk], source: str, heading: str) -> list[RuleItem] | None:
    """The section as one rule when it is short enough to quote whole; None when it is not."""
    items = section_items(chunks, source, heading)
    if not items or len(items) > MAX_RULE_ITEMS or sum(len(i.text) for i in items) > MAX_RULE_CHARS:
        return None
    return items


def _value(number: str) -> float:
    return float(number.replace(",", ""))


def _unit(unit: str) -> str:
    return re.sub(r"\s", "", unit)


def conditions(question: str) -> list[tuple[float, str]]:
    """The numeric conditions a question names: ``10개월`` → (10, "개월"); ``만 19세 미만`` → (19, "세")."""
    return [(_value(n), _unit(u)) for n, u in _CONDITION.findall(question)]


def matches_condition(text: str, wanted: list[tuple[float, str]]) -> bool:
    """Whether ``text`` states a value, range or bounds that contain one of the ``wanted`` conditions. The
    ranges and bounds of one item hold together (``6개월 초과 12개월 이하`` is 6 < x ≤ 12); a bare number is
    matched exactly only when the item states no range or bound in that unit."""
    for value, unit in wanted:
        checks: list[bool] = []
        for low, low_unit, high, high_unit in _RANGE.findall(text):
            if _unit(high_unit) == unit and (not low_unit or _unit(low_unit) == unit):
                checks.append(_value(low) <= value <= _value(high))
        for number, bound_unit, bound in _BOUND.findall(text):
            if _unit(bound_unit) == unit:
                limit = _value(number)
                checks.append({"이상": value >= limit, "이하": value <= limit, "미만": value < limit,
                               "초과": value > limit}[bound])
        if checks:
            if all(checks):
                return True
            continue
        if any(_unit(u) == unit and _value(n) == value for n, u in _CONDITION.findall(text)):
            return True
    return False


def lead_with_condition(items: list[RuleItem], question: str) -> list[RuleItem]:
    """``items`` with those matching the question's condition first (others keep document order); unchanged
    when the question names no condition or every item (or none) matches it."""
    wanted = conditions(question)
    if not wanted:
        return items
    first = [i for i in items if matches_condition(i.text, wanted)]
    if not first or len(first) == len(items):
        return items
    return first + [i for i in items if i not in first]
