"""Tier configuration: which backend and profile serve the ``fast`` and ``strong`` roles.

Read from ``Settings.llm_config`` or ``SANGDAM_HOME/llm.yaml``; without either, both roles are embedded
llama.cpp models (fast = Qwen2.5-Coder 0.5B, strong = 1.5B). Example for a vLLM cluster serving EXAONE 4.0
with reasoning off for the fast tier and on for the strong tier::

    roles:
      fast:   {backend: openai, profile: exaone-4.0-32b, base_url: http://vllm:8000/v1, reasoning: false}
      strong: {backend: openai, profile: exaone-4.0-32b, base_url: http://vllm:8000/v1, reasoning: true}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from sangdam.llm.errors import LLMConfigError


class RoleConfig(BaseModel):
    """One role's backend. ``embedded`` uses the profile's pinned weights; ``openai`` needs ``base_url``."""

    backend: Literal["embedded", "openai"] = "embedded"
    profile: str
    base_url: str | None = Field(default=None, description="OpenAI-compatible base URL, usually ending in /v1.")
    model: str | None = Field(default=None, description="Served model name; default: the profile's.")
    api_key_env: str | None = Field(default=None, description="Environment variable holding the API key.")
    timeout_s: float = 60.0
    reasoning: bool | None = Field(default=None, description="Default reasoning switch for calls in this role.")
    n_ctx: int = Field(default=4096, description="Embedded: context window allocated (tokens).")
    n_threads: int | None = Field(default=None, description="Embedded: CPU threads (default: all cores).")
    prefix_cache_entries: int = Field(default=8, description="Embedded: cached prompt prefixes kept in RAM.")
    tool_format: Literal["native_grammar", "native_free", "json_grammar"] = Field(
        default="json_grammar", description="Embedded: tool-call prompt format (measured best for Qwen2.5-Coder).")

    @model_validator(mode="after")
    def _openai_needs_url(self) -> RoleConfig:
        if self.backend == "openai" and not self.base_url:
            raise ValueError("backend 'openai' needs base_url")
        return self

    def share_key(self) -> tuple:
        """Roles with the same key share one backend instance (one loaded model, one connection pool)."""
        return (self.backend, self.profile, self.base_url, self.model, self.n_ctx, self.n_threads, self.tool_format)


class RoutingConfig(BaseModel):
    """How the router picks a role when the caller gives a difficulty or a latency budget instead."""

    default_role: Literal["fast", "strong"] = "fast"
    hard_threshold: float = Field(default=0.5, description="Difficulty at or above this goes to strong.")
    strong_min_budget_ms: int = Field(default=4000, description="Latency budgets below this go to fast.")


def _default_roles() -> dict[str, RoleConfig]:
    return {
        "fast": RoleConfig(backend="embedded", profile="qwen2.5-coder-0.5b-instruct"),
        "strong": RoleConfig(backend="embedded", profile="qwen2.5-coder-1.5b-instruct"),
    }


class LLMConfig(BaseModel):
    """The whole ``llm.yaml``."""

    roles: dict[Literal["fast", "strong"], RoleConfig] = Field(default_factory=_default_roles)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    source: str = Field(default="built-in defaults", exclude=True)

    @model_validator(mode="after")
    def _both_roles(self) -> LLMConfig:
        defaults = _default_roles()
        for role in ("fast", "strong"):
            self.roles.setdefault(role, defaults[role])  # type: ignore[index]
        return self


def config_path() -> Path:
    """The file ``load_llm_config`` reads: ``Settings.llm_config`` or ``SANGDAM_HOME/llm.yaml``."""
    from sangdam.config import get_settings

    settings = get_settings()
    return settings.llm_config or settings.resolved_home / "llm.yaml"


def load_llm_config(path: Path | None = None) -> LLMConfig:
    """Parse ``llm.yaml`` (defaults when the file does not exist); ``LLMConfigError`` with the reason if bad."""
    path = path or config_path()
    if not path.exists():
        return LLMConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        config = LLMConfig.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise LLMConfigError(f"invalid LLM configuration {path}: {exc}") from exc
    config.source = str(path)
    return config
