"""The canonical tools by name, and their export in the OpenAI tools format."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sangdam.tools.base import Tool, ToolError

# Canonical order: reads, then writes, then the irreversible one (as listed in the public contract).
CANONICAL_NAMES = (
    "verify_identity", "get_customer", "list_lines", "get_line", "get_bills", "explain_bill", "get_data_usage",
    "list_plans", "recommend_plans", "get_contract", "list_roaming_passes", "check_line_diagnostics", "get_outages",
    "change_plan", "refill_data", "enable_roaming", "disable_roaming", "suspend_line", "resume_line", "pay_bill",
    "create_ticket", "transfer_to_human", "request_cancellation",
)


@lru_cache(maxsize=1)
def _tools() -> dict[str, Tool]:
    from sangdam.tools.builtin import TOOLS

    found = {t.name: t for t in TOOLS}
    missing = set(CANONICAL_NAMES) - set(found)
    if missing:  # a programming error, caught by the first test that touches the registry
        raise RuntimeError(f"canonical tools without an implementation: {sorted(missing)}")
    return {name: found[name] for name in CANONICAL_NAMES}


def all_tools() -> list[Tool]:
    """Every canonical tool, reads first."""
    return list(_tools().values())


def get_tool(name: str) -> Tool:
    """The tool called ``name``; ``ToolError('unknown_tool')`` for any other name."""
    try:
        return _tools()[name]
    except KeyError:
        raise ToolError("unknown_tool", f"no tool named {name!r}", {"tool": name}) from None


def openai_tools(names: list[str] | None = None, lang: str = "en") -> list[dict[str, Any]]:
    """Schemas of ``names`` (default: all tools) in the OpenAI ``tools`` format."""
    tools = [get_tool(n) for n in names] if names is not None else all_tools()
    return [t.openai_schema(lang=lang) for t in tools]
