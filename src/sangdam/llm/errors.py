"""Typed errors of the LLM layer: a stable ``code``, an English operator message, a Korean customer message.

Korean wording lives in ``resources/llm/errors.yaml`` (one place to review tone), looked up by code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

_ERRORS_YAML = Path(__file__).resolve().parent.parent / "resources" / "llm" / "errors.yaml"


@lru_cache(maxsize=1)
def _customer_messages() -> dict[str, str]:
    return yaml.safe_load(_ERRORS_YAML.read_text(encoding="utf-8"))


class LLMError(Exception):
    """Base class: every LLM failure has a stable code and two messages (operator/customer)."""

    code = "llm.error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def customer_message(self) -> str:
        """Korean, polite message safe to show a customer (never leaks internals)."""
        messages = _customer_messages()
        return messages.get(self.code, messages["default"])


class ModelNotInstalledError(LLMError):
    """The embedded model file is not in ``SANGDAM_HOME/models``."""

    code = "llm.model_missing"


class ModelCorruptError(LLMError):
    """The embedded model file exists but its sha256 or size is wrong."""

    code = "llm.model_corrupt"


class BackendUnavailableError(LLMError):
    """The backend cannot be reached or answered with a server error (or llama-cpp-python is missing)."""

    code = "llm.backend_unavailable"


class LLMTimeoutError(LLMError):
    """The call ran past its ``timeout``."""

    code = "llm.timeout"


class LLMCancelledError(LLMError):
    """The caller set the ``cancel_event``."""

    code = "llm.cancelled"


class StructuredOutputError(LLMError):
    """The model's output did not validate against the JSON schema, even after the repair retry."""

    code = "llm.structured_output"

    def __init__(self, message: str, *, raw: str = "", errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.raw = raw
        self.errors = errors or []


class LLMConfigError(LLMError):
    """Bad ``llm.yaml``, unknown profile or role."""

    code = "llm.config"


class ContextOverflowError(LLMError):
    """Prompt plus ``max_tokens`` exceed the model's context window."""

    code = "llm.context_overflow"
