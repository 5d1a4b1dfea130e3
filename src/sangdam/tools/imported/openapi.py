"""``sangdam tools import openapi``: chosen operations of an OpenAPI 3 document become Sangdam tools.

:func:`import_openapi` reads the document (JSON or YAML) and the mapping file (:class:`~.config.OpenApiMapping`),
and for every mapped ``operationId`` builds a :class:`~.definition.ToolDefinition`: the arguments are the
operation's parameters and JSON body properties (one flat object, names as the API spells them) minus the
customer parameter, the fixed values and the idempotency parameter; the result keeps only the allow-listed fields,
typed from the 2xx response schema when there is one. Nothing is written here: the caller saves the result
(:mod:`.store`) only when every operation imported, so a bad document or mapping registers nothing.

Every problem is an :class:`~.config.ImportConfigError` naming the file (the document or the mapping), the path in
it (``paths./visits.post.requestBody…``, ``operations.bookVisit.customer_param``) and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sangdam.tools.base import RiskTier
from sangdam.tools.imported.config import (
    SOURCE_NAME,
    Auth,
    Circuit,
    ImportConfigError,
    OpenApiMapping,
    ToolMapping,
    read_document,
    validated,
)
from sangdam.tools.imported.definition import Target, ToolDefinition, build_tool, define
from sangdam.tools.imported.schemas import SchemaError, merge_all_of, resolve_refs

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
READ_METHODS = ("get", "head")
# Headers Sangdam sends itself (OpenAPI also says Accept, Content-Type and Authorization parameters are ignored).
IGNORED_HEADERS = ("idempotency-key", "accept", "content-type", "authorization")
_JSON = re.compile(r"^application/([\w.+-]*\+)?json$")


@dataclass
class OpenApiImport:
    """The tools of one import, ready to be saved (:func:`sangdam.tools.imported.store.save_openapi`)."""

    name: str
    base_url: str
    auth: Auth | None
    circuit: Circuit
    definitions: list[ToolDefinition]
    spec_file: Path
    map_file: Path

    @property
    def source(self) -> str:
        return f"openapi:{self.name}"


def import_openapi(spec_file: Path, map_file: Path, name: str | None = None,
                   taken: dict[str, str] | None = None) -> OpenApiImport:
    """The mapped operations of ``spec_file`` as tool definitions; ``taken`` maps tool names already in use to
    where they come from (a clash is an error)."""
    spec = read_document(spec_file)
    _check_spec(spec, spec_file)
    mapping = validated(OpenApiMapping, read_document(map_file), map_file)
    source_name = _source_name(name, mapping, spec, spec_file, map_file)
    base_url = _base_url(mapping, spec, map_file)
    operations = _operations(spec, spec_file)
    definitions = []
    for op_id, entry in mapping.operations.items():
        if op_id not in operations:
            known = ", ".join(sorted(operations)) or "none"
            raise ImportConfigError(map_file, f"operations.{op_id}", f"no operation with this operationId in "
                                                                      f"{spec_file.name} (operationIds: {known})")
        path, method = operations[op_id]
        definitions.append(_definition(spec, spec_file, map_file, op_id, entry, path, method, mapping))
    result = OpenApiImport(source_name, base_url, mapping.auth, mapping.circuit, definitions, spec_file, map_file)
    check_names(result, taken or {})
    return result


def check_names(result: OpenApiImport, taken: dict[str, str]) -> None:
    """Every tool name of ``result`` is new: not in ``taken`` (name → where it is used), not used twice."""
    seen = dict(taken)
    for d in result.definitions:
        if d.tool in seen:
            raise ImportConfigError(result.map_file, f"operations.{d.operation}.tool",
                                    f"{d.tool!r} is already a tool ({seen[d.tool]})")
        seen[d.tool] = f"operation {d.operation} of {result.map_file}"


def _check_spec(spec: Any, file: Path) -> None:
    if not isinstance(spec, dict):
        raise ImportConfigError(file, "", "an OpenAPI document must be a mapping")
    version = spec.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        found = "swagger 2.0" if "swagger" in spec else repr(version)
        raise ImportConfigError(file, "openapi", f"only OpenAPI 3.x documents are supported (found {found})")
    if not isinstance(spec.get("paths"), dict):
        raise ImportConfigError(file, "paths", "missing or not a mapping")


def _source_name(name: str | None, mapping: OpenApiMapping, spec: dict[str, Any], spec_file: Path,
                 map_file: Path) -> str:
    chosen = name or mapping.name
    if chosen is None:
        title = str((spec.get("info") or {}).get("title") or spec_file.stem)
        chosen = re.sub(r"[^a-z0-9_-]+", "-", title.lower()).strip("-")[:40] or "api"
    if not SOURCE_NAME.match(chosen):
        raise ImportConfigError(map_file, "name", f"{chosen!r}: must be lowercase letters, digits, '-' or '_' "
                                                  "(at most 40); give --name or 'name:' in the mapping")
    return chosen


def _base_url(mapping: OpenApiMapping, spec: dict[str, Any], map_file: Path) -> str:
    if mapping.base_url:
        url = mapping.base_url
    else:
        servers = [s.get("url") for s in spec.get("servers") or [] if isinstance(s, dict)]
        url = next((u for u in servers if isinstance(u, str) and u.startswith(("http://", "https://"))), None)
        if url is None:
            raise ImportConfigError(map_file, "base_url", "the document names no absolute server URL: set base_url")
    if not url.startswith(("http://", "https://", "${")):
        raise ImportConfigError(map_file, "base_url", f"{url!r} is not an http(s) URL")
    return url.rstrip("/")


def _operations(spec: dict[str, Any], file: Path) -> dict[str, tuple[str, str]]:
    """``operationId`` → ``(path, method)``; a repeated operationId is an error."""
    found: dict[str, tuple[str, str]] = {}
    for path, item in spec["paths"].items():
        if not isinstance(item, dict):
            raise ImportConfigError(file, f"paths.{path}", "must be a mapping")
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            op_id = op["operationId"]
            if op_id in found:
                raise ImportConfigError(file, f"paths.{path}.{method}.operationId",
                                        f"{op_id!r} is also the operationId of {found[op_id][1].upper()} "
                                        f"{found[op_id][0]}")
            found[op_id] = (path, method)
    return found


def _definition(spec: dict[str, Any], spec_file: Path, map_file: Path, op_id: str, entry: ToolMapping, path: str,
                method: str, mapping: OpenApiMapping) -> ToolDefinition:
    where = f"operations.{op_id}"
    risk = entry.risk_for(RiskTier.read if method in READ_METHODS else RiskTier.write)
    try:
        entry.check_write(risk)
    except ValueError as exc:
        raise ImportConfigError(map_file, f"{where}.confirm_ko", str(exc)) from None
    op_path = ("paths", path, method)
    try:
        item = _resolved_operation(spec, path, method)
        skip = {*IGNORED_HEADERS, *([mapping.auth.header.lower()] if mapping.auth else [])}
        args, required, targets, has_body = _arguments(item, method, op_path, skip)
        response = _response(item[method], op_path)
    except SchemaError as exc:
        raise ImportConfigError(spec_file, ".".join(exc.path), exc.reason) from None

    definition = define(
        entry, operation=op_id, risk=risk, timeout_s=entry.timeout_s or mapping.timeout_s, arguments=args,
        required=required, response=response, file=map_file, where=where,
    ).model_copy(update={"method": method.upper(), "path": path, "targets": targets, "body": has_body})
    try:
        build_tool(definition, service=None, source="openapi:check")
    except SchemaError as exc:
        raise ImportConfigError(spec_file, ".".join((*op_path, *exc.path)), exc.reason) from None
    return definition


def _resolved_operation(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The path item reduced to this operation, references resolved (only what the tool uses: one broken sibling
    operation does not stop an import)."""
    raw = spec["paths"][path]
    op = raw[method]
    item: dict[str, Any] = {}
    if "parameters" in raw:
        item["parameters"] = resolve_refs(raw["parameters"], spec, ("paths", path, "parameters"))
    resolved = {key: resolve_refs(value, spec, ("paths", path, method, key))
                for key, value in op.items() if key not in ("responses", "callbacks")}
    resolved["responses"] = resolve_refs(op.get("responses") or {}, spec, ("paths", path, method, "responses"),
                                         cycles="any")
    item[method] = resolved
    return item


def _arguments(item: dict[str, Any], method: str, op_path: tuple[str, ...], skip_headers: set[str]
               ) -> tuple[dict[str, Any], list[str], dict[str, Target], bool]:
    """Schemas of every parameter and JSON body property (by name), the required ones, where each goes, and
    whether the operation takes a JSON body. Headers Sangdam sets itself (``skip_headers``) are no arguments."""
    op = item[method]
    merged: dict[tuple[str, str], tuple[dict[str, Any], tuple[str, ...]]] = {}
    for scope, params in (((*op_path[:2], "parameters"), item.get("parameters")),
                          ((*op_path, "parameters"), op.get("parameters"))):
        if params is None:
            continue
        if not isinstance(params, list):
            raise SchemaError(scope, "must be a list")
        for i, param in enumerate(params):
            if not isinstance(param, dict) or not isinstance(param.get("name"), str) or "in" not in param:
                raise SchemaError((*scope, str(i)), "a parameter needs 'name' and 'in'")
            merged[(param["name"], param["in"])] = (param, (*scope, str(i)))  # the operation's own wins
    args: dict[str, Any] = {}
    required: list[str] = []
    targets: dict[str, Target] = {}
    for (name, location), (param, where) in merged.items():
        if location == "cookie":
            if param.get("required"):
                raise SchemaError(where, "cookie parameters are not supported")
            continue
        if location == "header" and name.lower() in skip_headers:
            continue
        if location not in ("path", "query", "header"):
            raise SchemaError((*where, "in"), f"unknown parameter location {location!r}")
        schema = dict(param.get("schema") or {})
        if "description" in param and "description" not in schema:
            schema["description"] = param["description"]
        _add(args, targets, name, schema, Target(name=name, location=location), where)
        if param.get("required") or location == "path":
            required.append(name)
    has_body = False
    body = op.get("requestBody")
    if body is not None:
        where = (*op_path, "requestBody")
        content = body.get("content") or {} if isinstance(body, dict) else {}
        json_type = next((t for t in content if _JSON.match(t.split(";")[0].strip())), None)
        if json_type is None:
            if body.get("required"):
                raise SchemaError((*where, "content"), "only application/json request bodies are supported "
                                                       f"(found: {', '.join(content) or 'none'})")
        else:
            has_body = True
            schema = (content[json_type] or {}).get("schema") or {}
            schema_path = (*where, "content", json_type, "schema")
            schema = merge_all_of(schema, schema_path)
            if schema.get("type", "object") != "object":
                raise SchemaError(schema_path, "the request body must be a JSON object (its properties become "
                                               "arguments)")
            body_required = set(schema.get("required") or [])
            for prop, sub in (schema.get("properties") or {}).items():
                if isinstance(sub, dict) and sub.get("readOnly"):
                    continue
                _add(args, targets, prop, sub, Target(name=prop, location="body"), (*schema_path, "properties", prop))
                if prop in body_required:
                    required.append(prop)
    return args, required, targets, has_body


def _add(args: dict[str, Any], targets: dict[str, Target], name: str, schema: Any, target: Target,
         where: tuple[str, ...]) -> None:
    if name in args:
        other = targets[name]
        raise SchemaError(where, f"{target.location} {name!r} has the name of a {other.location} value of the "
                                 "same operation; Sangdam's arguments are one flat object")
    if not isinstance(schema, dict):
        raise SchemaError(where, "must be a JSON Schema object")
    args[name] = schema
    targets[name] = target


def _response(op: dict[str, Any], op_path: tuple[str, ...]) -> dict[str, Any] | None:
    """The JSON schema of the operation's success answer (a list is wrapped as ``items``), if it documents one."""
    responses = op.get("responses") or {}
    for status in ("200", "201", "202", "2XX", "default"):
        answer = responses.get(status, responses.get(int(status)) if status.isdigit() else None)
        if not isinstance(answer, dict):
            continue
        content = answer.get("content") or {}
        json_type = next((t for t in content if _JSON.match(t.split(";")[0].strip())), None)
        if json_type is None:
            return None
        schema = (content[json_type] or {}).get("schema")
        if not isinstance(schema, dict):
            return None
        if schema.get("type") == "array":
            return {"type": "object", "properties": {"items": schema}, "required": ["items"]}
        return merge_all_of(schema, (*op_path, "responses", status))
    return None
