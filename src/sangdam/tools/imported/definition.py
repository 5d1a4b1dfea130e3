"""One imported tool as data (:class:`ToolDefinition`), and how it becomes a :class:`~sangdam.tools.base.Tool`.

Both kinds of import end here: an OpenAPI operation (its definition stored as JSON under ``SANGDAM_HOME``) and an
MCP server's tool (its definition built from the server's listing). The definition carries everything the tool
needs at run time — the argument schema with the customer parameter already taken out, the allowed result fields
and their schema, the Korean texts — so loading it needs neither the original document nor the network.

What reaches replies is decided here too: :func:`allowed_only` keeps the allow-listed fields of a result and
drops the rest, and the tool's output model ignores any other field, so a field the mapping did not name never
reaches the customer, the model or a trace.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict

from sangdam.backends.resilience import CircuitOpen, NotReached, not_sent
from sangdam.tools import messages
from sangdam.tools.base import RiskTier, Tool, ToolArgs, ToolContext
from sangdam.tools.imported.config import ImportConfigError, ToolMapping, template_fields
from sangdam.tools.imported.schemas import INPUT, OUTPUT, OutputObject, model_from_schema

Location = Literal["path", "query", "header", "body"]


class ImportedArgs(ToolArgs):
    """Arguments of an imported tool: unknown names are an error; names exactly as the outside API spells them."""

    model_config = ConfigDict(extra="forbid", serialize_by_alias=True)


class Target(BaseModel):
    """Where a value goes in an HTTP request: a parameter ``name`` in ``location`` (``body``: a JSON property)."""

    name: str
    location: Location


class ToolDefinition(BaseModel):
    """Everything one imported tool needs at run time (stored as JSON for OpenAPI imports)."""

    model_config = ConfigDict(extra="forbid")

    tool: str
    operation: str  # operationId, or the MCP server's tool name
    description_ko: str
    description_en: str
    risk: RiskTier
    needs_customer: bool
    timeout_s: float
    input_schema: dict[str, Any]  # the arguments (self-contained JSON Schema; no customer or fixed parameter)
    result_schema: dict[str, Any]  # the allowed result fields (object schema)
    result_fields: list[str]
    confirm_ko: str | None = None
    labels: dict[str, dict[str, str]] = {}  # argument → value → Korean word, for confirm_ko
    refusals: dict[str, str] = {}
    customer_param: str | None = None
    idempotency_param: str | None = None
    fixed: dict[str, Any] = {}
    # OpenAPI only: the request, and where each argument (by its name), customer or fixed value goes.
    method: str | None = None
    path: str | None = None
    targets: dict[str, Target] = {}
    body: bool = False


class ImportedService:
    """What both kinds of import share as a tool's ``service``: reads call the operation; a write's preview calls
    **nothing** (its effect is the validated arguments, from which ``confirm_ko`` is rendered); a commit calls it
    once under the idempotency key, and a request that never left Sangdam (circuit open, no connection) is
    reported as not done. Subclasses send the call (:meth:`_call`)."""

    definitions: dict[str, ToolDefinition]

    def read(self, tool: str, ctx: ToolContext, args: BaseModel) -> dict[str, Any]:
        """Call the operation; its allowed fields."""
        return self._call(self.definitions[tool], ctx, args, None)

    def preview(self, tool: str, ctx: ToolContext, args: BaseModel) -> dict[str, Any]:
        """The effect of a write: its validated arguments. Nothing is sent."""
        return args.model_dump(mode="json", exclude_none=True)

    def commit(self, tool: str, ctx: ToolContext, args: BaseModel, idempotency_key: str | None) -> dict[str, Any]:
        """Call the write once under ``idempotency_key`` (a fresh key when the caller has none)."""
        try:
            return self._call(self.definitions[tool], ctx, args, idempotency_key or uuid.uuid4().hex)
        except (CircuitOpen, NotReached) as exc:
            raise not_sent(exc, tool=tool) from exc

    def _call(self, d: ToolDefinition, ctx: ToolContext, args: BaseModel, key: str | None) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def values(d: ToolDefinition, ctx: ToolContext, args: BaseModel, key: str | None) -> dict[str, Any]:
        """Everything the call sends, by the outside API's names: the fixed values, the given arguments, the
        verified customer's id in ``customer_param`` (the argument model has no such field, so no argument can
        set it) and the idempotency key in ``idempotency_param``."""
        values: dict[str, Any] = {**d.fixed, **args.model_dump(mode="json", exclude_none=True)}
        if d.customer_param:
            values[d.customer_param] = ctx.customer_id
        if key is not None and d.idempotency_param:
            values[d.idempotency_param] = key
        return values


def define(entry: ToolMapping, *, operation: str, risk: RiskTier, timeout_s: float, arguments: dict[str, Any],
           required: list[str], response: dict[str, Any] | None, file: Path, where: str) -> ToolDefinition:
    """The definition of mapping ``entry`` (at ``where`` in ``file``) for an operation taking ``arguments`` (name →
    JSON Schema) and answering ``response`` (an object schema, when documented): the customer, fixed and
    idempotency parameters leave the arguments; every name the entry uses must exist."""

    def fail(key: str, reason: str) -> ImportConfigError:
        return ImportConfigError(file, f"{where}.{key}", reason)

    names = ", ".join(arguments) or "none"
    for key in ("customer_param", "idempotency_param"):
        param = getattr(entry, key)
        if param is not None and param not in arguments:
            raise fail(key, f"{param!r} is not a parameter or argument of {operation} (it has: {names})")
    for param, value in entry.fixed.items():
        if param not in arguments:
            raise fail(f"fixed.{param}", f"not a parameter or argument of {operation} (it has: {names})")
        try:
            jsonschema.validate(value, arguments[param])
        except jsonschema.ValidationError as exc:
            raise fail(f"fixed.{param}", f"does not fit its schema: {exc.message}") from None
    hidden = {p for p in (entry.customer_param, entry.idempotency_param) if p} | set(entry.fixed)
    kept = {k: v for k, v in arguments.items() if k not in hidden}
    for field in entry.labels:
        if field not in kept:
            raise fail(f"labels.{field}", "not an argument of the tool")
    for field in template_fields(entry.confirm_ko or ""):
        if field not in kept:
            raise fail("confirm_ko", f"{{{field}}} is not an argument of the tool (arguments: {', '.join(kept)})")
    documented = (response or {}).get("properties")
    for field in entry.result_fields if documented else ():  # undocumented answer: the allow-list is all we know
        if field.split(".")[0] not in documented:
            raise fail("result_fields", f"{field.split('.')[0]!r} is not a field of the answer of {operation} "
                                        f"(fields: {', '.join(documented)})")
    return ToolDefinition(
        tool=entry.tool, operation=operation, description_ko=entry.description_ko,
        description_en=entry.description_en, risk=risk, needs_customer=entry.needs_customer, timeout_s=timeout_s,
        input_schema={"type": "object", "properties": kept, "required": [r for r in required if r in kept]},
        result_schema=result_schema(entry.result_fields, response), result_fields=entry.result_fields,
        confirm_ko=entry.confirm_ko, labels=entry.labels, refusals=entry.refusals,
        customer_param=entry.customer_param, idempotency_param=entry.idempotency_param, fixed=entry.fixed,
    )


def build_tool(definition: ToolDefinition, service: Any, source: str) -> Tool:
    """The :class:`Tool` of ``definition``, served by ``service`` (``read``/``preview``/``commit``)."""
    camel = "".join(part.capitalize() for part in definition.tool.split("_"))
    input_model = model_from_schema(f"{camel}Args", definition.input_schema, base=ImportedArgs, mode=INPUT)
    output_model = model_from_schema(f"{camel}Result", definition.result_schema, base=OutputObject, mode=OUTPUT)
    return Tool(
        name=definition.tool,
        description_en=definition.description_en,
        risk=definition.risk,
        needs_customer=definition.needs_customer,
        input_model=input_model,
        output_model=output_model,
        summarise=confirmation(definition) if definition.risk is not RiskTier.read else None,
        service=service,
        source=source,
        description_ko_text=definition.description_ko,
    )


def confirmation(definition: ToolDefinition) -> Callable[[dict[str, Any]], str]:
    """The proposal sentence: ``confirm_ko`` filled from the effect, dates and amounts written the Korean way,
    values with a Korean label (``labels``) by their label."""
    template = definition.confirm_ko or ""
    properties = definition.input_schema.get("properties") or {}
    formats = {name: prop.get("format") for name, prop in properties.items() if isinstance(prop, dict)}

    labels = definition.labels

    def summarise(effect: dict[str, Any]) -> str:
        values = {key: _typed_value(formats.get(key), value) for key, value in effect.items()}
        for key, words in labels.items():
            if isinstance(values.get(key), (str, int, bool)) and str(values[key]) in words:
                values[key] = words[str(values[key])]
        return messages.render(template, values)

    return summarise


def _typed_value(fmt: str | None, value: Any) -> Any:
    """An ISO date in the effect back to a date, so ``{visit_date}`` reads "2026년 12월 3일"."""
    if isinstance(value, str):
        try:
            if fmt == "date":
                return dt.date.fromisoformat(value)
            if fmt == "date-time":
                return dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def result_schema(fields: list[str], response: dict[str, Any] | None) -> dict[str, Any]:
    """Object schema of the allowed top-level fields: their type from ``response`` (an object schema, when the
    outside system documents one) unless only parts of them are allowed (then any value; :func:`allowed_only`
    trims it)."""
    props = (response or {}).get("properties") or {}
    required = set((response or {}).get("required") or [])
    tops: dict[str, bool] = {}
    for name in fields:
        head, _, rest = name.partition(".")
        tops[head] = tops.get(head, False) or bool(rest)
    schema: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for head, nested in tops.items():
        schema["properties"][head] = {} if nested or head not in props else props[head]
        if head in required:
            schema["required"].append(head)
    return schema


def allowed_only(value: Any, fields: list[str]) -> dict[str, Any]:
    """The parts of a result that ``fields`` name (``a``, ``a.b``; through lists element by element)."""
    tree: dict[str, Any] = {}
    for name in fields:
        node = tree
        parts = name.split(".")
        for i, part in enumerate(parts):
            if i == len(parts) - 1:
                node[part] = None  # all of it
            else:
                child = node.get(part, {})
                if child is None:
                    break  # the whole field is already allowed
                node = node.setdefault(part, child)
    kept = _keep(value, tree)
    return kept if isinstance(kept, dict) else {}


def _keep(value: Any, tree: dict[str, Any] | None) -> Any:
    if tree is None:
        return value
    if isinstance(value, list):
        return [_keep(item, tree) for item in value if isinstance(item, (dict, list))]
    if isinstance(value, dict):
        return {key: _keep(value[key], sub) for key, sub in tree.items()
                if key in value and (sub is None or isinstance(value[key], (dict, list)))}
    return None  # only reached for the top level: a scalar where parts of an object were allowed


def as_object(raw: Any) -> dict[str, Any]:
    """A result as a JSON object: a list is ``{"items": [...]}``, a scalar ``{"value": ...}``."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, list):
        return {"items": raw}
    return {"value": raw}

