"""Sangdam as an MCP server (docs/mcp.md): the tools and the knowledge base for other agents, one verified customer
per session, writes only as proposals confirmed by an explicit call.

- :mod:`~sangdam.mcp_server.gateway`: what a call does (reads, proposals, confirmation, identity, KB search);
- :mod:`~sangdam.mcp_server.session`: the session's bound customer and proposals;
- :mod:`~sangdam.mcp_server.server`: the MCP SDK's low-level server around the gateway (results and error results);
- :mod:`~sangdam.mcp_server.stdio` and :mod:`~sangdam.mcp_server.http`: the two transports (HTTP with API keys).

``sangdam mcp serve [--transport stdio|http]`` starts it. The SDK is imported only by the server and transports.
"""

from sangdam.mcp_server.gateway import Gateway, ToolSpec
from sangdam.mcp_server.session import McpSession, SessionRegistry, StoredProposal

__all__ = ["Gateway", "McpSession", "SessionRegistry", "StoredProposal", "ToolSpec"]
