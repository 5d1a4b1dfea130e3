"""The backend contract: one ``chat`` method, shared by the embedded, OpenAI-compatible and scripted backends.

Subclasses implement only ``_generate`` (one model call, streamed as chunks). This base class normalises the
inputs, enforces timeout and cancellation, validates structured output and tool calls, and performs the single
repair retry, so every backend behaves the same for its callers.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel

from sangdam.llm.errors import LLMCancelledError, LLMTimeoutError, StructuredOutputError
from sangdam.llm.profiles import ModelProfile
from sangdam.llm.structured import OutputSchema, repair_messages, validate_tool_calls
from sangdam.llm.types import ChatChunk, ChatResult, Message, ToolSpec, Usage, as_messages, as_tools

ToolChoice = Literal["auto", "required", "none"] | str


@dataclass
class ChatRequest:
    """One normalised model call, as a backend's ``_generate`` receives it."""

    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: ToolChoice = "auto"
    schema: OutputSchema | None = None
    stop: list[str] = field(default_factory=list)
    max_tokens: int = 512
    temperature: float = 0.0
    deadline: float | None = None  # time.monotonic() value
    cancel_event: threading.Event | None = None
    reasoning: bool | None = None
    seed: int | None = None

    def check(self) -> None:
        """Raise if the call was cancelled or ran past its deadline (backends call this between tokens)."""
        if self.cancel_event is not None and self.cancel_event.is_set():
            raise LLMCancelledError("LLM call cancelled by the caller")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise LLMTimeoutError("LLM call exceeded its timeout")

    def remaining(self) -> float | None:
        """Seconds left before the deadline (``None`` when unbounded)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())


class ChatBackend(ABC):
    """A chat-completion backend. ``kind`` names the implementation, ``model`` the served model."""

    kind: str = "abstract"

    def __init__(self, *, model: str, profile: ModelProfile | None = None) -> None:
        self.model = model
        self.profile = profile

    @abstractmethod
    def _generate(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Run one model call; yield text deltas, then one ``done`` chunk carrying the ``ChatResult``."""

    def endpoints(self) -> list[str]:
        """Network endpoints (URLs) this backend talks to; empty for in-process backends."""
        return []

    def load(self) -> None:
        """Load the model now instead of on first use (no-op for remote backends)."""

    def chat(
        self,
        messages: list[Message | dict[str, Any]] | str,
        *,
        tools: list[ToolSpec | dict[str, Any]] | None = None,
        tool_choice: ToolChoice = "auto",
        json_schema: dict[str, Any] | type[BaseModel] | None = None,
        stream: bool = False,
        stop: list[str] | None = None,
        max_tokens: int = 512,
        temperature: float | None = None,
        timeout: float | None = None,
        cancel_event: threading.Event | None = None,
        reasoning: bool | None = None,
        seed: int | None = None,
    ) -> ChatResult | Iterator[ChatChunk]:
        """Chat completion.

        ``messages``: OpenAI-shaped dicts, ``Message`` objects or one prompt string. ``tools``: OpenAI tool
        declarations; calls come back in ``result.tool_calls`` (validated against their parameter schemas).
        ``tool_choice``: ``auto``, ``required``, ``none`` or a tool name. ``json_schema``: a JSON-schema dict or
        a pydantic model class; the answer is constrained where the backend can, validated, retried once with
        a repair prompt, and returned in ``result.data`` (``StructuredOutputError`` if still invalid).
        ``timeout`` (seconds) and ``cancel_event`` stop generation (``LLMTimeoutError``/``LLMCancelledError``).
        ``reasoning`` switches a reasoning model's thinking on/off (profile default when ``None``).
        With ``stream=True`` an iterator of ``ChatChunk`` is returned; its last chunk has ``done`` and ``result``.
        """
        request = ChatRequest(
            messages=as_messages(messages),
            tools=as_tools(tools),
            tool_choice=tool_choice,
            schema=OutputSchema(json_schema) if json_schema is not None else None,
            stop=list(stop or []),
            max_tokens=max_tokens,
            temperature=self._default_temperature() if temperature is None else temperature,
            deadline=time.monotonic() + timeout if timeout else None,
            cancel_event=cancel_event,
            reasoning=reasoning,
            seed=seed,
        )
        chunks = self._validated(request)
        if stream:
            return chunks
        for chunk in chunks:
            if chunk.done and chunk.result is not None:
                return chunk.result
        raise RuntimeError("backend finished without a result")  # a backend bug, not a model failure

    def _default_temperature(self) -> float:
        return self.profile.default_temperature if self.profile else 0.0

    def _validated(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Generate, validate, and repair once when the output is invalid."""
        first = yield from self._one_call(request)
        errors = self._errors(request, first)
        if not errors:
            yield ChatChunk(done=True, result=first)
            return
        # An answer cut off by max_tokens cannot be repaired within the same budget: the retry gets twice as much.
        budget = request.max_tokens * 2 if first.finish_reason == "length" else request.max_tokens
        retry = replace(request, messages=repair_messages(request.messages, _as_text(first), errors), max_tokens=budget)
        second = yield from self._one_call(retry)
        second.repaired = True
        second.usage = Usage(
            prompt_tokens=first.usage.prompt_tokens + second.usage.prompt_tokens,
            completion_tokens=first.usage.completion_tokens + second.usage.completion_tokens,
            cached_prompt_tokens=first.usage.cached_prompt_tokens + second.usage.cached_prompt_tokens,
        )
        second.timings = second.timings.model_copy(
            update={
                "prefill_ms": first.timings.prefill_ms + second.timings.prefill_ms,
                "first_token_ms": first.timings.first_token_ms,
                "total_ms": first.timings.total_ms + second.timings.total_ms,
            }
        )
        errors = self._errors(retry, second)
        if errors:
            raise StructuredOutputError(
                f"{self.kind}:{self.model} returned invalid output twice: {'; '.join(errors)}",
                raw=_as_text(second),
                errors=list(errors),
            )
        yield ChatChunk(done=True, result=second)

    def _one_call(self, request: ChatRequest) -> Iterator[ChatChunk]:
        result: ChatResult | None = None
        for chunk in self._generate(request):
            if chunk.done:
                result = chunk.result
            else:
                yield chunk
        if result is None:
            raise RuntimeError(f"{self.kind} backend yielded no final chunk")
        return result

    @staticmethod
    def _errors(request: ChatRequest, result: ChatResult) -> list[str]:
        if result.tool_calls:
            return validate_tool_calls(result.tool_calls, request.tools)
        if request.tool_choice == "required" and request.tools:
            return ["a tool call was required but the answer has none"]
        if request.schema is not None:
            check = request.schema.validate(result.text)
            if check.ok:
                result.data = check.data
                return []
            return list(check.errors)
        return []


def _as_text(result: ChatResult) -> str:
    if result.tool_calls:
        return "\n".join(
            json.dumps({"name": c.function.name, "arguments": c.function.arguments}, ensure_ascii=False)
            for c in result.tool_calls
        )
    return result.text
