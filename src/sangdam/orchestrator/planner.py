"""Planner: ordered intents → ordered steps with dependencies.

Some intents need facts owned by other agents first; the planner adds those as silent steps so the agents
collaborate through the blackboard (e.g. a recommendation reads usage from ``data`` and the early-termination
amount from ``contract`` before the plans agent suggests anything).
"""

from __future__ import annotations

from sangdam.orchestrator.intents import AGENT_FOR_INTENT
from sangdam.orchestrator.state import Step

# intent → silent prerequisite steps (agent, intent) whose results the main step reads from the blackboard
PREREQUISITES: dict[str, tuple[tuple[str, str], ...]] = {
    "plan.recommend": (("data", "data.usage"), ("contract", "contract.info")),
}


def plan(intents: list[str], text: str) -> list[Step]:
    """Steps for ``intents`` in the customer's order; duplicates and redundant prerequisites are merged."""
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
