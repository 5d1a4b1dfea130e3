"""The operator's OpenAPI document, as the ``rest`` adapter uses it: operations by operationId (method, path,
parameters, request body, 2xx response schemas), and the load-time check of a mapping file against it.

The check catches at start-up what would otherwise fail mid-conversation: an operationId that does not exist, a
parameter the operation does not declare, a required parameter or body field left unmapped, a commit whose
operation takes no idempotency header, and answer paths that the response schema says cannot exist. Schemas that
do not say (no ``properties``, free-form objects) are trusted.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sangdam.backends.mapping_checks import walk

if TYPE_CHECKING:
    from sangdam.backends.mapping import Call, Expr, MappingFile, Problem

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # path | query | header | cookie
    required: bool


@dataclass
class Operation:
    operation_id: str
    method: str
    path: str
    parameters: dict[str, Parameter] = field(default_factory=dict)  # by name (header names lower-cased)
    body_schema: dict[str, Any] | None = None
    body_required: bool = False
    responses: list[dict[str, Any]] = field(default_factory=list)  # JSON schemas of the 2xx answers

    def parameter(self, name: str) -> Parameter | None:
        return self.parameters.get(name) or self.parameters.get(name.lower())


class OpenApiDoc:
    """Operations of an OpenAPI 3 document by operationId, with local ``$ref`` resolution."""

    def __init__(self, doc: dict[str, Any], source: str) -> None:
        self.doc, self.source = doc, source
        self.operations: dict[str, Operation] = {}
        for path, item in (doc.get("paths") or {}).items():
            shared = item.get("parameters", [])
            for method in METHODS:
                op = item.get(method)
                if isinstance(op, dict) and op.get("operationId"):
                    self.operations[op["operationId"]] = self._operation(op, method, path, shared)

    def _operation(self, op: dict[str, Any], method: str, path: str, shared: list[Any]) -> Operation:
        out = Operation(op["operationId"], method.upper(), path)
        for raw in [*shared, *op.get("parameters", [])]:
            p = self.resolve(raw)
            name = p["name"].lower() if p.get("in") == "header" else p["name"]
            out.parameters[name] = Parameter(p["name"], p.get("in", "query"), bool(p.get("required")))
        body = self.resolve(op.get("requestBody")) if op.get("requestBody") else None
        if body:
            out.body_schema = self._json_schema(body) or {}
            out.body_required = bool(body.get("required"))
        for status, answer in (op.get("responses") or {}).items():
            if str(status).startswith("2"):
                schema = self._json_schema(self.resolve(answer))
                if schema is not None:
                    out.responses.append(schema)
        return out

    @staticmethod
    def _json_schema(part: dict[str, Any]) -> dict[str, Any] | None:
        content = part.get("content") or {}
        media = content.get("application/json") or next((v for k, v in content.items() if "json" in k), None)
        return media.get("schema") if isinstance(media, dict) else None

    def resolve(self, node: Any) -> Any:
        """``node`` with local ``$ref``s followed (``#/components/schemas/X``)."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 32:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                return {}
            target: Any = self.doc
            for part in ref[2:].split("/"):
                target = target.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(target, dict) else {}
            node, seen = target, seen + 1
        return node

    # --- schema walking ----------------------------------------------------------------------------------------
    def _variants(self, schema: Any) -> list[dict[str, Any]]:
        schema = self.resolve(schema)
        if not isinstance(schema, dict):
            return []
        for key in ("anyOf", "oneOf", "allOf"):
            if key in schema:
                return [v for sub in schema[key] for v in self._variants(sub)]
        return [schema]

    def step(self, schemas: list[Any] | None, part: str) -> tuple[list[Any] | None, list[str] | None]:
        """Schemas of ``part`` inside any of ``schemas`` → (schemas or None when unknown, known keys if absent)."""
        if schemas is None:
            return None, None
        found, known, opaque = [], set(), False
        for variant in (v for s in schemas for v in self._variants(s)):
            if variant.get("type") == "null":
                continue
            props = variant.get("properties")
            if variant.get("type") == "array" or "items" in variant:
                if part.isdigit() or part.startswith("-"):
                    found.append(variant.get("items", {}))
                continue
            if props is None:
                opaque = True
                continue
            known.update(props)
            if part in props:
                found.append(props[part])
            elif variant.get("additionalProperties") not in (None, False):
                opaque = True
        if found:
            return found, None
        if opaque or not known:
            return None, None
        return [], sorted(known)

    def items(self, schemas: list[Any] | None) -> list[Any] | None:
        if schemas is None:
            return None
        out = [v.get("items", {}) for s in schemas for v in self._variants(s) if v.get("type") == "array" or "items" in v]
        return out or None


def load_openapi(source: str, base_dir: Path, *, headers: dict[str, str] | None = None,
                 timeout_s: float = 10.0) -> OpenApiDoc:
    """The document at ``source``: an ``http(s)://`` URL (fetched now) or a JSON/YAML file (relative to
    ``base_dir``). Raises ``ValueError`` with the reason."""
    if source.startswith(("http://", "https://")):
        import httpx

        try:
            answer = httpx.get(source, headers=headers or {}, timeout=timeout_s)
            answer.raise_for_status()
            text = answer.text
        except httpx.HTTPError as exc:
            raise ValueError(f"cannot fetch the OpenAPI document {source}: {exc}") from None
    else:
        path = Path(source).expanduser()
        path = path if path.is_absolute() else base_dir / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read the OpenAPI document {path}: {exc.strerror or exc}") from None
        source = str(path)
    try:
        doc = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"the OpenAPI document {source} is neither JSON nor YAML: {exc}") from None
    if not isinstance(doc, dict) or "paths" not in doc:
        raise ValueError(f"{source} is not an OpenAPI document (no 'paths')")
    return OpenApiDoc(doc, source)


# --- the mapping against the document ------------------------------------------------------------------------
def check_against_openapi(mapping: MappingFile, api: OpenApiDoc) -> list[Problem]:
    """Every problem of ``mapping`` with respect to the operations of ``api``."""
    from sangdam.backends.mapping import WriteEntry

    problems: list[Problem] = []
    for name, entry in mapping.operations.items():
        parts = [("preview", entry.preview), ("commit", entry.commit)] if isinstance(entry, WriteEntry) else [("read", entry)]
        for part, call in parts:
            where = f"operations.{name}" + (f".{part}" if part != "read" else "")
            problems += _check_call(mapping, api, call, part, where)
    return list(dict.fromkeys(problems))


def _check_call(mapping: MappingFile, api: OpenApiDoc, call: Call, part: str, where: str) -> list[Problem]:
    from sangdam.backends.mapping import Problem

    op = api.operations.get(call.operation)
    if op is None:
        close = difflib.get_close_matches(call.operation, list(api.operations), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return [Problem(f"{where}.operation", f"operationId {call.operation!r} is not in the OpenAPI document{hint}")]
    problems = []
    declared = ", ".join(p.name for p in op.parameters.values()) or "none"
    for name in call.params:
        if op.parameter(name) is None:
            problems.append(Problem(f"{where}.params.{name}", f"not a parameter of {op.operation_id} "
                                    f"({op.method} {op.path}); its parameters: {declared}"))
    covered = {n.lower() for n in call.params}
    if call.paginate is not None:
        for key in ("cursor_param", "limit_param"):
            value = getattr(call.paginate, key)
            if value is not None and op.parameter(value) is None and (key == "cursor_param" or call.paginate.limit):
                problems.append(Problem(f"{where}.paginate.{key}", f"{value!r} is not a parameter of {op.operation_id}"))
            if value is not None:
                covered.add(value.lower())
    if part == "commit":
        header = mapping.idempotency_header
        if op.parameter(header) is None:
            problems.append(Problem(f"{where}.operation", f"{op.operation_id} declares no {header!r} header: a "
                                    "commit must send its idempotency key"))
        covered.add(header.lower())
    for p in op.parameters.values():
        if (p.required or p.location == "path") and p.name.lower() not in covered:
            problems.append(Problem(f"{where}.params", f"required {p.location} parameter {p.name!r} of "
                                    f"{op.operation_id} is not mapped"))
    problems += _check_body(api, op, call, where)
    problems += _check_answer(mapping, api, op, call, where)
    return problems


def _check_body(api: OpenApiDoc, op: Operation, call: Call, where: str) -> list[Problem]:
    from sangdam.backends.mapping import Problem

    if op.body_schema is None:
        return [Problem(f"{where}.body", f"{op.operation_id} takes no request body")] if call.body else []
    if call.body is None:
        return [Problem(where, f"{op.operation_id} needs a request body: add 'body'")] if op.body_required else []
    variants = api._variants(op.body_schema)
    props = {k: v for s in variants for k, v in (s.get("properties") or {}).items()}
    if not props or call.body.fields is None:
        return []
    problems = [Problem(f"{where}.body.fields.{k}", f"not a field of {op.operation_id}'s request body "
                        f"(its fields: {', '.join(props)})") for k in call.body.fields if k not in props]
    required = {r for s in variants for r in s.get("required", [])}
    problems += [Problem(f"{where}.body.fields", f"{op.operation_id}'s request body needs {r!r}")
                 for r in sorted(required - set(call.body.fields))]
    return problems


def _check_answer(mapping: MappingFile, api: OpenApiDoc, op: Operation, call: Call, where: str) -> list[Problem]:
    from sangdam.backends.mapping import Problem

    roots: list[Any] | None = op.responses or None
    problems: list[Problem] = []
    if call.paginate is not None:
        for key in ("items", "next"):
            problems += _path_problems(api, roots, getattr(call.paginate, key), f"{where}.paginate.{key}", op)
    problems += _expr_problems(mapping, api, call.result, roots, roots, f"{where}.result", op, set())
    return problems


def _path_problems(api: OpenApiDoc, schemas: list[Any] | None, path: str, where: str, op: Operation) -> list[Problem]:
    _, problems = _follow(api, schemas, path, where, op)
    return problems


def _follow(api: OpenApiDoc, schemas: list[Any] | None, path: str, where: str,
            op: Operation) -> tuple[list[Any] | None, list[Problem]]:
    from sangdam.backends.mapping import Problem

    if path in ("", "$"):
        return schemas, []
    walked = []
    for part in path.split("."):
        schemas, known = api.step(schemas, part)
        walked.append(part)
        if known is not None:
            return None, [Problem(where, f"{op.operation_id}'s answer has no {'.'.join(walked)!r} (there: "
                                  f"{', '.join(known)})")]
    return schemas, []


def _expr_problems(mapping: MappingFile, api: OpenApiDoc, expr: Expr, here: list[Any] | None,
                   roots: list[Any] | None, where: str, op: Operation, shapes_seen: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    if expr.has_const or expr.request is not None:
        base: list[Any] | None = None
    elif expr.path is not None:
        start, path = (roots, expr.path[2:]) if expr.path.startswith("$.") else (here, expr.path)
        base, problems = _follow(api, start, path, f"{where}.path" if expr.model_fields_set != {"path"} else where, op)
    elif expr.each is not None:
        base, problems = _follow(api, here, expr.each, f"{where}.each", op)
    else:
        base = here
    items = api.items(base) if expr.each is not None else base
    if expr.value is not None:
        problems += _expr_problems(mapping, api, expr.value, items, roots, f"{where}.value", op, shapes_seen)
    if expr.shape is not None and expr.shape in mapping.shapes and expr.shape not in shapes_seen:
        # a shape is checked where it is first used (one report per shape)
        shapes_seen.add(expr.shape)
        problems += _expr_problems(mapping, api, mapping.shapes[expr.shape], items, roots, f"shapes.{expr.shape}",
                                   op, shapes_seen)
    for name, sub in (expr.fields or {}).items():
        problems += _expr_problems(mapping, api, sub, items, roots, f"{where}.fields.{name}", op, shapes_seen)
    return problems


__all__ = ["OpenApiDoc", "Operation", "Parameter", "check_against_openapi", "load_openapi", "walk"]
