"""Responder: composes the Korean reply from the agents' template-rendered messages and has it verified.

With the embedded default model, facts are never free-generated: the reply is the templates' text, each fact
stated once (``repetition.one_fact_once``: the agents' messages of one turn may overlap). When the
configured strong tier is a capable Korean writer (profile flag ``capable_writer``), it may rephrase the
same facts; the rephrasing must pass the verifier, otherwise the template text is used (the verdict says so).
"""

from __future__ import annotations

from typing import Any

from sangdam.agents.base import AgentContext
from sangdam.orchestrator.format import say
from sangdam.orchestrator.repetition import one_fact_once
from sangdam.orchestrator.types import VerifierVerdict
from sangdam.orchestrator.verifier import Verifier
from sangdam.tools.base import ToolError


class Responder:
    def __init__(self, backend: Any, llm: Any = None) -> None:
        self.backend = backend  # the operator's systems: plan names ground the verifier
        self.llm = llm
        self._verifier: Verifier | None = None

    @property
    def verifier(self) -> Verifier:
        if self._verifier is None:
            try:
                names = self.backend.plan_names()
            except ToolError as err:  # the catalogue cannot be read now: check this reply without it, ask again next
                if err.code not in ("backend_unavailable", "backend_outcome_unknown"):
                    raise
                return Verifier([])
            self._verifier = Verifier(names)
        return self._verifier

    def compose(self, messages: list[str], ctx: AgentContext, llm_calls: list[dict[str, Any]], *,
                phrase: bool = True) -> tuple[str, VerifierVerdict]:
        """The reply from the turn's messages, verified; phrased by a capable writer when ``phrase`` (not when the
        LLM agent wrote it: it is a model's text already, verified, and the customer may have seen it drafted)."""
        draft = "\n".join(one_fact_once([m for m in messages if m])) or say("fallback.nothing")
        verdict = self.verifier.check(draft, ctx.blackboard, ctx.tool_calls)
        if not verdict.passed:  # a template bug or a wrong fact: never send it
            fallback = say("fallback.safe")
            return fallback, verdict.model_copy(update={"action": "fallback"})
        if phrase and self.llm is not None and capable_writer(self.llm):
            phrased = self._phrase(draft, llm_calls)
            if phrased:
                second = self.verifier.check(phrased, ctx.blackboard, ctx.tool_calls)
                if second.passed:
                    return phrased, second.model_copy(update={"action": "regenerated"})
                return draft, second.model_copy(update={"passed": True, "action": "fallback"})
        return draft, verdict

    def _phrase(self, draft: str, llm_calls: list[dict[str, Any]]) -> str | None:
        system = say("llm.phrase_system")
        try:
            result = self.llm.chat(
                [{"role": "system", "content": system}, {"role": "user", "content": draft}],
                role="strong", max_tokens=400, temperature=0.2,
            )
        except Exception as err:  # noqa: BLE001 - any backend failure falls back to the template text
            llm_calls.append({"role": "strong", "purpose": "phrase", "error": type(err).__name__})
            return None
        llm_calls.append({"role": "strong", "purpose": "phrase", **_accounting(result)})
        return (getattr(result, "text", "") or "").strip() or None


def capable_writer(llm: Any) -> bool:
    """Whether the strong role's model profile may phrase customer-facing Korean (profile flag)."""
    probe = getattr(llm, "capable_writer", None)
    if callable(probe):
        return bool(probe("strong"))
    if probe is not None:
        return bool(probe)
    config = getattr(llm, "config", None)
    if config is None:
        return False
    from sangdam.llm.profiles import get_profile

    return bool(get_profile(config.roles["strong"].profile).capable_writer)


def _accounting(result: Any) -> dict[str, Any]:
    usage = getattr(result, "usage", None)
    timings = getattr(result, "timings", None)
    return {
        "prompt_tokens": getattr(usage, "prompt_tokens", None),
        "completion_tokens": getattr(usage, "completion_tokens", None),
        "total_ms": getattr(timings, "total_ms", None),
    }
