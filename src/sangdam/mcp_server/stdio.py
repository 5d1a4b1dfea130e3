"""MCP over stdio: one process, one client, one session — for a trusted local operator process.

There is no key on stdio (whoever can start the process can read the database). The session is bound to a customer
either by the operator at start (``--customer C-…``: the operator's process has already identified its user) or by
``verify_identity`` in the session, throttled like a chat (per session and per number; there is no client address).
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio

from sangdam.mcp_server.gateway import Gateway
from sangdam.mcp_server.server import build_server
from sangdam.mcp_server.session import McpSession
from sangdam.tools.registry import get_tool

STDIO_ACTOR = "mcp:stdio"


def stdio_session(gateway: Gateway, customer_id: str | None = None) -> McpSession:
    """The process's one session; ``customer_id`` (checked to exist) binds it at once."""
    session = McpSession(id=f"stdio-{uuid.uuid4().hex[:16]}", actor=STDIO_ACTOR, source=None)
    if customer_id:
        session.bind(customer_id, "operator")
        # An unknown id fails here (ToolError not_found), not at the client's first call.
        get_tool("get_customer").run(gateway.context(session), {})
    return session


def serve_stdio(gateway: Gateway, customer_id: str | None = None) -> None:
    """Serve MCP on this process's stdin/stdout until the client closes them."""
    from mcp.server.stdio import stdio_server

    session = stdio_session(gateway, customer_id)
    server = build_server(gateway, lambda ctx: session)

    async def main() -> Any:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(main)
