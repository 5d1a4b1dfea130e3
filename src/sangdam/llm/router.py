"""Fast/strong tiers: pick a role per call, build its backend lazily, account tokens and time per role.

Callers name a role (``role="strong"``) or describe the call (``difficulty=0.8``, ``latency_budget_ms=1500``)
and the router picks. Nothing loads until the first call of a role: loading an embedded model takes seconds.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel

from sangdam.llm.backend import ChatBackend
from sangdam.llm.config import LLMConfig, RoleConfig, load_llm_config
from sangdam.llm.errors import LLMConfigError, LLMError
from sangdam.llm.profiles import get_profile
from sangdam.llm.types import ChatChunk, ChatResult, Role

Difficulty = float | Literal["easy", "normal", "hard"]
_DIFFICULTY = {"easy": 0.0, "normal": 0.4, "hard": 1.0}


class RoleStats(BaseModel):
    """Running totals for one role."""

    calls: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    total_ms: float = 0.0


class CallRecord(BaseModel):
    """One call as the router saw it (kept in a bounded history for traces and the console)."""

    role: str
    backend: str
    model: str
    ok: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    total_ms: float = 0.0
    error: str | None = None


def build_backend(config: RoleConfig) -> ChatBackend:
    """Construct (but do not load) the backend a role's configuration describes."""
    profile = get_profile(config.profile)
    if config.backend == "openai":
        from sangdam.llm.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(base_url=config.base_url or "", profile=profile, model=config.model,
                                   api_key_env=config.api_key_env, timeout_s=config.timeout_s)
    from sangdam.llm.embedded import EmbeddedBackend

    if not profile.weights:
        raise LLMConfigError(f"profile {profile.name} has no embedded weights; use backend: openai")
    return EmbeddedBackend.from_weights(profile.weights, profile=profile, n_ctx=config.n_ctx,
                                        n_threads=config.n_threads, prefix_cache_entries=config.prefix_cache_entries,
                                        tool_format=config.tool_format)


class LLMRouter:
    """Role-aware front of the LLM layer; thread-safe. ``backends`` overrides construction (tests)."""

    def __init__(self, config: LLMConfig | None = None, backends: dict[str, ChatBackend] | None = None) -> None:
        self.config = config or LLMConfig()
        self._backends: dict[str, ChatBackend] = dict(backends or {})
        self._shared: dict[tuple, ChatBackend] = {}
        self._lock = threading.Lock()
        self._stats = {role: RoleStats() for role in ("fast", "strong")}
        self.history: deque[CallRecord] = deque(maxlen=1000)

    # -- choosing -------------------------------------------------------------------------------------------

    def pick_role(
        self, role: Role | None = None, difficulty: Difficulty | None = None, latency_budget_ms: float | None = None
    ) -> Role:
        """``role`` if given; a tight latency budget → fast; a hard difficulty → strong; else the default."""
        if role is not None:
            if role not in ("fast", "strong"):
                raise LLMConfigError(f"unknown role {role!r}; use 'fast' or 'strong'")
            return role
        routing = self.config.routing
        if latency_budget_ms is not None and latency_budget_ms < routing.strong_min_budget_ms:
            return "fast"
        if difficulty is not None:
            level = _DIFFICULTY[difficulty] if isinstance(difficulty, str) else float(difficulty)
            return "strong" if level >= routing.hard_threshold else "fast"
        return routing.default_role

    def backend(self, role: Role) -> ChatBackend:
        """The backend serving ``role``, built on first use (same configuration → same instance)."""
        with self._lock:
            if role in self._backends:
                return self._backends[role]
            cfg = self.config.roles[role]
            key = cfg.share_key()
            if key not in self._shared:
                self._shared[key] = build_backend(cfg)
            self._backends[role] = self._shared[key]
            return self._backends[role]

    # -- calling --------------------------------------------------------------------------------------------

    def chat(
        self,
        messages: Any,
        *,
        role: Role | None = None,
        difficulty: Difficulty | None = None,
        latency_budget_ms: float | None = None,
        **kwargs: Any,
    ) -> ChatResult | Iterator[ChatChunk]:
        """``ChatBackend.chat`` on the picked role's backend; the result's ``role`` says which was used.

        Keyword arguments are those of ``ChatBackend.chat`` (tools, json_schema, stream, max_tokens, …).
        A role's configured ``reasoning`` default applies when the call does not set ``reasoning``.
        """
        picked = self.pick_role(role, difficulty, latency_budget_ms)
        if kwargs.get("reasoning") is None and self.config.roles[picked].reasoning is not None:
            kwargs["reasoning"] = self.config.roles[picked].reasoning
        backend = self.backend(picked)
        if kwargs.get("stream"):
            return self._stream(picked, backend, messages, kwargs)
        try:
            result = backend.chat(messages, **kwargs)
        except LLMError as exc:
            self._record_error(picked, backend, exc)
            raise
        assert isinstance(result, ChatResult)
        self._record(picked, backend, result)
        return result

    def _stream(self, role: Role, backend: ChatBackend, messages: Any, kwargs: dict[str, Any]) -> Iterator[ChatChunk]:
        try:
            for chunk in backend.chat(messages, **kwargs):  # type: ignore[union-attr]
                if chunk.done and chunk.result is not None:
                    self._record(role, backend, chunk.result)
                yield chunk
        except LLMError as exc:
            self._record_error(role, backend, exc)
            raise

    def _record(self, role: Role, backend: ChatBackend, result: ChatResult) -> None:
        result.role = role
        with self._lock:
            s = self._stats[role]
            s.calls += 1
            s.prompt_tokens += result.usage.prompt_tokens
            s.completion_tokens += result.usage.completion_tokens
            s.cached_prompt_tokens += result.usage.cached_prompt_tokens
            s.total_ms += result.timings.total_ms
            self.history.append(CallRecord(
                role=role, backend=backend.kind, model=backend.model, ok=True,
                prompt_tokens=result.usage.prompt_tokens, completion_tokens=result.usage.completion_tokens,
                cached_prompt_tokens=result.usage.cached_prompt_tokens, total_ms=result.timings.total_ms))

    def _record_error(self, role: Role, backend: ChatBackend, exc: LLMError) -> None:
        with self._lock:
            self._stats[role].calls += 1
            self._stats[role].errors += 1
            self.history.append(CallRecord(role=role, backend=backend.kind, model=backend.model, ok=False,
                                           error=exc.code))

    def stats(self) -> dict[str, RoleStats]:
        """A snapshot of the per-role totals."""
        with self._lock:
            return {role: s.model_copy() for role, s in self._stats.items()}

    def endpoints(self) -> list[str]:
        """URLs of every configured remote backend (for the sovereignty guard's allow-list)."""
        return sorted({c.base_url for c in self.config.roles.values() if c.backend == "openai" and c.base_url})


@lru_cache(maxsize=1)
def get_llm_router() -> LLMRouter:
    """The process-wide router built from ``llm.yaml`` (call ``reset_llm_router`` after changing it)."""
    return LLMRouter(load_llm_config())


def reset_llm_router() -> None:
    """Forget the process-wide router (tests, configuration reload)."""
    get_llm_router.cache_clear()
