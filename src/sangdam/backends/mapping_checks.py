"""Checks of a parsed mapping file that need no OpenAPI document: names (maps, shapes, converters, error codes),
request paths against the tools' argument models, and results against the tools' result and effect models."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from sangdam.backends.transform import known_converter

if TYPE_CHECKING:
    from sangdam.backends.mapping import Call, ErrorRule, Expr, MappingFile, Problem


def walk(expr: Expr, path: str) -> Iterator[tuple[Expr, str]]:
    """Every expression inside ``expr`` (itself first) with its YAML path."""
    yield expr, path
    if expr.value is not None:
        yield from walk(expr.value, f"{path}.value")
    for name, sub in (expr.fields or {}).items():
        yield from walk(sub, f"{path}.fields.{name}")


def check_mapping(mapping: MappingFile) -> list[Problem]:
    """Every problem of ``mapping`` that can be found without the OpenAPI document."""
    from sangdam.backends.mapping import LOOKUPS, Problem, WriteEntry

    problems: list[Problem] = []
    for name, expr in mapping.shapes.items():
        problems += _names(mapping, expr, f"shapes.{name}")
    problems += _error_rules(mapping, mapping.errors, "errors")
    for name, entry in mapping.operations.items():
        if isinstance(entry, WriteEntry):
            for part in ("preview", "commit"):
                problems += _call(mapping, name, part, getattr(entry, part), f"operations.{name}.{part}")
        else:
            problems += _call(mapping, name, "lookup" if name in LOOKUPS else "read", entry, f"operations.{name}")
    return [Problem(p.path, p.reason) for p in problems]


def _call(mapping: MappingFile, tool: str, part: str, call: Call, path: str) -> list[Problem]:
    from sangdam.backends.mapping import Problem

    problems: list[Problem] = []
    args = _arg_names(tool)
    for name, expr in call.params.items():
        problems += _names(mapping, expr, f"{path}.params.{name}")
        problems += _request_paths(expr, f"{path}.params.{name}", args, bare_is_request=True)
    if call.body is not None:
        problems += _names(mapping, call.body, f"{path}.body")
        problems += _request_paths(call.body, f"{path}.body", args, bare_is_request=True)
    problems += _names(mapping, call.result, f"{path}.result")
    problems += _request_paths(call.result, f"{path}.result", args, bare_is_request=False)
    problems += _error_rules(mapping, call.errors, f"{path}.errors")
    model = _result_model(tool, part)
    if model is not None:
        problems += _against_model(mapping, call.result, model, f"{path}.result")
    elif part == "lookup":
        problems += _lookup_result(tool, call.result, f"{path}.result")
    return problems


def _names(mapping: MappingFile, expr: Expr, path: str) -> list[Problem]:
    from sangdam.backends.mapping import Problem

    problems = []
    for sub, where in walk(expr, path):
        if isinstance(sub.map, str) and sub.map not in mapping.maps:
            problems.append(Problem(f"{where}.map", f"no map named {sub.map!r} under 'maps:'"))
        if sub.shape is not None and sub.shape not in mapping.shapes:
            problems.append(Problem(f"{where}.shape", f"no shape named {sub.shape!r} under 'shapes:'"))
        for name in sub.converters:
            if not known_converter(name):
                from sangdam.backends.transform import CONVERTERS

                problems.append(Problem(f"{where}.convert", f"unknown converter {name!r} (known: "
                                        f"{', '.join(CONVERTERS)}, ko:<section of tools.ko.yaml>)"))
    return problems


def _request_paths(expr: Expr, path: str, args: tuple[str, ...] | None, *, bare_is_request: bool) -> list[Problem]:
    """``args.<name>`` must be an argument of the tool; other request roots must exist."""
    from sangdam.backends.mapping import REQUEST_KEYS, Problem

    problems = []
    for sub, where in walk(expr, path):
        target = sub.request if sub.request is not None else (sub.path if bare_is_request else None)
        if target is None or target.startswith("$"):
            continue
        root, _, rest = target.partition(".")
        key = "request" if sub.request is not None else "path"
        if root not in REQUEST_KEYS:
            problems.append(Problem(f"{where}.{key}" if key == "request" else where,
                                    f"{target!r}: a request path starts with one of {', '.join(REQUEST_KEYS)}"))
        elif root == "args" and args is not None and rest.split(".")[0] not in args:
            problems.append(Problem(f"{where}.{key}" if key == "request" else where,
                                    f"{target!r}: the call has no argument {rest!r} (its arguments: "
                                    f"{', '.join(args) or 'none'})"))
    return problems


def _error_rules(mapping: MappingFile, rules: dict[str, ErrorRule], path: str) -> list[Problem]:
    from sangdam.backends.mapping import Problem
    from sangdam.tools.messages import catalog

    known = catalog().get("errors", {})
    problems = []
    for their_code, rule in rules.items():
        if rule.code is not None and rule.code not in known:
            problems.append(Problem(f"{path}.{their_code}.code", f"{rule.code!r} is not an error code of "
                                    "tools.ko.yaml (use message_ko for a refusal Sangdam has no text for)"))
        for name, expr in rule.details.items():
            problems += _names(mapping, expr, f"{path}.{their_code}.details.{name}")
    return problems


def _arg_names(tool: str) -> tuple[str, ...] | None:
    from sangdam.backends.mapping import LOOKUPS
    from sangdam.tools.registry import get_tool

    if tool in LOOKUPS:
        return LOOKUPS[tool]
    return tuple(get_tool(tool).input_model.model_fields)


def _result_model(tool: str, part: str) -> type[BaseModel] | None:
    from sangdam.backends.ports import EFFECTS
    from sangdam.tools.registry import get_tool

    if part == "lookup":
        return None
    if part == "preview":
        return EFFECTS.get(tool)
    return get_tool(tool).output_model


def _lookup_result(tool: str, expr: Expr, path: str) -> list[Problem]:
    from sangdam.backends.mapping import Problem

    wanted = {"find_customer": (False, {"customer_id", "name"}), "customer_names": (True, {"id", "name"}),
              "plan_names": (True, None)}[tool]
    is_list, fields = wanted
    if is_list and expr.each is None:
        return [Problem(path, f"{tool} answers a list: use 'each'")]
    if fields is not None and set(expr.fields or {}) != fields:
        return [Problem(f"{path}.fields", f"{tool} needs exactly the fields {', '.join(sorted(fields))}")]
    if tool == "plan_names" and expr.value is None:
        return [Problem(path, "plan_names needs 'value' (the name of each item)")]
    return []


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(the pydantic model inside ``annotation``, whether it is a list of them)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _model_of(inner[0]) if len(inner) == 1 else (None, False)
    if origin in (list, tuple):
        model, _ = _model_of(typing.get_args(annotation)[0])
        return model, True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def _against_model(mapping: MappingFile, expr: Expr, model: type[BaseModel], path: str,
                   seen: set[tuple[str, str]] | None = None) -> list[Problem]:
    """``expr``'s object (``fields`` or ``shape``) covers ``model``'s required fields and names no other."""
    from sangdam.backends.mapping import Problem

    seen = seen if seen is not None else set()
    fields, where = expr.fields, f"{path}.fields"
    if fields is None and expr.shape is not None:
        if (expr.shape, model.__name__) in seen:
            return []
        seen.add((expr.shape, model.__name__))
        inner = mapping.shapes.get(expr.shape)
        if inner is None:
            return []
        return _against_model(mapping, inner, model, f"shapes.{expr.shape}", seen)
    if fields is None:
        return []
    problems = []
    declared = model.model_fields
    for name in fields:
        if name not in declared:
            problems.append(Problem(f"{where}.{name}", f"not a field of {model.__name__} (its fields: "
                                    f"{', '.join(declared)})"))
    for name, info in declared.items():
        if info.is_required() and name not in fields:
            problems.append(Problem(where, f"{model.__name__}.{name} is required and not mapped"))
    for name, sub in fields.items():
        if name not in declared:
            continue
        inner_model, is_list = _model_of(declared[name].annotation)
        if inner_model is not None and (sub.each is not None) != is_list:
            problems.append(Problem(f"{where}.{name}", f"{model.__name__}.{name} is "
                                    f"{'a list: use each' if is_list else 'one object: each makes a list'}"))
        elif inner_model is not None:
            problems += _against_model(mapping, sub, inner_model, f"{where}.{name}", seen)
    return problems

