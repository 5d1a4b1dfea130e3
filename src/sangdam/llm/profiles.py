"""Model profiles: what Sangdam must know about a model to drive it well, as YAML data.

A profile says how big the context is, whether the model does tool calls, how to ask the serving stack for
structured output, how to switch reasoning on and off, and whether its Korean is good enough to phrase
customer-facing replies. Adding a model is adding a YAML file: the packaged ones live in ``llm/profiles/``,
an operator's own in ``SANGDAM_HOME/llm/profiles/`` (same name overrides the packaged one).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from sangdam.llm.errors import LLMConfigError

PACKAGED_DIR = Path(__file__).parent / "profiles"


class ReasoningSwitch(BaseModel):
    """How reasoning ("thinking") is switched per call.

    ``method``: ``none`` (no reasoning mode), ``chat_template_kwargs`` (vLLM/SGLang pass ``{kwarg: bool}`` to
    the chat template, e.g. EXAONE 4.0 and Qwen3 ``enable_thinking``), or ``always`` (a reasoning-only model).
    Thinking text is returned between ``think_tags`` or in ``reasoning_content``; it is split off the answer.
    """

    method: Literal["none", "chat_template_kwargs", "always"] = "none"
    kwarg: str = "enable_thinking"
    default: bool = False
    think_tags: tuple[str, str] = ("<think>", "</think>")


class ModelProfile(BaseModel):
    """One model's serving facts. ``model`` is the name the server knows it by (overridable in ``llm.yaml``)."""

    name: str
    display_name: str
    family: str
    model: str
    parameters_b: float = Field(description="Size in billions of parameters.")
    context_length: int
    tool_calls: bool = Field(description="Native function calling through the server (OpenAI `tools`).")
    tool_call_parser: str | None = Field(default=None, description="vLLM --tool-call-parser that fits, if any.")
    structured_output: Literal["response_format", "guided_json", "grammar", "none"] = "response_format"
    reasoning: ReasoningSwitch = Field(default_factory=ReasoningSwitch)
    capable_writer: bool = Field(description="May phrase customer-facing Korean replies.")
    intent_fallback: bool | None = Field(
        default=None,
        description="Trusted to decide intents the classifier is unsure about (default: same as capable_writer). "
        "bench/routing/fallback.py measures it: the embedded Qwen2.5-Coder models are worse than the classifier.",
    )

    agentic: bool = Field(
        default=False,
        description="Trusted to plan and call tools as the LLM agent for requests no procedure covers (docs/agent.md): "
        "its actions are still checked, its writes proposed, its answers verified. Large models only.",
    )

    @property
    def decides_intents(self) -> bool:
        """Whether the router may ask this model when its classifier is unsure."""
        return self.capable_writer if self.intent_fallback is None else self.intent_fallback
    suggested_role: Literal["fast", "strong"] = "strong"
    default_temperature: float = 0.2
    languages: list[str] = Field(default_factory=lambda: ["ko", "en"])
    license: str = ""
    weights: str | None = Field(default=None, description="Embedded weight spec name (llama.cpp profiles only).")
    notes: str = ""


def _user_dir() -> Path:
    from sangdam.config import get_settings

    return get_settings().resolved_home / "llm" / "profiles"


def _load_file(path: Path) -> ModelProfile:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ModelProfile.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise LLMConfigError(f"invalid model profile {path}: {exc}") from exc


@lru_cache(maxsize=4)
def _load_all(user_dir: Path) -> dict[str, ModelProfile]:
    profiles: dict[str, ModelProfile] = {}
    for directory in (PACKAGED_DIR, user_dir):
        if directory.is_dir():
            for path in sorted(directory.glob("*.yaml")):
                profile = _load_file(path)
                profiles[profile.name] = profile
    return profiles


def list_profiles() -> list[ModelProfile]:
    """All known profiles, packaged and the operator's, sorted by name."""
    return sorted(_load_all(_user_dir()).values(), key=lambda p: p.name)


def get_profile(name: str) -> ModelProfile:
    """The profile named ``name``; ``LLMConfigError`` listing the known names otherwise."""
    profiles = _load_all(_user_dir())
    if name not in profiles:
        raise LLMConfigError(f"unknown model profile {name!r}; known: {', '.join(sorted(profiles))}")
    return profiles[name]


def reload_profiles() -> None:
    """Forget cached profiles (after adding a YAML file at run time, or in tests)."""
    _load_all.cache_clear()
