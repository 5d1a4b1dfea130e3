"""Planner: ordered intents → ordered steps whose ``depends_on`` the engine honours.

Some intents read facts owned by other agents: a recommendation reads the usage (``data.usage``) and the
contract (``contract.info``) first. What each intent needs is declared in ``resources/planner/needs.yaml``,
not written here as conditions. :func:`link` puts every needed step before the step that needs it (a silent
step when the customer did not ask for it), keeps the customer's order otherwise, merges duplicates, and sets
``depends_on`` to the indexes, in the returned list, of the steps whose results a step reads. The engine runs a
step only after those produced their results, and the step reads them from the blackboard
(``Blackboard.inputs``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from sangdam.orchestrator.intents import AGENT_FOR_INTENT
from sangdam.orchestrator.resources import load_resource
from sangdam.orchestrator.state import Step

NEEDS_RESOURCE = "planner/needs.yaml"

# A question about the rules themselves ("충전은 한 달에 최대 몇 기가까지 돼요?", "위약금은 보통 어떻게
# 계산돼요?") is answered from the operator's documents, not by starting the action.
_RULE_QUESTION = re.compile(r"(보통|일반적으로|어떻게\s*계산|기준이|규정|정책|최대\s*몇|몇\s*기가까지|얼마까지|매달\s*며칠|며칠이에요|며칠인가요)")
_RULE_INTENTS = {"data.refill", "contract.info", "billing.payment", "billing.inquiry", "plan.change"}


class PlanTableError(ValueError):
    """The declared table of needs is unusable (unknown intent, a cycle, a missing message)."""


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, Any]]:
    table = load_resource(NEEDS_RESOURCE) or {}
    check_table(table)
    return table


def check_table(table: dict[str, dict[str, Any]]) -> None:
    """Raise :class:`PlanTableError` unless every intent is known, each has its ``blocked`` text, and the
    needs form no cycle."""
    for intent, entry in table.items():
        if intent not in AGENT_FOR_INTENT:
            raise PlanTableError(f"{NEEDS_RESOURCE}: unknown intent {intent!r}")
        for need in entry.get("needs") or ():
            if need not in AGENT_FOR_INTENT:
                raise PlanTableError(f"{NEEDS_RESOURCE}: {intent} needs unknown intent {need!r}")
        if entry.get("needs") and not entry.get("blocked"):
            raise PlanTableError(f"{NEEDS_RESOURCE}: {intent} has no 'blocked' message")

    def visit(intent: str, path: tuple[str, ...]) -> None:
        if intent in path:
            raise PlanTableError(f"{NEEDS_RESOURCE}: cycle {' → '.join((*path, intent))}")
        for need in (table.get(intent) or {}).get("needs") or ():
            visit(need, (*path, intent))

    for intent in table:
        visit(intent, ())


def needs(intent: str) -> tuple[str, ...]:
    """The intents whose results a step of ``intent`` reads (declared order)."""
    return tuple((_table().get(intent) or {}).get("needs") or ())


def blocked_message(intent: str) -> str:
    """What the customer is told when a step of ``intent`` could not run because a needed step failed."""
    return str(_table()[intent]["blocked"]).strip()


def plan(intents: list[str], text: str) -> list[Step]:
    """Steps for ``intents``: the customer's order, needed steps first, duplicates merged (see :func:`link`)."""
    if len(intents) == 1 and intents[0] in _RULE_INTENTS and _RULE_QUESTION.search(text):
        intents = ["policy.question"]
    return link([Step(agent=AGENT_FOR_INTENT[i], intent=i, text=text) for i in intents])


def link(steps: list[Step]) -> list[Step]:
    """``steps`` ordered so that each comes after the steps whose results it needs, with ``depends_on`` set.

    - A needed intent that no step provides is added as a silent step right before the first step needing it
      (about the same line, when that step names one); one the customer asked for later is moved up.
    - Otherwise the order of ``steps`` is kept (a depth-first walk in that order).
    - Duplicates merge: the same intent about the same line runs once (asked for beats silent); a silent step
      that nothing needs is dropped.

    Safe to apply again to any list of steps (a queue carried to a later turn, two queues joined): ``depends_on``
    is recomputed as indexes into the returned list, and a needed step that ran in an earlier turn is added again
    (silently), since a step reads only this turn's results.
    """
    pool: list[Step] = []
    for step in steps:
        twin = next((p for p in pool if _same(p, step)), None)
        if twin is None:
            pool.append(step.model_copy(deep=True))
        elif twin.silent and not step.silent:  # the customer asked for it: it speaks, where it was first placed
            twin.silent = False
            twin.text = step.text
    out: list[Step] = []
    placed: dict[int, int] = {}  # id of a pool step → its index in ``out``

    def visit(step: Step) -> int:
        if id(step) in placed:
            return placed[id(step)]
        deps: list[int] = []
        for need in needs(step.intent):
            provider = next((p for p in pool if p.intent == need and _same_line(p, step)), None)
            if provider is None:
                slots = {"line_id": step.slots["line_id"]} if step.slots.get("line_id") else {}
                provider = Step(agent=AGENT_FOR_INTENT[need], intent=need, silent=True, text=step.text, slots=slots)
                pool.append(provider)
            deps.append(visit(provider))
        step.depends_on = deps
        out.append(step)
        placed[id(step)] = len(out) - 1
        return placed[id(step)]

    for step in list(pool):
        visit(step)
    needed = {d for s in out for d in s.depends_on}
    keep = [i for i, s in enumerate(out) if not s.silent or i in needed]
    if len(keep) == len(out):
        return out
    renumber = {old: new for new, old in enumerate(keep)}
    return [out[i].model_copy(update={"depends_on": [renumber[d] for d in out[i].depends_on]}) for i in keep]


def _same(a: Step, b: Step) -> bool:
    """Whether ``b`` repeats ``a``: the same intent, slots and clause (a silent step merges into any step of its
    intent about the same line; two clauses asking the same thing differently stay two steps)."""
    if a.intent != b.intent:
        return False
    if a.silent or b.silent:
        return _same_line(a, b)
    return a.slots == b.slots and a.text == b.text


def _same_line(a: Step, b: Step) -> bool:
    la, lb = a.slots.get("line_id"), b.slots.get("line_id")
    return la is None or lb is None or la == lb
