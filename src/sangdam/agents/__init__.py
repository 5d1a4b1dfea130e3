"""Sub-agents: each owns a few intents, an allow-list of tools, and Korean templates in resources."""

from __future__ import annotations

from typing import Any

from sangdam.agents.base import Agent


class _Agents(dict):
    """The sub-agents by name; a procedure added after they were built (``procedure:<name>``) is served on first
    use, so an operator's new intent needs no restart."""

    def __missing__(self, name: str) -> Agent:
        from sangdam.procedures.loader import load_procedures
        from sangdam.procedures.runner import ProcedureAgent

        if not name.startswith("procedure:") or name.removeprefix("procedure:") not in load_procedures(strict=False):
            raise KeyError(name)
        agent = ProcedureAgent(name.removeprefix("procedure:"), self)
        self[name] = agent
        return agent


def build_agents(*, kb_name: str = "default", llm: Any = None) -> dict[str, Agent]:
    """One instance of every sub-agent, keyed by the names used in ``orchestrator.intents.AGENT_FOR_INTENT``, and a
    ``ProcedureAgent`` per procedure (``procedure:<name>``: docs/procedures.md)."""
    from sangdam.agents.conversation import HandoffAgent, KnowledgeAgent, SmalltalkAgent

    agents: list[Agent] = [
        KnowledgeAgent(kb_name=kb_name, llm=llm), HandoffAgent(), SmalltalkAgent(),
    ]
    from sangdam.procedures.runner import all_procedure_agents, serve_builtin_intents

    registry = _Agents({a.name: a for a in agents})
    registry.update(all_procedure_agents(registry))
    serve_builtin_intents(registry)  # built-in intents served by packaged procedures (line.resume)
    return registry
