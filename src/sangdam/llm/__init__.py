"""LLM layer: backends (embedded llama.cpp, OpenAI-compatible, scripted), model profiles, fast/strong tiers.

Callers use ``get_llm_router().chat(messages, role="fast"|"strong", ...)``; see ``docs/llm.md``. Importing this
package is cheap: llama.cpp loads only when an embedded model is first used.
"""

from sangdam.llm.backend import ChatBackend, ChatRequest
from sangdam.llm.errors import (
    BackendUnavailableError,
    ContextOverflowError,
    LLMCancelledError,
    LLMConfigError,
    LLMError,
    LLMTimeoutError,
    ModelCorruptError,
    ModelNotInstalledError,
    StructuredOutputError,
)
from sangdam.llm.router import LLMRouter, get_llm_router, reset_llm_router
from sangdam.llm.scripted import ScriptedBackend
from sangdam.llm.types import ChatChunk, ChatResult, FunctionCall, Message, Timings, ToolCall, ToolSpec, Usage

__all__ = [
    "BackendUnavailableError", "ChatBackend", "ChatChunk", "ChatRequest", "ChatResult", "ContextOverflowError",
    "FunctionCall", "LLMCancelledError", "LLMConfigError", "LLMError", "LLMRouter", "LLMTimeoutError", "Message",
    "ModelCorruptError", "ModelNotInstalledError", "ScriptedBackend", "StructuredOutputError", "Timings",
    "ToolCall", "ToolSpec", "Usage", "get_llm_router", "reset_llm_router",
]
