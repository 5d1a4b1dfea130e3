"""The blackboard: facts shared between the steps of one turn (and the source of truth for the verifier)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Blackboard:
    """Tool results by key; every value on it may be stated to the customer, nothing else may."""

    entries: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Any] = field(default_factory=dict)
    extra_facts: list[Any] = field(default_factory=list)

    def put(self, key: str, value: Any, args: dict[str, Any] | None = None) -> None:
        """Latest result under ``key``; every result stays a fact (two payments → both periods)."""
        self.entries[key] = value
        self.extra_facts.append(value)
        if args:
            self.extra_facts.append(args)

    def put_error(self, key: str, err: Any) -> None:
        self.errors[key] = {"code": err.code, "details": getattr(err, "details", {})}
        self.extra_facts.append(getattr(err, "details", {}))

    def get(self, key: str, default: Any = None) -> Any:
        return self.entries.get(key, default)

    def add_fact(self, value: Any) -> None:
        """Facts from other grounded sources (cited passages, stored state of earlier turns)."""
        self.extra_facts.append(value)

    def numbers(self) -> set[float]:
        """Every number stated by a tool result, its arguments, or a cited passage (dates split into parts)."""
        out: set[float] = set()
        for value in [*self.entries.values(), *self.errors.values(), *self.extra_facts]:
            _collect_numbers(value, out)
        return out

    def strings(self) -> list[str]:
        out: list[str] = []
        for value in [*self.entries.values(), *self.extra_facts]:
            _collect_strings(value, out)
        return out


_NUM = re.compile(r"\d[\d,]*(?:\.\d+)?")
# Record ids such as ticket "T-3F7A09C1D2", bill "B-2026-10-L1", line "L9": identifiers, not quantities.
RECORD_ID = re.compile(r"(?<![\w-])(?:[A-Z][A-Z0-9]*-[A-Za-z0-9-]*\d[A-Za-z0-9-]*|[A-Z]+\d+[A-Za-z0-9]*)(?![\w-])")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?")


def _collect_numbers(value: Any, out: set[float]) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        out.add(float(value))
        out.add(float(abs(value)))
        out.add(round(float(value), 1))
        out.add(round(float(value), 2))
        return
    if isinstance(value, (dt.date, dt.datetime)):
        out.update({float(value.year), float(value.month), float(value.day)})
        return
    if isinstance(value, str):
        m = _ISO_DATE.match(value)
        if m:
            out.update(float(g) for g in m.groups() if g)
        for num in _NUM.findall(RECORD_ID.sub(" ", value)):
            try:
                out.add(float(num.replace(",", "")))
            except ValueError:
                pass
        return
    if isinstance(value, dict):
        for v in value.values():
            _collect_numbers(v, out)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            _collect_numbers(v, out)


def _collect_strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_strings(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect_strings(v, out)
