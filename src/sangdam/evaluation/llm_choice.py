"""``--llm scripted|embedded|<role config>``: which LLM the orchestrator gets during an evaluation run.

The orchestrator talks to an :class:`sangdam.llm.router.LLMRouter` (fast and strong roles), so every choice
builds one: scripted backends for tests, the embedded llama.cpp defaults, or a YAML role configuration.
Embedded models load lazily, on the first call that needs them, and are shared by every scenario of the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sangdam.evaluation.runner import LlmProvider
from sangdam.evaluation.scenario import Scenario


class LlmChoiceError(ValueError):
    """The ``--llm`` value names neither a backend nor a readable role config file."""


def scripted_router(responses: list[Any]) -> Any:
    """A router whose fast and strong roles share one scripted backend replaying ``responses`` in order."""
    from sangdam.llm.router import LLMRouter
    from sangdam.llm.scripted import ScriptedBackend

    backend = ScriptedBackend(list(responses))
    return LLMRouter(backends={"fast": backend, "strong": backend})


def make_llm_provider(spec: str) -> LlmProvider:
    """A function giving the LLM object for each scenario.

    - ``scripted``: a fresh scripted backend per scenario (and per run), replaying the scenario's
      ``llm_responses``; a call beyond them fails with ``llm.script_exhausted``.
    - ``embedded``: the default embedded llama.cpp tiers, shared by every scenario.
    - a path: a YAML role configuration (the format of ``llm.yaml``, docs/llm.md), shared by every scenario.
    """
    if spec == "scripted":

        def scripted(scenario: Scenario) -> Any:
            router = scripted_router(scenario.llm_responses or [])
            if scenario.agentic:  # the engine builds the LLM agent for a model trusted to act (docs/agent.md)
                router.agentic = True
            return router

        return scripted

    from sangdam.llm.config import LLMConfig, load_llm_config
    from sangdam.llm.router import LLMRouter

    if spec == "embedded":
        shared = LLMRouter(LLMConfig())
    else:
        path = Path(spec)
        if not path.is_file():
            raise LlmChoiceError(f"--llm {spec!r}: expected 'scripted', 'embedded' or a role config file (YAML)")
        shared = LLMRouter(load_llm_config(path))
    return lambda _scenario: shared
