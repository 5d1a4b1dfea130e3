"""Korean texts of the MCP server (``resources/messages/mcp.ko.yaml``) and its refusals as :class:`ToolError`."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from sangdam.tools.base import ToolError


@lru_cache(maxsize=1)
def catalog() -> dict[str, Any]:
    """The parsed ``mcp.ko.yaml`` (cached)."""
    path = resources.files("sangdam.resources").joinpath("messages").joinpath("mcp.ko.yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def description_ko(name: str) -> str:
    """Korean description of a tool the MCP server adds (confirm_proposal, search_knowledge, …)."""
    return catalog()["descriptions"][name]


def refusal(code: str, message_en: str, details: dict[str, Any] | None = None) -> ToolError:
    """A refusal of the MCP session layer, shaped like the tool layer's errors (code, English, Korean)."""
    return ToolError(code, message_en, details, message_ko=catalog()["errors"][code].format(**(details or {})))
