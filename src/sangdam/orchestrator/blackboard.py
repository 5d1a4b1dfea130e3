"""The blackboard: facts shared between the steps of one turn (and the source of truth for the verifier)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from sangdam.tools.base import ToolError

M = TypeVar("M", bound=BaseModel)


class MissingResult(ToolError):
    """A step was run without the result of a step it needs (the engine never does this; a runner that ignores
    ``depends_on`` may). Its Korean message says what could not be done."""

    def __init__(self, intent: str, missing: list[str], message_ko: str) -> None:
        super().__init__("missing_prerequisite", f"{intent} needs the result of {', '.join(missing)}",
                         {"intent": intent, "missing": missing}, message_ko=message_ko)


@dataclass
class StepResult:
    """How one step of the running plan ended, and what it produced for the steps that depend on it."""

    intent: str
    status: Literal["ok", "failed", "waiting"]  # waiting: it asked the customer something (identity, a slot)
    value: Any = None  # what its agent produced (``Blackboard.produce``), JSON-ready


@dataclass
class Blackboard:
    """Tool results by key; every value on it may be stated to the customer, nothing else may.

    Steps also leave their results here: an agent ``produce``s the result of its step, the engine records how
    each step of the running plan ended (``step_result(index)``), and a step reads the results of the steps it
    depends on with ``inputs`` (typed with ``result``).
    """

    entries: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Any] = field(default_factory=dict)
    extra_facts: list[Any] = field(default_factory=list)
    step_results: dict[int, StepResult] = field(default_factory=dict)  # index in the running plan → result
    produced: dict[str, Any] = field(default_factory=dict)  # intent → latest result an agent produced this turn

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

    # -- results of steps ---------------------------------------------------------------------------------------
    def produce(self, intent: str, value: Any) -> None:
        """The result of the running step of ``intent`` (a tool result, or what the agent derived from its inputs
        by rule): read by the steps that depend on it, and a fact like any tool result."""
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        self.produced[intent] = value
        self.extra_facts.append(value)

    def new_plan(self) -> None:
        """A plan starts running: step indexes now refer to it (results produced stay facts of the turn)."""
        self.step_results = {}

    def record_step(self, index: int, result: StepResult) -> None:
        self.step_results[index] = result

    def step_result(self, index: int) -> StepResult | None:
        """How step ``index`` of the running plan ended; None when it has not run (yet)."""
        return self.step_results.get(index)

    def inputs(self, step: Any, intents: tuple[str, ...], *, blocked: str = "") -> dict[str, Any]:
        """The results ``step`` reads, by intent: those of the steps in its ``depends_on``, as recorded by the
        engine. Where no step was recorded (a runner that runs steps in order without the engine, e.g. drafts
        for a human agent) the latest result produced for that intent this turn. :class:`MissingResult` (a
        ToolError whose Korean message is ``blocked``) when one is absent: never computed here instead."""
        found: dict[str, Any] = {}
        for index in step.depends_on:
            result = self.step_results.get(index)
            if result is not None and result.status == "ok" and result.value is not None:
                found.setdefault(result.intent, result.value)
        if not self.step_results:
            for intent in intents:
                if intent not in found and intent in self.produced:
                    found[intent] = self.produced[intent]
        missing = [i for i in intents if i not in found]
        if missing:
            raise MissingResult(step.intent, missing, blocked)
        return found

    @staticmethod
    def result(inputs: dict[str, Any], intent: str, model: type[M]) -> M:
        """``inputs[intent]`` as ``model`` (the tool result type it was produced from)."""
        return model.model_validate(inputs[intent])

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
