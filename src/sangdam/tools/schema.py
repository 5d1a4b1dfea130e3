"""JSON Schema clean-up for tool parameters.

Pydantic's schemas carry titles, ``$defs`` references and ``anyOf [X, null]`` for optional fields; small models
follow plain schemas better, and some OpenAI-compatible servers reject ``$ref``. We inline references, drop
titles and collapse optional fields to their non-null type (absence already means "not given").
"""

from __future__ import annotations

import copy
from typing import Any


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A self-contained object schema: no ``$defs``/``$ref``, no titles, ``additionalProperties: false``."""
    schema = copy.deepcopy(schema)
    defs = schema.pop("$defs", {})
    cleaned = _clean(schema, defs)
    cleaned.setdefault("properties", {})
    cleaned["type"] = "object"
    cleaned["additionalProperties"] = False
    cleaned.setdefault("required", [])
    return cleaned


def _clean(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_clean(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _clean(merged, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _clean(prop, defs) for name, prop in value.items()}
            continue
        out[key] = _clean(value, defs)
    variants = out.get("anyOf")
    if isinstance(variants, list):
        non_null = [v for v in variants if v.get("type") != "null"]
        if len(non_null) == 1 and len(non_null) < len(variants):
            out.pop("anyOf")
            if out.get("default", "") is None:
                out.pop("default")
            out = {**non_null[0], **out}
    return out
