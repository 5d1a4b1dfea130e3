"""Functions: the computation a procedure asks Python for (pricing, ranking, parsing, selecting), by name.

A ``compute: <name>`` step runs ``fn(ctx, args)`` and saves what it returns (plain data: dicts, lists, numbers,
strings) like a tool result. What a function returns is computed in code from tool results and the customer's
request, so it is a fact the verifier lets a reply state. A function reads the operator's systems only through
``ctx.call`` and only the tools it declares (``tools=``), which join the allow-list of every procedure that
computes it. Control flow, questions, proposals and Korean text stay in the procedure's YAML.

The packaged functions live in this package's modules (one per domain), imported here; an operator's Python
package may register more with ``@register_function`` (docs/procedures.md).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

Function = Callable[[Any, dict[str, Any]], Any]  # (AgentContext, args) -> plain data
_FUNCTIONS: dict[str, Function] = {}
FUNCTION_TOOLS: dict[str, tuple[str, ...]] = {}
_loaded = False


class FunctionError(ValueError):
    """A function's arguments do not fit it (a mistake of the procedure)."""


def register_function(name: str, tools: tuple[str, ...] = ()) -> Callable[[Function], Function]:
    """Register ``fn(ctx, args) -> data`` as function ``name`` (``tools``: the tools it calls through ctx)."""

    def wrap(fn: Function) -> Function:
        _FUNCTIONS[name] = fn
        FUNCTION_TOOLS[name] = tuple(tools)
        return fn

    return wrap


def _load_packaged() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def function_names() -> list[str]:
    _load_packaged()
    return list(_FUNCTIONS)


def get_function(name: str) -> Function:
    _load_packaged()
    return _FUNCTIONS[name]


def function_tools(name: str) -> tuple[str, ...]:
    _load_packaged()
    return FUNCTION_TOOLS.get(name, ())


__all__ = ["FunctionError", "function_names", "function_tools", "get_function", "register_function"]
