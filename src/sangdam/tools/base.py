"""Core nouns of the tool layer: risk tiers, the typed error, the call context, proposals and ``Tool``.

A tool is a typed operation on the operator's systems. Read tools answer questions; write and irreversible tools
change the account and therefore offer :meth:`Tool.preview` (every business-rule check and the computed effect,
nothing written) so the orchestrator can ask the customer first, then :meth:`Tool.run` to commit it once per
idempotency key, audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Engine

from sangdam.tools import messages


class RiskTier(StrEnum):
    """How dangerous a call is: reads run freely, writes need the customer's agreement, irreversible ones too
    (and a human finishes them)."""

    read = "read"
    write = "write"
    irreversible = "irreversible"


class ToolError(Exception):
    """A refused or failed tool call, with a stable ``code``, an English operator message and a Korean
    customer message (rendered from ``tools.ko.yaml`` with ``details`` unless given)."""

    def __init__(
        self,
        code: str,
        message_en: str,
        details: dict[str, Any] | None = None,
        message_ko: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_en = message_en
        self.details = dict(details or {})
        self.message_ko = message_ko if message_ko is not None else messages.error_ko(code, self.details)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (CLI output, traces, HTTP bodies)."""
        return {
            "code": self.code,
            "message_en": self.message_en,
            "message_ko": self.message_ko,
            "details": _jsonable(self.details),
        }


@dataclass
class ToolContext:
    """Who calls, for whom and on which business date.

    ``customer_id`` is the *verified* customer (set by the identity gate); tools never trust a customer id
    passed as an argument. ``idempotency_key`` makes a write run at most once (a retried turn reuses it).
    """

    engine: Engine  # Sangdam's own store (audit, idempotency, throttles); the operator's records are in ``backend``
    today: dt.date
    actor: str = "bot"  # "bot" | "agent:<id>" | "cli"
    customer_id: str | None = None
    idempotency_key: str | None = None
    conversation_id: str | None = None
    source: str | None = None  # where the customer's message came from (client address or session); throttling
    clock: Callable[[], dt.datetime] = field(default=dt.datetime.now, repr=False)
    backend: Any = field(default=None, repr=False)  # a sangdam.backends.Backend; None: the configured one

    @property
    def systems(self) -> Any:
        """The operator's systems this call reaches (the given backend, else the process's configured one)."""
        if self.backend is None:
            from sangdam.backends import backend_for

            self.backend = backend_for(self.engine)
        return self.backend

    def now(self) -> dt.datetime:
        """Timestamp on the business date: ``today`` with the wall-clock time (keeps pinned demo dates coherent)."""
        return dt.datetime.combine(self.today, self.clock().time()).replace(microsecond=0)


class Proposal(BaseModel):
    """What a write would do: shown to the customer (``summary_ko``) before :meth:`Tool.run` is called."""

    tool: str
    args: dict[str, Any]
    effect: dict[str, Any]
    summary_ko: str


class ToolArgs(BaseModel):
    """Base of every input model: unknown arguments are an error (a model inventing arguments is caught)."""

    model_config = ConfigDict(extra="forbid")


class NoArgs(ToolArgs):
    """Tools that take no arguments."""


@dataclass(frozen=True)
class Tool:
    """One tool: its contract (name, descriptions, risk, identity requirement, input and output models) and where
    it runs.

    Built-in tools run on the operator's systems through the backend (``ctx.systems``), which serves them by name
    (the ``sql`` adapter with its own functions on the demo tables, the ``rest`` adapter with the operator's API).
    ``local`` tools run inside Sangdam (``verify_identity``: throttles in Sangdam's store, the match on the
    backend). Imported tools carry their own ``service`` (an OpenAPI operation, an MCP server) with the same
    ``read``/``preview``/``commit`` calls as a backend. Whatever serves it, a write is previewed before the customer
    agrees, then committed once under an idempotency key, audited in Sangdam's store.
    """

    name: str
    description_en: str
    risk: RiskTier
    needs_customer: bool
    input_model: type[ToolArgs]
    output_model: type[BaseModel]
    summarise: Callable[[dict[str, Any]], str] | None = None  # default: the ``proposals.<name>`` template
    local: Callable[[ToolContext, Any], BaseModel] | None = None  # runs in Sangdam, reaching ctx.systems itself
    enrich: Callable[[ToolContext, BaseModel], BaseModel] | None = None  # Sangdam's additions to a backend result
    service: Any = None  # imported tools: their own read/preview/commit provider (None: the backend)
    source: str = "builtin"  # "builtin" | "openapi:<name>" | "mcp:<server>"
    description_ko_text: str | None = None  # imported tools: their Korean description (built-ins: tools.ko.yaml)

    def summary_ko(self, effect: dict[str, Any]) -> str:
        """Korean sentence stating ``effect`` (shown to the customer before they agree)."""
        if self.summarise is not None:
            return self.summarise(effect)
        return messages.text("proposals", self.name, effect)

    @property
    def description_ko(self) -> str:
        if self.description_ko_text is not None:
            return self.description_ko_text
        return messages.description_ko(self.name)

    @property
    def is_write(self) -> bool:
        return self.risk is not RiskTier.read

    def parse_args(self, args: dict[str, Any] | None) -> ToolArgs:
        """Validate raw arguments; ``ToolError('invalid_args')`` names every bad field."""
        return parse_args(self, args)

    def parameters_schema(self) -> dict[str, Any]:
        """JSON Schema of the arguments (plain, no titles, no ``$ref``)."""
        from sangdam.tools.schema import clean_schema

        return clean_schema(self.input_model.model_json_schema())

    def openai_schema(self, lang: str = "en") -> dict[str, Any]:
        """The tool in the OpenAI tools format (``lang='ko'`` for the Korean description)."""
        description = self.description_ko if lang == "ko" else self.description_en
        return {
            "type": "function",
            "function": {"name": self.name, "description": description, "parameters": self.parameters_schema()},
        }

    def run(self, ctx: ToolContext, args: dict[str, Any] | None = None) -> BaseModel:
        """Execute the tool and return an ``output_model`` instance (raises :class:`ToolError`)."""
        from sangdam.tools.execution import run_tool

        return run_tool(self, ctx, args or {})

    def preview(self, ctx: ToolContext, args: dict[str, Any] | None = None) -> Proposal:
        """Dry run of a write: every business-rule check and the effect, without writing anything."""
        from sangdam.tools.execution import preview_tool

        return preview_tool(self, ctx, args or {})


def parse_args(tool: Tool, args: dict[str, Any] | None) -> ToolArgs:
    """Validate ``args`` against ``tool.input_model`` with field-level English and Korean messages."""
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ToolError(
            "invalid_args",
            f"{tool.name}: arguments must be a JSON object, got {type(args).__name__}",
            {"fields": ""},
            message_ko=messages.text("errors", "invalid_args_general"),
        )
    try:
        return tool.input_model.model_validate(args)
    except ValidationError as exc:
        problems = []
        labels = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(arguments)"
            problems.append(f"'{loc}': {err['msg']}")
            label = messages.field_label(str(err["loc"][0]), default=None) if err["loc"] else None
            if label and label not in labels:
                labels.append(label)
        details = {"fields": ", ".join(labels), "errors": problems}
        raise ToolError(
            "invalid_args",
            f"{tool.name}: invalid arguments: " + "; ".join(problems),
            details,
            # Unknown argument names mean nothing to a customer: then a general request to rephrase.
            message_ko=None if labels else messages.text("errors", "invalid_args_general", details),
        ) from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value
