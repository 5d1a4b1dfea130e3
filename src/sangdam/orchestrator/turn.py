"""The mutable working set of one turn, shared by the engine and the follow-up handlers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sangdam.agents.base import AgentContext
from sangdam.orchestrator.state import ConversationState


@dataclass
class Turn:
    """Mutable working set of one turn."""

    ctx: AgentContext
    messages: list[str] = field(default_factory=list)
    route: Any = None
    understanding: Any = None  # the commands of the message (understanding.generators.Understanding)
    stages: dict[str, float] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    llm_calls: list[dict[str, Any]] = field(default_factory=list)
    delegated: list[str] = field(default_factory=list)  # clauses no intent serves, handed to the LLM agent

    @property
    def state(self) -> ConversationState:
        return self.ctx.state


def elapsed_ms(t0: float) -> float:
    """Milliseconds since ``t0`` (a ``time.perf_counter()`` reading)."""
    return round((time.perf_counter() - t0) * 1000, 3)
