"""MCP over streamable HTTP at ``/mcp``, authenticated by Sangdam API keys (``Authorization: Bearer sd-…``).

- Every request is checked (:func:`sangdam.server.keys.authenticate`): no key, a malformed, unknown, revoked or
  expired key → 401, so revoking a key cuts its open sessions off at their next request.
- Roles (``ALLOWED_ROLES``): ``customer-channel`` and ``channel-trusted`` keys may connect. A customer-channel key
  **bound** to a customer opens sessions already bound to that customer; an unbound customer-channel key or a
  channel-trusted key opens unbound sessions (``verify_identity`` binds them; naming a customer is not offered
  over MCP). ``agent`` and ``admin`` keys → 403: they are console keys, typed into a browser, and their scope is
  every customer, not one.
- A session (``Mcp-Session-Id``) belongs to the key that opened it: the SDK answers 404 to any other key.
- Sessions are the handshake era's (protocol ≤ 2025-11-25). The 2026-07-28 wire has no sessions (each request
  stands alone), so it could not keep "one verified customer per session"; such requests are refused with
  UNSUPPORTED_PROTOCOL_VERSION naming the versions served, and an ``auto`` client falls back to the handshake.
- Session state lives in this process (one server process; sessions end after 30 minutes idle).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import anyio
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_REQUEST, UNSUPPORTED_PROTOCOL_VERSION
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route

from sangdam.mcp_server.gateway import Gateway
from sangdam.mcp_server.server import build_server
from sangdam.mcp_server.session import SESSION_IDLE_S, McpSession, SessionRegistry
from sangdam.server.keys import authenticate

MCP_PATH = "/mcp"
MCP_SCOPE = "sangdam:mcp"
ALLOWED_ROLES = ("customer-channel", "channel-trusted")


class ApiKeyVerifier:
    """The SDK's ``TokenVerifier`` over Sangdam API keys: a key of an allowed role gets the ``sangdam:mcp`` scope,
    an agent or admin key none (→ 403); anything else is no principal (→ 401)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def verify_token(self, token: str) -> AccessToken | None:
        principal = await anyio.to_thread.run_sync(authenticate, self.engine, token)
        if principal is None:
            return None
        return AccessToken(
            token=f"key:{principal.key_id}",  # the key itself is not kept in the request scope
            client_id=f"key:{principal.key_id}",
            scopes=[MCP_SCOPE] if principal.role in ALLOWED_ROLES else [],
            subject=principal.customer_id,
            claims={"role": principal.role, "customer_id": principal.customer_id},
        )


async def handshake_era_only(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Refuse 2026-07-28 (sessionless) requests over HTTP, naming the handshake versions that are served."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        raise MCPError(UNSUPPORTED_PROTOCOL_VERSION,
                       "Sangdam keeps one verified customer per MCP session: connect with the initialize handshake",
                       {"supported": list(HANDSHAKE_PROTOCOL_VERSIONS), "requested": ctx.protocol_version})
    return await call_next(ctx)


def http_session_resolver(registry: SessionRegistry):  # noqa: ANN201 - a SessionResolver
    """The session of an HTTP request: its ``Mcp-Session-Id``, created on first use for the key that opened it."""

    def resolve(ctx: ServerRequestContext[Any, Any]) -> McpSession:
        request = ctx.request
        user = request.scope.get("user") if request is not None else None
        session_id = request.headers.get(MCP_SESSION_ID_HEADER) if request is not None else None
        if not isinstance(user, AuthenticatedUser) or not session_id:
            raise MCPError(INVALID_REQUEST, "no authenticated MCP session")
        token = user.access_token
        customer_id = (token.claims or {}).get("customer_id")
        session = registry.get_or_create(session_id, actor=f"mcp:{token.client_id}", source=_client(request),
                                         key_id=token.client_id, customer_id=customer_id, bound_by="api_key")
        if session.key_id != token.client_id:  # the SDK already answers 404 to another key; never rely on it alone
            raise MCPError(INVALID_REQUEST, "session belongs to another key")
        return session

    return resolve


def _client(request: Any) -> str | None:
    return request.client.host if request.client else None


def _security(host: str) -> TransportSecuritySettings | None:
    """DNS-rebinding protection when serving on loopback (as the SDK does): only local Host/Origin headers."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return None
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )


def http_app(gateway: Gateway, *, host: str = "127.0.0.1", max_body_bytes: int = 64 * 1024,
             registry: SessionRegistry | None = None) -> Starlette:
    """The ASGI app: ``POST/GET/DELETE /mcp`` behind API-key authentication."""
    registry = registry or SessionRegistry(idle_s=SESSION_IDLE_S + 60)  # the SDK ends a session first
    server = build_server(gateway, http_session_resolver(registry))
    server.middleware.append(handshake_era_only)
    manager = StreamableHTTPSessionManager(app=server, security_settings=_security(host),
                                           max_request_body_size=max_body_bytes, session_idle_timeout=SESSION_IDLE_S)
    endpoint = RequireAuthMiddleware(StreamableHTTPASGIApp(manager), [MCP_SCOPE])
    app = Starlette(
        routes=[Route(MCP_PATH, endpoint=endpoint)],
        middleware=[Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(ApiKeyVerifier(gateway.engine))),
                    Middleware(AuthContextMiddleware)],
        lifespan=lambda app: manager.run(),
    )
    app.state.sessions = registry
    return app


def serve_http(gateway: Gateway, *, host: str, port: int, log_level: str = "warning",
               max_body_bytes: int = 64 * 1024) -> None:
    """Serve until Ctrl-C / SIGTERM."""
    import uvicorn

    app = http_app(gateway, host=host, max_body_bytes=max_body_bytes)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
