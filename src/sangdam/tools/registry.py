"""Every tool by name — the built-in ones and those imported from outside — and their export in the OpenAI tools
format.

Built-in tools are those of :mod:`sangdam.tools.builtin` (the canonical 23 first, in the order of the public
contract; tests check they are all there, with and without imported tools). Imported tools (OpenAPI operations, MCP
server tools; docs/importing-tools.md) are loaded from ``SANGDAM_HOME`` by :mod:`sangdam.tools.imported.loader`
and follow them; a name used twice is a configuration error naming the file.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sangdam.tools.base import Tool, ToolError

# The public contract's tools, in its order: reads, then writes, then the irreversible one.
CANONICAL_NAMES = (
    "verify_identity", "get_customer", "list_lines", "get_line", "get_bills", "explain_bill", "get_data_usage",
    "list_plans", "recommend_plans", "get_contract", "list_roaming_passes", "check_line_diagnostics", "get_outages",
    "change_plan", "refill_data", "enable_roaming", "disable_roaming", "suspend_line", "resume_line", "pay_bill",
    "create_ticket", "transfer_to_human", "request_cancellation",
)


@lru_cache(maxsize=1)
def _builtin() -> dict[str, Tool]:
    from sangdam.tools.builtin import TOOLS

    found = {t.name: t for t in TOOLS}
    order = [n for n in CANONICAL_NAMES if n in found] + [n for n in found if n not in CANONICAL_NAMES]
    return {name: found[name] for name in order}


def _imported():  # noqa: ANN202 - sangdam.tools.imported.loader.Imported
    from sangdam.config import get_settings
    from sangdam.tools.imported.loader import imported_tools

    return imported_tools(get_settings().resolved_home, set(_builtin()))


def _tools() -> dict[str, Tool]:
    imported = _imported().tools
    return {**_builtin(), **imported} if imported else _builtin()


def builtin_names() -> set[str]:
    """Names of the built-in tools (imported tools may not reuse them)."""
    return set(_builtin())


def unavailable_tools() -> list[Any]:
    """Imported tools that are configured but could not be registered (or only from a cache), with the reason:
    ``[Unavailable(source, tools, reason)]``."""
    return list(_imported().unavailable)


def all_tools() -> list[Tool]:
    """Every tool: the built-in ones (reads first), then the imported ones."""
    return list(_tools().values())


def get_tool(name: str) -> Tool:
    """The tool called ``name``; ``ToolError('unknown_tool')`` for any other name, ``backend_unavailable`` for an
    imported tool whose source could not be reached when the tools were loaded."""
    try:
        return _tools()[name]
    except KeyError:
        missing = _imported().why_unavailable(name)
        if missing is not None:
            from sangdam.backends.core import BackendUnavailable

            raise BackendUnavailable(f"{name} ({missing.source}) is unavailable: {missing.reason}",
                                     {"tool": name, "source": missing.source}) from None
        raise ToolError("unknown_tool", f"no tool named {name!r}", {"tool": name}) from None


def openai_tools(names: list[str] | None = None, lang: str = "en") -> list[dict[str, Any]]:
    """Schemas of ``names`` (default: all tools) in the OpenAI ``tools`` format."""
    tools = [get_tool(n) for n in names] if names is not None else all_tools()
    return [t.openai_schema(lang=lang) for t in tools]
