"""The nouns every LLM backend speaks: messages, tool specs, tool calls, results, stream chunks.

They follow the OpenAI chat-completions shapes on purpose, so the same objects travel unchanged to a vLLM,
SGLang, Ollama or llama-server endpoint and to the embedded llama.cpp backend.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["fast", "strong"]


class FunctionCall(BaseModel):
    """Name and JSON-encoded arguments of one function call (OpenAI shape: ``arguments`` is a string)."""

    name: str
    arguments: str = "{}"

    def args(self) -> dict[str, Any]:
        """The arguments decoded into a dict (``{}`` when empty)."""
        return json.loads(self.arguments or "{}")


class ToolCall(BaseModel):
    """One tool call requested by the model."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(BaseModel):
    """One chat message; ``tool`` messages carry ``tool_call_id`` (OpenAI shape)."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    def to_openai(self) -> dict[str, Any]:
        """Dict for an OpenAI-compatible request body (unset fields left out)."""
        return self.model_dump(exclude_none=True)


class FunctionSpec(BaseModel):
    """A callable function: name, description, JSON schema of its parameters."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolSpec(BaseModel):
    """An OpenAI-shaped tool declaration: ``{"type": "function", "function": {...}}``."""

    type: Literal["function"] = "function"
    function: FunctionSpec


class Usage(BaseModel):
    """Token counts of one call. ``cached_prompt_tokens`` were reused from the prefix cache (not evaluated)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Timings(BaseModel):
    """Latency of one call in milliseconds.

    ``prefill_ms`` is the time spent evaluating the prompt (embedded: measured by llama.cpp; remote: the time
    until the first streamed token, which includes the network), ``first_token_ms`` the wall time until the
    first generated token, ``total_ms`` the wall time of the whole call.
    """

    prefill_ms: float = 0.0
    first_token_ms: float = 0.0
    total_ms: float = 0.0

    @property
    def decode_ms(self) -> float:
        return max(0.0, self.total_ms - self.first_token_ms)


class ChatResult(BaseModel):
    """What a chat call returns.

    ``data`` is the validated JSON object when ``json_schema`` was given (a pydantic instance when the schema
    was a pydantic model class, else a dict). ``reasoning`` holds a reasoning model's thinking, kept apart from
    ``text`` so it never reaches a customer.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    timings: Timings = Field(default_factory=Timings)
    role: str | None = None
    backend: str = ""
    model: str = ""
    finish_reason: str | None = None
    data: Any = None
    reasoning: str | None = None
    repaired: bool = False

    def to_message(self) -> Message:
        """This result as an assistant message, to append to the conversation."""
        return Message(role="assistant", content=self.text or None, tool_calls=self.tool_calls or None)


class ChatChunk(BaseModel):
    """One streamed piece: text delta, or the final chunk with ``done=True`` and the full ``result``."""

    delta: str = ""
    done: bool = False
    result: ChatResult | None = None


def as_messages(messages: list[Message | dict[str, Any]] | str) -> list[Message]:
    """Normalise caller input (a prompt string, dicts or ``Message`` objects) into messages."""
    if isinstance(messages, str):
        return [Message(role="user", content=messages)]
    return [m if isinstance(m, Message) else Message.model_validate(m) for m in messages]


def as_tools(tools: list[ToolSpec | dict[str, Any]] | None) -> list[ToolSpec]:
    """Normalise tool declarations (OpenAI dicts or ``ToolSpec``)."""
    return [t if isinstance(t, ToolSpec) else ToolSpec.model_validate(t) for t in tools or []]
