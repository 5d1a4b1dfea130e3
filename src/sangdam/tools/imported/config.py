"""The operator's files that import tools, as pydantic models: the mapping entries shared by OpenAPI and MCP, the
OpenAPI mapping file and ``mcp-servers.yaml``; and the one error every bad file gives (file, path, reason).

A mapping entry says how one outside operation becomes one Sangdam tool::

    tool: book_technician_visit          # the Sangdam name (lower_snake_case, unique among all tools)
    description_ko: 기사 방문을 예약합니다.
    description_en: Book a technician visit at the customer's address.
    risk: write                          # read | write | irreversible (default: GET → read; else write)
    needs_customer: true                 # identity gate (default true)
    customer_param: subscriberId         # receives the verified customer id; never an argument
    confirm_ko: "{visit_date} {slot} 기사 방문을 예약합니다."   # writes: the proposal shown before the customer agrees
    labels: {slot: {morning: 오전, afternoon: 오후}}           # Korean words for argument values in confirm_ko
    result_fields: [bookingId, visitDate, slot]                # only these reach replies (dots for nested fields)
    timeout_s: 5
    fixed: {channel: ai}                 # sent as given, not an argument
    idempotency_param: requestId         # optional: also send the idempotency key in this parameter
    refusals: {"409": 선택하신 시간에는 예약이 마감되었습니다.}  # the system's refusals in Korean (HTTP status or "default")
"""

from __future__ import annotations

import os
import re
import string
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sangdam.tools.base import RiskTier

TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
M = TypeVar("M", bound=BaseModel)


class ImportConfigError(ValueError):
    """An import the operator asked for cannot be used: ``file``, ``path`` (keys inside it) and ``reason``."""

    def __init__(self, file: str | Path, path: str, reason: str) -> None:
        super().__init__(f"{file}: {path or '(top level)'}: {reason}")
        self.file, self.path, self.reason = str(file), path, reason


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Circuit(_Strict):
    """Fail fast for ``reset_s`` seconds after ``failures`` consecutive failures, then try once."""

    failures: int = Field(5, ge=1, le=1000)
    reset_s: float = Field(30.0, gt=0, le=3600)


class Auth(_Strict):
    """A header sent with every request, its value read from an environment variable at call time (never
    stored): ``header: Authorization``, ``env: FIELDOPS_TOKEN``, ``prefix: "Bearer "``."""

    header: str = Field(min_length=1)
    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    prefix: str = ""


class ToolMapping(_Strict):
    """One outside operation as one Sangdam tool (see the module docstring)."""

    tool: str
    description_ko: str = Field(min_length=1)
    description_en: str = Field(min_length=1)
    risk: RiskTier | None = None
    needs_customer: bool = True
    customer_param: str | None = None
    confirm_ko: str | None = None
    labels: dict[str, dict[str, str]] = {}
    result_fields: list[str]
    timeout_s: float | None = Field(None, gt=0, le=120)
    fixed: dict[str, Any] = {}
    idempotency_param: str | None = None
    refusals: dict[str, str] = {}

    @field_validator("tool")
    @classmethod
    def _tool_name(cls, value: str) -> str:
        if not TOOL_NAME.match(value):
            raise ValueError("must be lower_snake_case, start with a letter, at most 64 characters")
        return value

    @field_validator("result_fields")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name or any(not part for part in name.split(".")):
                raise ValueError(f"{name!r} is not a field name (use dots for nested fields: 'address.city')")
        return value

    @field_validator("refusals", mode="before")
    @classmethod
    def _refusal_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = {str(k): v for k, v in value.items()}
            for key in value:
                if key != "default" and not re.fullmatch(r"[45]\d\d", key):
                    raise ValueError(f"key {key!r} must be an HTTP status (400-599) or 'default'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ToolMapping:
        if self.customer_param and not self.needs_customer:
            raise ValueError("customer_param needs needs_customer: true (it is filled from the verified customer)")
        if self.confirm_ko is not None:
            template_fields(self.confirm_ko)  # a malformed template fails here, not in front of a customer
        return self

    def risk_for(self, default: RiskTier) -> RiskTier:
        return self.risk or default

    def check_write(self, risk: RiskTier) -> None:
        """A write must carry its Korean confirmation text."""
        if risk is not RiskTier.read and not self.confirm_ko:
            raise ValueError(f"a {risk} tool needs confirm_ko, the Korean sentence shown before the customer agrees")


class OpenApiMapping(_Strict):
    """The mapping file of ``sangdam tools import openapi``: defaults for every operation, then the operations
    to import, keyed by ``operationId`` (an operation without an entry is not imported)."""

    name: str | None = None
    base_url: str | None = None
    auth: Auth | None = None
    timeout_s: float = Field(10.0, gt=0, le=120)
    circuit: Circuit = Circuit()
    operations: dict[str, ToolMapping] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not SOURCE_NAME.match(value):
            raise ValueError("must be lowercase letters, digits, '-' or '_' (at most 40)")
        return value


class McpServer(_Strict):
    """One MCP server of ``mcp-servers.yaml``: how to reach it and which of its tools become Sangdam tools
    (keyed by the MCP tool name; the same entries as an OpenAPI mapping)."""

    transport: Literal["stdio", "http"]
    command: str | None = None
    args: list[str] = []
    env: dict[str, str] = {}
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = {}
    timeout_s: float = Field(10.0, gt=0, le=120)
    connect_timeout_s: float = Field(15.0, gt=0, le=300)
    circuit: Circuit = Circuit()
    tools: dict[str, ToolMapping] = Field(min_length=1)

    @model_validator(mode="after")
    def _transport(self) -> McpServer:
        if self.transport == "stdio" and not self.command:
            raise ValueError("transport stdio needs 'command'")
        if self.transport == "http" and not (self.url or "").startswith(("http://", "https://")):
            raise ValueError("transport http needs 'url' (http:// or https://)")
        if self.transport == "stdio" and (self.url or self.headers):
            raise ValueError("'url' and 'headers' belong to transport http")
        if self.transport == "http" and (self.command or self.args or self.env or self.cwd):
            raise ValueError("'command', 'args', 'env' and 'cwd' belong to transport stdio")
        return self


class McpServers(_Strict):
    """``$SANGDAM_HOME/mcp-servers.yaml``: ``servers: {name: McpServer}``."""

    servers: dict[str, McpServer] = {}

    @field_validator("servers")
    @classmethod
    def _names(cls, value: dict[str, McpServer]) -> dict[str, McpServer]:
        for name in value:
            if not SOURCE_NAME.match(name):
                raise ValueError(f"server name {name!r} must be lowercase letters, digits, '-' or '_' (at most 40)")
        return value


def read_document(file: Path) -> Any:
    """A YAML or JSON file's contents (JSON is YAML); unreadable or invalid → :class:`ImportConfigError`."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ImportConfigError(file, "", f"cannot read the file: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ImportConfigError(file, "", f"not valid YAML/JSON{where}: {getattr(exc, 'problem', exc)}") from None


def validated(model: type[M], data: Any, file: Path, prefix: str = "") -> M:
    """``data`` as ``model``; the first problem becomes an :class:`ImportConfigError` with its path."""
    if not isinstance(data, dict):
        raise ImportConfigError(file, prefix, f"must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        path = ".".join(p for p in [prefix, *loc] if p)
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown key (check its spelling)"
        raise ImportConfigError(file, path, reason) from None


def template_fields(template: str) -> list[str]:
    """The ``{placeholders}`` of a ``str.format`` template (top-level names); malformed → ``ValueError``."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"confirm_ko is not a valid template: {exc}") from None
    names = []
    for _, field, _, _ in parsed:
        if field is None:
            continue
        if not field or not re.fullmatch(r"[^\W\d][\w-]*", field.split(".")[0].split("[")[0]):
            raise ValueError(f"confirm_ko: {{{field}}} is not a field name")
        names.append(field.split(".")[0].split("[")[0])
    return names


def expand_env(value: str) -> str:
    """``${VAR}`` replaced by the environment's value (headers and env of MCP servers keep secrets out of files);
    a variable that is not set reads as empty."""
    return _ENV.sub(lambda m: os.environ.get(m.group(1), ""), value)


MCP_SERVERS_FILE = "mcp-servers.yaml"


def load_servers_file(home: Path) -> McpServers | None:
    """The MCP servers of ``home/mcp-servers.yaml`` (None when there is no file); invalid → ImportConfigError."""
    file = home / MCP_SERVERS_FILE
    if not file.exists():
        return None
    data = read_document(file)
    config = validated(McpServers, data if data is not None else {}, file)
    for name, server in config.servers.items():
        for mcp_tool, entry in server.tools.items():
            try:
                entry.check_write(entry.risk_for(RiskTier.write))  # MCP tools are writes unless mapped as reads
            except ValueError as exc:
                raise ImportConfigError(file, f"servers.{name}.tools.{mcp_tool}.confirm_ko", str(exc)) from None
    return config
