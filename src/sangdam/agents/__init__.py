"""Sub-agents: each owns a few intents, an allow-list of tools, and Korean templates in resources."""

from __future__ import annotations

from typing import Any

from sangdam.agents.base import Agent


def build_agents(*, kb_name: str = "default", llm: Any = None) -> dict[str, Agent]:
    """One instance of every sub-agent, keyed by the names used in ``orchestrator.intents.AGENT_FOR_INTENT``."""
    from sangdam.agents.billing import BillingAgent
    from sangdam.agents.contract import ContractAgent
    from sangdam.agents.conversation import HandoffAgent, KnowledgeAgent, SmalltalkAgent
    from sangdam.agents.data import DataAgent
    from sangdam.agents.line import LineAgent
    from sangdam.agents.plans import PlansAgent
    from sangdam.agents.roaming import RoamingAgent
    from sangdam.agents.tech_support import TechSupportAgent

    agents: list[Agent] = [
        BillingAgent(), PlansAgent(), DataAgent(), RoamingAgent(), TechSupportAgent(), LineAgent(),
        ContractAgent(), KnowledgeAgent(kb_name=kb_name, llm=llm), HandoffAgent(), SmalltalkAgent(),
    ]
    return {a.name: a for a in agents}
