"""Scripted backend for tests: replays declared responses deterministically through the real contract.

Responses go through the same validation and repair path as real models, so a test can script an invalid
JSON answer followed by a valid one and watch the repair retry happen. Every call is recorded in ``calls``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from sangdam.llm.backend import ChatBackend, ChatRequest
from sangdam.llm.errors import LLMError
from sangdam.llm.types import ChatChunk, ChatResult, FunctionCall, Timings, ToolCall, Usage

Scripted = str | dict[str, Any] | ChatResult | Exception
ScriptFunction = Callable[[ChatRequest], Scripted]


class ScriptExhaustedError(LLMError):
    """The test asked for more responses than it scripted."""

    code = "llm.script_exhausted"


class ScriptedBackend(ChatBackend):
    """Answers from a list (in order) or from a function of the request.

    A response is a string (text), a dict ``{"text": ..., "tool_calls": [{"name": ..., "arguments": {...}}]}``,
    a full ``ChatResult``, or an exception instance to raise (e.g. ``LLMTimeoutError``).
    """

    kind = "scripted"

    def __init__(self, responses: list[Scripted] | ScriptFunction, *, model: str = "scripted") -> None:
        super().__init__(model=model)
        self._responses = responses
        self._index = 0
        self.calls: list[ChatRequest] = []

    def _next(self, request: ChatRequest) -> Scripted:
        if callable(self._responses):
            return self._responses(request)
        if self._index >= len(self._responses):
            raise ScriptExhaustedError(f"scripted backend has no response for call {self._index + 1}")
        response = self._responses[self._index]
        self._index += 1
        return response

    def _generate(self, request: ChatRequest) -> Iterator[ChatChunk]:
        started = time.perf_counter()
        self.calls.append(request)
        request.check()
        response = self._next(request)
        if isinstance(response, Exception):
            raise response
        result = _to_result(response)
        for piece in _pieces(result.text):
            request.check()
            yield ChatChunk(delta=piece)
        prompt_words = sum(len((m.content or "").split()) for m in request.messages)
        result.usage = result.usage if result.usage.total_tokens else Usage(
            prompt_tokens=prompt_words, completion_tokens=len(result.text.split())
        )
        elapsed = (time.perf_counter() - started) * 1000
        result.timings = Timings(prefill_ms=0.0, first_token_ms=elapsed, total_ms=elapsed)
        result.backend, result.model = self.kind, self.model
        result.finish_reason = result.finish_reason or ("tool_calls" if result.tool_calls else "stop")
        yield ChatChunk(done=True, result=result)


def _to_result(response: str | dict[str, Any] | ChatResult) -> ChatResult:
    if isinstance(response, ChatResult):
        return response.model_copy(deep=True)
    if isinstance(response, str):
        return ChatResult(text=response)
    calls = [
        ToolCall(
            id=call.get("id") or f"call_{uuid.uuid4().hex[:12]}",
            function=FunctionCall(
                name=call["name"],
                arguments=call["arguments"] if isinstance(call.get("arguments"), str)
                else json.dumps(call.get("arguments", {}), ensure_ascii=False),
            ),
        )
        for call in response.get("tool_calls", [])
    ]
    return ChatResult(text=response.get("text", ""), tool_calls=calls, reasoning=response.get("reasoning"))


def _pieces(text: str) -> Iterator[str]:
    """Split text into word-ish deltas so streaming consumers see several chunks."""
    start = 0
    for i, ch in enumerate(text):
        if ch == " " and i > start:
            yield text[start:i]
            start = i
    if start < len(text):
        yield text[start:]
