"""What every response and request goes through, whatever its route: security headers, the body size limit and
the self-hosted API docs.

- Headers on every response (pages, assets, API, errors): a Content-Security-Policy that allows only this origin's
  own scripts (no inline script, no eval) and no framing (``frame-ancestors 'none'``), ``X-Content-Type-Options:
  nosniff``, ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY``.
- A request body longer than ``max_body_bytes`` answers 413 ``body_too_large`` — at once when ``Content-Length``
  says so, else as soon as that many bytes have arrived (chunked uploads); nothing is processed.
- ``/docs`` is Swagger UI from assets shipped in a Python package (``fastapi-offline``), served from here: no CDN
  script ever runs on this origin. ``api_docs=False`` turns the page off; ``/openapi.json`` stays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sangdam.server.sessions import AssertionPolicy

STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Swagger UI sets style attributes on its elements; scripts stay 'self' only.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY")]


class SecurityOptions(BaseModel):
    """Security settings of one app (from ``SANGDAM_*`` settings by default; tests pass their own)."""

    assertion_key: str | None = Field(default=None, description="HS256 secret or PEM public key of login assertions.")
    assertion_algorithms: tuple[str, ...] = ("HS256",)
    assertion_issuer: str | None = None
    assertion_audience: str = "sangdam"
    assertion_max_lifetime_s: int = 900
    session_idle_s: int = 30 * 60
    session_max_s: int = 12 * 3600
    max_body_bytes: int = 64 * 1024
    api_docs: bool = True

    @classmethod
    def from_settings(cls) -> SecurityOptions:
        """The options the ``SANGDAM_*`` environment sets (see README, Settings)."""
        from sangdam.config import get_settings

        s = get_settings()
        key = s.assertion_key
        if not key and s.assertion_key_file:
            key = Path(s.assertion_key_file).expanduser().read_text(encoding="utf-8")
        return cls(assertion_key=key or None,
                   assertion_algorithms=tuple(a.strip() for a in s.assertion_algorithms.split(",") if a.strip()),
                   assertion_issuer=s.assertion_issuer or None, assertion_audience=s.assertion_audience,
                   session_idle_s=s.session_idle_minutes * 60, session_max_s=s.session_max_hours * 3600,
                   max_body_bytes=s.max_body_bytes, api_docs=s.api_docs)

    @property
    def assertions(self) -> AssertionPolicy:
        return AssertionPolicy(key=self.assertion_key, algorithms=self.assertion_algorithms,
                               issuer=self.assertion_issuer, audience=self.assertion_audience,
                               max_lifetime_s=self.assertion_max_lifetime_s)


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response (a route's own value is replaced)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = (DOCS_CSP if scope["path"] == "/docs" else CSP).encode()
        ours = {name for name, _ in HEADERS} | {b"content-security-policy"}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in ours]
                message["headers"] = [*kept, (b"content-security-policy", csp), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyTooLarge(StarletteHTTPException):
    """Raised while the body arrives (FastAPI passes HTTP exceptions raised by ``receive`` through)."""


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` answers 413 before anything processes it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(413, self._detail())
            return message

        await self.app(scope, counted, send)

    def _detail(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"

    async def _refuse(self, send: Send) -> None:
        from sangdam.server.errors import error_body, korean

        body = json.dumps(error_body("body_too_large", self._detail(), korean("body_too_large"))).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def install_docs(app: FastAPI, enabled: bool) -> None:
    """``/docs``: Swagger UI from packaged assets (no CDN), started by ``static/docs.js`` (no inline script)."""
    if not enabled:
        return
    import fastapi_offline

    assets = Path(fastapi_offline.__file__).resolve().parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs_page() -> Any:
        return FileResponse(STATIC / "docs.html")


def install_security(app: FastAPI, options: SecurityOptions) -> None:
    """Add the headers and body-limit middleware and the docs page to ``app``."""
    app.add_middleware(BodyLimit, max_bytes=options.max_body_bytes)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so even a refusal above carries the headers
    install_docs(app, options.api_docs)
