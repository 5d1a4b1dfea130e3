"""Verifier: result checking on every reply before it reaches the customer.

A reply passes when (1) every number, amount, date part and data size in it is found in this turn's tool
results, tool arguments, cited passages or the reviewed template text; (2) every plan name in it came from a
tool result; (3) every action it claims ("변경했습니다") matches a write tool call that actually succeeded this
turn; (4) it contains no phone number, e-mail or RRN at all (PII is never echoed, the customer's own included:
a line is named by its last 4 digits, "끝자리 0005", so no reply, transcript or trace holds a full number).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from sangdam.orchestrator.blackboard import RECORD_ID, Blackboard
from sangdam.orchestrator.resources import load_resource
from sangdam.orchestrator.types import ToolCallRecord, VerifierVerdict

_NUMBER = re.compile(r"(?<![A-Za-z])\d[\d,]*(?:\.\d+)?")
_PHONE = re.compile(r"(?<!\d)(?:\+82[-\s]?)?0\d{1,2}[-\s.]?\d{3,4}[-\s.]?\d{4}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_RRN = re.compile(r"(?<!\d)\d{6}[-\s]?[1-8]\d{6}(?!\d)")
_SERVICE_NUMBERS = {"114", "1588-0114"}
# Reviewed Korean text whose literal numbers may appear in replies ("10초 후", "1~5GB").
TEMPLATE_RESOURCES = ("templates/ko.yaml", "agents/troubleshooting.yaml")


@lru_cache(maxsize=1)
def _claims() -> dict[str, list[str]]:
    """Claim phrase (regex) → write tools any of which makes the claim true."""
    return load_resource("templates/claims.yaml")


@lru_cache(maxsize=1)
def template_numbers() -> frozenset[float]:
    """Numbers written into the reviewed Korean templates themselves (e.g. "1~5GB", "114")."""
    out: set[float] = set()

    def walk(node: object) -> None:
        if isinstance(node, str):
            literal = re.sub(r"\{[^}]*\}", " ", node)
            out.update(_to_float(n) for n in _NUMBER.findall(literal))
        elif isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for resource in TEMPLATE_RESOURCES:
        walk(load_resource(resource))
    return frozenset(out)


def _to_float(num: str) -> float:
    return float(num.replace(",", ""))


class Verifier:
    """Checks a composed reply against the turn's grounded facts."""

    def __init__(self, plan_names: Iterable[str]) -> None:
        self.plan_names = sorted(set(plan_names), key=len, reverse=True)

    def check(self, reply: str, blackboard: Blackboard, tool_calls: list[ToolCallRecord]) -> VerifierVerdict:
        """The verdict on ``reply`` given this turn's facts (``blackboard``) and tool calls."""
        facts = blackboard.numbers() | template_numbers()
        unsupported: list[str] = []

        grounded_text = " ".join(blackboard.strings())
        scrubbed = reply
        for record_id in RECORD_ID.findall(reply):  # record ids are checked whole, as strings
            if record_id not in grounded_text:
                unsupported.append(record_id)
            scrubbed = scrubbed.replace(record_id, " ")
        for pattern in (_PHONE, _EMAIL, _RRN):
            scrubbed = pattern.sub(" ", scrubbed)
        for service in _SERVICE_NUMBERS:
            scrubbed = scrubbed.replace(service, " ")
        for plan_name in self.plan_names:  # "5G 슬림": the 5 is part of a name checked below
            scrubbed = scrubbed.replace(plan_name, " ")
        for num in _NUMBER.findall(scrubbed):
            value = _to_float(num)
            if value not in facts and round(value, 1) not in facts:
                unsupported.append(num)

        remaining = reply
        for plan_name in self.plan_names:
            if plan_name in remaining:
                if plan_name not in grounded_text:
                    unsupported.append(plan_name)
                remaining = remaining.replace(plan_name, " ")

        executed = {c.name for c in tool_calls if c.status == "ok"}
        unexecuted = [
            phrase
            for phrase, tools in _claims().items()
            if re.search(phrase, reply) and not executed.intersection(tools)
        ]

        foreign = [m.group(0) for p in (_PHONE, _EMAIL, _RRN) for m in p.finditer(reply)]
        foreign = [f for f in foreign if f not in _SERVICE_NUMBERS]

        return VerifierVerdict(
            passed=not (unsupported or unexecuted or foreign),
            unsupported=unsupported,
            unexecuted_claims=unexecuted,
            foreign_pii=["[redacted]"] * len(foreign),
        )
