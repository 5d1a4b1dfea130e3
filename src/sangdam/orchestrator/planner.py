"""Planner: ordered intents → ordered steps with dependencies.

Some intents need facts owned by other agents first; the planner adds those as silent steps so the agents
collaborate through the blackboard (e.g. a recommendation reads usage from ``data`` and the early-termination
amount from ``contract`` before the plans agent suggests anything).
"""

from __future__ import annotations

import re

from sangdam.orchestrator.intents import AGENT_FOR_INTENT
from sangdam.orchestrator.state import Step

# intent → silent prerequisite steps (agent, intent) whose results the main step reads from the blackboard
PREREQUISITES: dict[str, tuple[tuple[str, str], ...]] = {
    "plan.recommend": (("data", "data.usage"), ("contract", "contract.info")),
}


# A question about the rules themselves ("충전은 한 달에 최대 몇 기가까지 돼요?", "위약금은 보통 어떻게
# 계산돼요?") is answered from the operator's documents, not by starting the action.
_RULE_QUESTION = re.compile(r"(보통|일반적으로|어떻게\s*계산|기준이|규정|정책|최대\s*몇|몇\s*기가까지|얼마까지|매달\s*며칠|며칠이에요|며칠인가요)")
_RULE_INTENTS = {"data.refill", "contract.info", "billing.payment", "billing.inquiry", "plan.change"}


def plan(intents: list[str], text: str) -> list[Step]:
    """Steps for ``intents`` in the customer's order; duplicates and redundant prerequisites are merged."""
    if len(intents) == 1 and intents[0] in _RULE_INTENTS and _RULE_QUESTION.search(text):
        intents = ["policy.question"]
    steps: list[Step] = []
    seen: set[str] = set()
    for intent in intents:
        if intent in seen:
            continue
        seen.add(intent)
        deps: list[int] = []
        for agent, pre_intent in PREREQUISITES.get(intent, ()):
            existing = next((i for i, s in enumerate(steps) if s.intent == pre_intent), None)
            if existing is None:
                steps.append(Step(agent=agent, intent=pre_intent, silent=True, text=text))
                existing = len(steps) - 1
            deps.append(existing)
        steps.append(Step(agent=AGENT_FOR_INTENT[intent], intent=intent, depends_on=deps, text=text))
    return steps
