"""Agent orchestrator: router, planner, executor (sub-agents + blackboard), responder, verifier, state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sangdam.orchestrator.engine import Orchestrator

__all__ = ["Orchestrator"]


def __getattr__(name: str) -> Any:  # lazy: importing the package must not load the whole stack
    if name == "Orchestrator":
        from sangdam.orchestrator.engine import Orchestrator

        return Orchestrator
    raise AttributeError(name)
