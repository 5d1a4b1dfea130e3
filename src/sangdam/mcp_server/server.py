"""The MCP face of :class:`~sangdam.mcp_server.gateway.Gateway`: the SDK's low-level ``Server`` with a tool list and
one call handler, which turns results and refusals into MCP tool results.

A refused or failed call is an MCP tool *error result* (``is_error: true``), never a protocol error or a crash: its
structured content is ``{"error": {"code", "message_en", "message_ko", "details"}}`` and its text the same JSON.
Which :class:`McpSession` a call belongs to is the transport's business (``SessionResolver``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

from sangdam import __version__
from sangdam.mcp_server.gateway import Gateway, ToolSpec
from sangdam.mcp_server.messages import refusal
from sangdam.mcp_server.session import McpSession
from sangdam.tools.base import ToolError

log = logging.getLogger(__name__)

SessionResolver = Callable[[ServerRequestContext[Any, Any]], McpSession]

INSTRUCTIONS = (
    "Sangdam, a telecom contact centre's tools for one customer per session. Verify the customer first "
    "(verify_identity with their mobile number and birth date) unless your key is bound to one; the session then "
    "stays that customer's. Read tools answer at once. Write tools return a proposal and change nothing: show its "
    "summary_ko (Korean) to the customer, and call confirm_proposal only after they agree (decline_proposal "
    "otherwise). Refusals carry a code, an English message for you and a Korean message for the customer. "
    "search_knowledge answers policy questions with passages to cite (document, section)."
)


def mcp_tool(spec: ToolSpec) -> types.Tool:
    """A :class:`ToolSpec` as an MCP tool; ``_meta`` carries Sangdam's risk tier and identity requirement."""
    read_only = spec.kind in ("read", "knowledge") or spec.name == "session_info"
    annotations = types.ToolAnnotations(
        read_only_hint=read_only,
        # A proposal changes nothing by itself; confirming can (the irreversible tier most of all).
        destructive_hint=None if read_only else spec.risk == "irreversible" or spec.name == "confirm_proposal",
        idempotent_hint=None if read_only else spec.name in ("confirm_proposal", "decline_proposal"),
        open_world_hint=False,
    )
    meta = {"sangdam/kind": spec.kind, "sangdam/needs_customer": spec.needs_customer}
    if spec.risk is not None:
        meta["sangdam/risk"] = spec.risk
    return types.Tool(name=spec.name, description=spec.description, input_schema=spec.input_schema,
                      annotations=annotations, _meta=meta)


def tool_result(payload: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=json.dumps(payload, ensure_ascii=False))],
                                structured_content=payload)


def error_result(exc: ToolError) -> types.CallToolResult:
    """A refusal as an MCP tool error result: code, English and Korean messages, details."""
    payload = {"error": exc.to_dict()}
    return types.CallToolResult(content=[types.TextContent(text=json.dumps(payload, ensure_ascii=False))],
                                structured_content=payload, is_error=True)


def build_server(gateway: Gateway, resolve_session: SessionResolver) -> Server[Any]:
    """The MCP server: ``tools/list`` from ``gateway.specs()``, ``tools/call`` through ``gateway.call`` in a worker
    thread (tools reach the database synchronously), in the session ``resolve_session`` names."""
    tools = [mcp_tool(spec) for spec in gateway.specs()]

    async def list_tools(ctx: ServerRequestContext[Any, Any],
                         params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: ServerRequestContext[Any, Any],
                        params: types.CallToolRequestParams) -> types.CallToolResult:
        session = resolve_session(ctx)
        try:
            payload = await anyio.to_thread.run_sync(gateway.call, session, params.name, params.arguments)
        except ToolError as exc:
            return error_result(exc)
        except Exception:  # a bug or a broken database must reach the client as a refusal, not end the session
            log.exception("MCP call %s failed in session %s", params.name, session.id)
            return error_result(refusal("internal_error", f"{params.name} failed on the server (logged)"))
        return tool_result(payload)

    return Server("sangdam", version=__version__, title="Sangdam (상담)", instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool)
