"""JSON Schema → pydantic: the typed arguments and results of an imported tool.

An OpenAPI operation or an MCP tool describes its input with JSON Schema; Sangdam's tools are pydantic models
(unknown arguments are an error, required fields, types, enums and limits are checked before anything is sent).
This module resolves local ``$ref``s into one self-contained schema (:func:`resolve_refs`) and builds a model from
it (:func:`model_from_schema`). Every field keeps the schema's property name as its alias, so arguments and results
use exactly the names of the operator's API, whatever they look like (``visit-date``, ``json``).

Supported: ``type`` (one or a list with ``null``), OpenAPI 3.0 ``nullable``, ``enum``, ``const``, ``format: date``
and ``date-time``, string/number/array limits, nested objects (``properties``, ``additionalProperties``),
``allOf`` of objects, ``anyOf``/``oneOf`` (a union), ``readOnly`` (left out of inputs), ``writeOnly`` (left out of
results), ``default`` and ``description``. Anything else (remote references, recursive schemas, patterns Python
cannot compile) is a :class:`SchemaError` with the path to the offending node.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

Path = tuple[str, ...]

INPUT, OUTPUT = "input", "output"


class SchemaError(ValueError):
    """A schema Sangdam cannot turn into a model: ``path`` (keys from the document's root) and ``reason``."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{'.'.join(path) or '(root)'}: {reason}")
        self.path, self.reason = path, reason


class InputObject(BaseModel):
    """Nested argument objects: unknown fields are an error, names as the API spells them."""

    model_config = ConfigDict(extra="forbid", serialize_by_alias=True)


class OutputObject(BaseModel):
    """Result objects: fields the schema does not name are dropped, names as the API spells them."""

    model_config = ConfigDict(extra="ignore", serialize_by_alias=True)


# --- $ref resolution -----------------------------------------------------------------------------------------


def resolve_refs(node: Any, root: dict[str, Any], path: Path = (), *, cycles: str = "error",
                 _stack: tuple[str, ...] = ()) -> Any:
    """``node`` with every local ``$ref`` (``#/…`` into ``root``) replaced by its target, recursively.

    A recursive schema is an error (``cycles="error"``: arguments must be fully typed), or, for results
    (``cycles="any"``), any value where it recurs: the allow-list decides what is kept anyway.
    """
    if isinstance(node, list):
        return [resolve_refs(item, root, (*path, str(i)), cycles=cycles, _stack=_stack) for i, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise SchemaError((*path, "$ref"), f"only local references ('#/...') are supported, got {ref!r}")
        if ref in _stack:
            if cycles == "any":
                return {}
            raise SchemaError((*path, "$ref"), f"recursive schema through {ref} is not supported")
        target = pointer(root, ref, (*path, "$ref"))
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        merged = {**target, **siblings} if isinstance(target, dict) else target
        return resolve_refs(merged, root, path, cycles=cycles, _stack=(*_stack, ref))
    return {key: resolve_refs(value, root, (*path, key), cycles=cycles, _stack=_stack) for key, value in node.items()}


def pointer(root: dict[str, Any], ref: str, path: Path) -> Any:
    """The node ``ref`` (``#/a/b``, JSON Pointer escapes) names in ``root``."""
    node: Any = root
    for raw in ref[2:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise SchemaError(path, f"reference {ref} points at nothing")
    return node


# --- models --------------------------------------------------------------------------------------------------

_NOT_IDENTIFIER = re.compile(r"\W")


def model_from_schema(name: str, schema: dict[str, Any], *, base: type[BaseModel], mode: str = INPUT,
                      path: Path = ()) -> type[BaseModel]:
    """A model named ``name`` (subclass of ``base``) for the object ``schema`` (already free of ``$ref``)."""
    if not isinstance(schema, dict):
        raise SchemaError(path, "must be a JSON Schema object")
    schema = merge_all_of(schema, path)
    kind = schema.get("type", "object")
    if kind != "object" and not (isinstance(kind, list) and "object" in kind):
        raise SchemaError(path, f"must describe an object, not {kind!r}")
    properties = schema.get("properties") or {}
    if not isinstance(properties, dict):
        raise SchemaError((*path, "properties"), "must be a mapping of property names to schemas")
    required = set(schema.get("required") or [])
    fields: dict[str, Any] = {}
    used: set[str] = set()
    for prop, sub in properties.items():
        where = (*path, "properties", prop)
        if not isinstance(sub, dict):
            raise SchemaError(where, "must be a JSON Schema object")
        if (mode == INPUT and sub.get("readOnly")) or (mode == OUTPUT and sub.get("writeOnly")):
            continue
        annotation = annotation_for(sub, where, f"{name}_{_identifier(prop)}", mode)
        extra = {"description": sub["description"]} if isinstance(sub.get("description"), str) else {}
        if prop in required:
            default: Any = ...
        elif "default" in sub:
            default = sub["default"]
        else:
            annotation, default = Optional[annotation], None  # noqa: UP045 - built at run time
        fields[_field_name(prop, used)] = (annotation, Field(default, alias=prop, **extra))
    try:
        return create_model(name, __base__=base, **fields)
    except (TypeError, ValueError) as exc:  # e.g. a default that does not fit its own type
        raise SchemaError(path, f"cannot build a model: {exc}") from None


def annotation_for(schema: dict[str, Any], path: Path, name: str, mode: str) -> Any:
    """The Python type (with its limits) that validates values of ``schema``."""
    if not isinstance(schema, dict):
        raise SchemaError(path, "must be a JSON Schema object")
    if "allOf" in schema:
        schema = merge_all_of(schema, path)
    nullable = schema.get("nullable") is True
    if "const" in schema:
        return _optional(Literal[schema["const"]], nullable)
    if "enum" in schema:
        return _enum(schema["enum"], path, nullable)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _union(schema[key], (*path, key), name, mode, nullable)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        nullable = nullable or len(kinds) < len(kind)
        if len(kinds) != 1:
            return _union([{**schema, "type": k} for k in kinds], path, name, mode, nullable)
        kind = kinds[0]
    if kind is None and "properties" in schema:
        kind = "object"
    return _optional(_typed(kind, schema, path, name, mode), nullable)


def _typed(kind: Any, schema: dict[str, Any], path: Path, name: str, mode: str) -> Any:
    if kind is None:
        return Any
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date":
            return dt.date
        if fmt == "date-time":
            return dt.datetime
        limits = _limits(schema, {"minLength": "min_length", "maxLength": "max_length"})
        if "pattern" in schema:
            try:
                re.compile(schema["pattern"])
            except (re.error, TypeError) as exc:
                raise SchemaError((*path, "pattern"), f"not a usable regular expression: {exc}") from None
            limits["pattern"] = schema["pattern"]
        return Annotated[str, Field(**limits)] if limits else str
    if kind in ("integer", "number"):
        limits = _number_limits(schema)
        base = int if kind == "integer" else float
        return Annotated[base, Field(**limits)] if limits else base
    if kind == "boolean":
        return bool
    if kind == "array":
        items = schema.get("items", {})
        item = annotation_for(items, (*path, "items"), f"{name}_item", mode) if items else Any
        limits = _limits(schema, {"minItems": "min_length", "maxItems": "max_length"})
        return Annotated[list[item], Field(**limits)] if limits else list[item]
    if kind == "object":
        if schema.get("properties"):
            base = InputObject if mode == INPUT else OutputObject
            return model_from_schema(name, schema, base=base, mode=mode, path=path)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return dict[str, annotation_for(extra, (*path, "additionalProperties"), f"{name}_value", mode)]
        return dict[str, Any]
    if kind == "null":
        return None
    raise SchemaError((*path, "type"), f"unsupported type {kind!r}")


def merge_all_of(schema: dict[str, Any], path: Path) -> dict[str, Any]:
    """``allOf`` of object schemas as one object schema (properties and required lists joined)."""
    parts = schema.get("allOf")
    if parts is None:
        return schema
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        raise SchemaError((*path, "allOf"), "must be a list of schemas")
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    properties = dict(merged.get("properties") or {})
    required = list(merged.get("required") or [])
    for i, part in enumerate(parts):
        part = merge_all_of(part, (*path, "allOf", str(i)))
        if part.get("type", "object") != "object":
            if len(parts) == 1:
                return {**part, **{k: v for k, v in merged.items() if k not in ("properties", "required")}}
            raise SchemaError((*path, "allOf", str(i)), "allOf is supported for object schemas only")
        properties.update(part.get("properties") or {})
        required += [r for r in part.get("required") or [] if r not in required]
        for key, value in part.items():
            if key not in ("properties", "required"):
                merged.setdefault(key, value)
    merged.update({"type": "object", "properties": properties, "required": required})
    return merged


def _enum(values: Any, path: Path, nullable: bool) -> Any:
    if not isinstance(values, list) or not values:
        raise SchemaError((*path, "enum"), "must be a non-empty list")
    if not all(v is None or isinstance(v, (str, int, float, bool)) for v in values):
        raise SchemaError((*path, "enum"), "only scalar values (strings, numbers, booleans) are supported")
    plain = tuple(v for v in values if v is not None)
    return _optional(Literal[plain], nullable or len(plain) < len(values))  # type: ignore[valid-type]


def _union(variants: Any, path: Path, name: str, mode: str, nullable: bool) -> Any:
    if not isinstance(variants, list) or not variants:
        raise SchemaError(path, "must be a non-empty list of schemas")
    types = []
    for i, variant in enumerate(variants):
        if isinstance(variant, dict) and variant.get("type") == "null":
            nullable = True
            continue
        types.append(annotation_for(variant, (*path, str(i)), f"{name}_{i}", mode))
    if not types:
        return None
    annotation = types[0] if len(types) == 1 else Union[tuple(types)]  # noqa: UP007 - built at run time
    return _optional(annotation, nullable)


def _optional(annotation: Any, nullable: bool) -> Any:
    return Optional[annotation] if nullable and annotation is not Any else annotation  # noqa: UP045


def _limits(schema: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {ours: schema[theirs] for theirs, ours in names.items() if isinstance(schema.get(theirs), int)}


def _number_limits(schema: dict[str, Any]) -> dict[str, Any]:
    """``minimum``/``maximum`` and both spellings of exclusivity (3.0 booleans, 3.1 numbers)."""
    limits: dict[str, Any] = {}
    number = (int, float)
    for bound, inclusive, exclusive in (("minimum", "ge", "gt"), ("maximum", "le", "lt")):
        flag = schema.get("exclusiveMinimum" if bound == "minimum" else "exclusiveMaximum")
        if isinstance(schema.get(bound), number) and not isinstance(schema.get(bound), bool):
            limits[exclusive if flag is True else inclusive] = schema[bound]
        if isinstance(flag, number) and not isinstance(flag, bool):
            limits[exclusive] = flag
    if isinstance(schema.get("multipleOf"), number) and not isinstance(schema.get("multipleOf"), bool):
        limits["multiple_of"] = schema["multipleOf"]
    return limits


def _identifier(prop: str) -> str:
    return _NOT_IDENTIFIER.sub("_", prop) or "field"


def _field_name(prop: str, used: set[str]) -> str:
    """A Python name for property ``prop`` (its alias stays ``prop``): never private, never a BaseModel member."""
    name = _identifier(prop)
    if name[0].isdigit() or name.startswith("_") or name.startswith("model_") or hasattr(BaseModel, name):
        name = f"f_{name}"
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}_{n}"
    used.add(candidate)
    return candidate
