"""``LlmIntentFallback``: the router's fallback, asking the LLM fast tier for intents under a JSON schema.

Kept apart from the router so the LLM layer's interface can change here alone. It expects an object with
``chat(messages, role="fast", json_schema=dict, max_tokens=int, temperature=0)`` returning a result whose
``.text`` is the JSON answer (``sangdam.llm.router.LLMRouter``); a scripted backend makes it testable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from sangdam.orchestrator.intents import INTENTS, all_intents, operator_intents
from sangdam.orchestrator.router_training import intents_resource_dir

MAX_INTENTS = 4

INTENT_LIST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "intents": {
            "type": "array",
            "items": {"type": "string", "enum": list(INTENTS)},
            "minItems": 1,
            "maxItems": MAX_INTENTS,
        }
    },
    "required": ["intents"],
    "additionalProperties": False,
}
"""JSON schema the fast tier must answer with: ``{"intents": [...]}`` from the built-in taxonomy."""


def intent_descriptions() -> dict[str, str]:
    """Every intent a route may name now — the built-in taxonomy and the registered operator intents — with the
    description the model reads (resources/intents/llm_prompt.yaml; an operator intent's own ``description_ko``)."""
    described = dict(_prompt().descriptions)
    extra = {spec.name: spec.description_ko for spec in operator_intents()}
    return {name: described.get(name) or extra.get(name, "") for name in all_intents()}


def candidate_schema(candidates: Sequence[str]) -> dict[str, Any]:
    """The intent-list schema narrowed to ``candidates`` (the grammar then cannot produce anything else); without
    a candidate, every intent of the taxonomy and of the operator."""
    known = set(all_intents())
    allowed = [i for i in dict.fromkeys(candidates) if i in known] or list(all_intents())
    schema = json.loads(json.dumps(INTENT_LIST_SCHEMA))
    schema["properties"]["intents"]["items"]["enum"] = allowed
    schema["properties"]["intents"]["maxItems"] = min(MAX_INTENTS, len(allowed))
    return schema


class IntentListAnswer(BaseModel):
    """The LLM's answer, validated."""

    intents: list[str] = Field(min_length=1, max_length=MAX_INTENTS)


class _Prompt(BaseModel):
    system: str
    descriptions: dict[str, str]


@lru_cache(maxsize=1)
def _prompt() -> _Prompt:
    with open(intents_resource_dir() / "llm_prompt.yaml", encoding="utf-8") as fh:
        return _Prompt.model_validate(yaml.safe_load(fh))


class LlmIntentFallback:
    """Implements ``router.IntentFallback`` with one schema-constrained call to the fast tier."""

    def __init__(self, llm: Any, *, role: str = "fast", max_tokens: int = 96) -> None:
        self.llm = llm
        self.role = role
        self.max_tokens = max_tokens

    def messages(self, text: str, candidates: Sequence[str]) -> list[dict[str, str]]:
        """The chat messages sent for ``text`` (system prompt from resources, then the utterance)."""
        listing = "\n".join(f"- {name}: {description}" for name, description in intent_descriptions().items())
        system = _prompt().system.format(intents=listing, candidates=", ".join(candidates) or "-")
        return [{"role": "system", "content": system}, {"role": "user", "content": text}]

    def classify(self, text: str, candidates: Sequence[str]) -> list[str]:
        """Ordered intents from the LLM; ``ValueError`` when its answer is not a valid intent list."""
        result = self.llm.chat(
            self.messages(text, candidates),
            role=self.role,
            json_schema=candidate_schema(candidates),
            max_tokens=self.max_tokens,
            temperature=0,
        )
        try:
            answer = IntentListAnswer.model_validate(json.loads(result.text))
        except (json.JSONDecodeError, ValidationError, TypeError) as exc:
            raise ValueError(f"LLM intent answer is not a valid intent list: {result.text[:200]!r}") from exc
        known = set(all_intents())
        unknown = [i for i in answer.intents if i not in known]
        if unknown:
            raise ValueError(f"LLM answered intents outside the taxonomy: {unknown}")
        return list(dict.fromkeys(answer.intents))
