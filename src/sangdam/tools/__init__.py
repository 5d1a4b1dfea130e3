"""Typed tool layer: business rules in code, risk tiers, previews, audit and idempotency.

Public entry points: :mod:`sangdam.tools.base` (``Tool``, ``ToolContext``, ``ToolError``, ``RiskTier``,
``Proposal``) and :mod:`sangdam.tools.registry` (``get_tool``, ``all_tools``, ``openai_tools``).
"""

from sangdam.tools.base import Proposal, RiskTier, Tool, ToolContext, ToolError
from sangdam.tools.registry import all_tools, get_tool, openai_tools

__all__ = ["Proposal", "RiskTier", "Tool", "ToolContext", "ToolError", "all_tools", "get_tool", "openai_tools"]
