"""The ``rest`` adapter's mapping file: which operation of the operator's OpenAPI document serves which Backend
call, and how requests and answers are translated (docs/backends.md, "The mapping file").

Loading validates everything that can be checked without calling the API — the file's structure, every operation
key, expression, map, shape and converter, the tools' argument and result fields — and then, against the OpenAPI
document, every operationId and parameter (:mod:`sangdam.backends.openapi`). A problem raises
:class:`~sangdam.backends.BackendConfigError` naming the file, the path inside it (``operations.get_bills.params
.subscriberId``), its line, and the reason; the first problem is the error's ``path``, all of them are listed.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


# Backend calls that are not tools, and the arguments their requests carry (``args.<name>``).
LOOKUPS: dict[str, tuple[str, ...]] = {"find_customer": ("phone", "birth_date"),
                                       "customer_names": ("customer_ids",), "plan_names": ()}
REQUEST_KEYS = ("args", "customer_id", "today", "idempotency_key")
PACKAGED = "builtin:"  # mapping: builtin:reference-bss → resources/backends/reference-bss.mapping.yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expr(_Strict):
    """A value expression (see :mod:`sangdam.backends.transform`); a bare string is ``{path: ...}``."""

    path: str | None = None
    request: str | None = None
    const: Any = None
    each: str | None = None
    fields: dict[str, Expr] | None = None
    value: Expr | None = None
    shape: str | None = None
    map: dict[str, Any] | str | None = None
    convert: str | list[str] | None = None
    default: Any = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return {"path": raw}
        return raw

    @model_validator(mode="after")
    def _consistent(self) -> Expr:
        bases = [k for k in ("path", "request", "const") if k in self.model_fields_set]
        if len(bases) > 1:
            raise ValueError(f"give one of path / request / const, not {' and '.join(bases)}")
        if self.each is not None and bases:
            raise ValueError("'each' names the list itself: do not combine it with " + bases[0])
        if self.value is not None and self.fields is not None:
            raise ValueError("give 'value' or 'fields' for each item, not both")
        if self.value is not None and self.each is None:
            raise ValueError("'value' describes list items: it needs 'each'")
        if self.shape is not None and self.fields is not None:
            raise ValueError("give 'shape' or 'fields', not both")
        return self

    @property
    def has_const(self) -> bool:
        return "const" in self.model_fields_set

    @property
    def converters(self) -> list[str]:
        if self.convert is None:
            return []
        return [self.convert] if isinstance(self.convert, str) else list(self.convert)


class Paginate(_Strict):
    """A paged collection: every page is fetched and their ``items`` lists concatenated (the rest of the first
    page is kept, so totals next to the list stay readable)."""

    items: str = "data"
    next: str = "page.next"
    cursor_param: str = "cursor"
    limit_param: str | None = "limit"
    limit: int | None = Field(default=None, ge=1, description="page size to ask for (default: the API's)")
    max_pages: int = Field(default=50, ge=1, le=1000)


class ErrorRule(_Strict):
    """Their error code → a Sangdam error: ``code`` (a key of ``errors:`` in tools.ko.yaml) and its ``details``
    (expressions over their error's details), and/or a Korean ``message_ko`` (``{placeholders}`` from details).
    Without ``code`` the refusal is ``backend_refused``."""

    code: str | None = None
    details: dict[str, Expr] = Field(default_factory=dict)
    message_ko: str | None = None

    @model_validator(mode="after")
    def _something(self) -> ErrorRule:
        if self.code is None and self.message_ko is None:
            raise ValueError("an error rule needs 'code' (a Sangdam error code) or 'message_ko' (a Korean message)")
        return self


class Call(_Strict):
    """One HTTP call: the operation, where its parameters and body come from, and how its answer is read."""

    operation: str = Field(description="operationId in the OpenAPI document")
    params: dict[str, Expr] = Field(default_factory=dict, description="path/query/header parameters by name")
    body: Expr | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    paginate: Paginate | None = None
    result: Expr
    timeout_s: float | None = Field(default=None, gt=0, le=300)
    errors: dict[str, ErrorRule] = Field(default_factory=dict)


class WriteEntry(_Strict):
    """A write tool: ``preview`` (every check, the effect, nothing written) and ``commit`` (the write; the
    idempotency key is always sent in ``idempotency_header``)."""

    preview: Call
    commit: Call


class Envelope(_Strict):
    """Where their error answers keep the code, the message and the details."""

    code: str = "error.code"
    message: str = "error.message"
    details: str = "error.details"


class MappingFile(_Strict):
    version: Literal[1] = 1
    api: str | None = Field(default=None, description="a label for logs")
    idempotency_header: str = "Idempotency-Key"
    headers: dict[str, str] = Field(default_factory=dict, description="sent with every call")
    error_envelope: Envelope = Field(default_factory=Envelope)
    errors: dict[str, ErrorRule] = Field(default_factory=dict)
    maps: dict[str, dict[str, Any]] = Field(default_factory=dict)
    shapes: dict[str, Expr] = Field(default_factory=dict)
    operations: dict[str, Call | WriteEntry]

    @field_validator("operations", mode="before")
    @classmethod
    def _by_tool(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        out = {}
        for name, entry in raw.items():
            is_write = _is_write(name)
            if is_write is None:
                raise ValueError(f"{name!r} is neither a registered tool nor one of {', '.join(LOOKUPS)}")
            if not isinstance(entry, dict):
                raise ValueError(f"{name}: must be a mapping")
            out[name] = WriteEntry.model_validate(entry) if is_write else Call.model_validate(entry)
        return out

    def call(self, name: str, part: str = "read") -> Call | None:
        entry = self.operations.get(name)
        if isinstance(entry, WriteEntry):
            return getattr(entry, part) if part in ("preview", "commit") else None
        return entry if part == "read" else None


def _is_write(name: str) -> bool | None:
    """True for a write tool, False for a read tool or lookup, None for an unknown name."""
    if name in LOOKUPS:
        return False
    from sangdam.tools.base import ToolError
    from sangdam.tools.registry import get_tool

    try:
        return get_tool(name).is_write
    except ToolError:
        return None


# --- loading -------------------------------------------------------------------------------------------------
class Problem(typing.NamedTuple):
    path: str
    reason: str


def resolve_mapping_path(value: str, base_dir: Path) -> Path:
    """``builtin:<name>`` → the packaged mapping; else a file (relative to ``base_dir``)."""
    if value.startswith(PACKAGED):
        from importlib import resources

        name = value[len(PACKAGED):]
        return Path(str(resources.files("sangdam.resources").joinpath("backends").joinpath(f"{name}.mapping.yaml")))
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """The parsed document and its node tree (for line numbers); raises ``BackendConfigError`` if unreadable."""
    from sangdam.backends import BackendConfigError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BackendConfigError(path, "", f"cannot read the file: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as exc:
        raise BackendConfigError(path, "", f"not valid YAML: {exc}") from None


def line_of(node: yaml.Node | None, path: str) -> int | None:
    """1-based line of ``path`` (dot-separated) in the composed YAML ``node``, as deep as it can be followed."""
    line = None
    for part in [p for p in path.split(".") if p]:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if found is None:
                break
            line = next(k for k, v in node.value if v is found).start_mark.line + 1
            node = found
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def config_error(file: Path, problems: list[Problem], node: yaml.Node | None = None) -> Exception:
    """One :class:`BackendConfigError` for all ``problems``: the first is its ``path``/``reason`` (and ``line``),
    every one is listed in the message as ``file:line: path: reason``; ``problems`` holds them all."""
    from sangdam.backends import BackendConfigError

    def where(p: Problem) -> str:
        line = line_of(node, p.path)
        return f"{file}:{line}" if line else str(file)

    first = problems[0]
    reason = first.reason
    if len(problems) > 1:
        reason += f"\n({len(problems) - 1} more)\n" + "\n".join(f"{where(p)}: {p.path}: {p.reason}" for p in problems[1:])
    error = BackendConfigError(where(first), first.path, reason)  # the message reads file:line: path: reason
    error.file, error.line = str(file), line_of(node, first.path)  # type: ignore[attr-defined]
    error.problems = problems  # type: ignore[attr-defined]
    return error


def pydantic_problems(exc: ValidationError, prefix: str = "") -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if p not in ("Expr", "Call", "WriteEntry")]
        path = ".".join([prefix, *loc] if prefix else loc)
        out.append(Problem(path, err["msg"].removeprefix("Value error, ")))
    return out


def parse_mapping(data: Any, file: Path, node: yaml.Node | None = None) -> MappingFile:
    """The mapping file's model, or ``BackendConfigError`` listing every structural problem."""
    if not isinstance(data, dict):
        raise config_error(file, [Problem("", f"must be a mapping, got {type(data).__name__}")], node)
    try:
        mapping = MappingFile.model_validate(data)
    except ValidationError as exc:
        raise config_error(file, _operation_problems(data) or pydantic_problems(exc), node) from None
    from sangdam.backends.mapping_checks import check_mapping

    problems = check_mapping(mapping)
    if problems:
        raise config_error(file, problems, node)
    return mapping


def _operation_problems(data: dict[str, Any]) -> list[Problem]:
    """Entry-by-entry problems of ``operations`` (pydantic reports a failing before-validator as one error)."""
    ops = data.get("operations")
    if not isinstance(ops, dict):
        return []
    problems: list[Problem] = []
    for name, entry in ops.items():
        is_write = _is_write(name)
        path = f"operations.{name}"
        if is_write is None:
            problems.append(Problem(path, f"{name!r} is neither a registered tool nor one of {', '.join(LOOKUPS)}"))
            continue
        try:
            (WriteEntry if is_write else Call).model_validate(entry)
        except ValidationError as exc:
            problems += pydantic_problems(exc, path)
    rest = {k: v for k, v in data.items() if k != "operations"}
    try:
        MappingFile.model_validate({**rest, "operations": {}})
    except ValidationError as exc:
        problems += pydantic_problems(exc)
    return problems
