"""One JSON error shape for every 4xx/5xx: ``{"error": {"code", "message", "message_ko"}}``.

``message`` is English (operators, logs); ``message_ko`` is shown to customers. A database that cannot take the
request now (locked, disk full, unreachable) answers 503 ``unavailable`` with a ``Retry-After`` that says how soon
trying again makes sense, never a generic 500.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sangdam.backends.core import BackendUnavailable
from sangdam.contact_center.texts import texts

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as JSON with ``status``."""

    def __init__(self, status: int, code: str, message: str, message_ko: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers
        self.message_ko = message_ko or korean(code)


class ErrorDetail(BaseModel):
    code: str
    message: str
    message_ko: str


class ErrorBody(BaseModel):
    """Every error answer: a stable ``code``, an English ``message`` and a Korean ``message_ko`` for customers."""

    error: ErrorDetail


_ERROR_STATUSES = {400: "broken JSON (invalid_json)", 401: "no, invalid, revoked or expired key or session",
                   403: "role may not do this", 404: "no such conversation (or not yours)", 409: "busy or closed",
                   413: "message or body too large", 422: "invalid request", 429: "over the rate (Retry-After)",
                   500: "internal error", 503: "database unavailable (Retry-After)"}
# The error answers every route may give, declared in the OpenAPI document (routers' ``responses=``).
ERROR_RESPONSES: dict[int | str, dict] = {status: {"model": ErrorBody, "description": what}
                                          for status, what in _ERROR_STATUSES.items()}


def error_body(code: str, message: str, message_ko: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message, "message_ko": message_ko}}


def korean(code: str) -> str:
    """The customer's message for an error code (the generic one when the code has none)."""
    return texts()["errors"].get(code) or texts()["errors"]["invalid_request"]


# (words in the driver's message, seconds until a retry makes sense, what the operator is told)
_UNAVAILABLE = [
    (("locked", "busy", "deadlock", "could not obtain lock", "lock timeout"), 2, "database is busy (locked)"),
    (("disk is full", "no space", "could not extend", "disk i/o", "readonly", "read-only"), 60,
     "database cannot write (disk full or read-only)"),
]


def unavailable(exc: OperationalError) -> ApiError:
    """503 for a database that cannot serve now; ``Retry-After``: 2 s when it is busy, 60 s when it cannot write
    (a full disk does not free itself in seconds), 10 s when it is unreachable."""
    said = str(exc.orig if exc.orig is not None else exc).lower()
    retry, why = next(((s, w) for words, s, w in _UNAVAILABLE if any(x in said for x in words)),
                      (10, "database unreachable"))
    return ApiError(503, "unavailable", f"{why}; retry in {retry} s", headers={"Retry-After": str(retry)})


class CrashGuard:
    """ASGI middleware: an unexpected exception is logged and answered with the JSON 500, and the connection stays
    open. (Starlette's own error middleware re-raises after answering, and the server then drops the keep-alive
    connection: the client's next request on it failed too.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("unhandled server error")
            if started:  # half a response is out: nothing else can be said on this connection
                raise
            body = json.dumps(error_body("internal", "internal server error", korean("internal"))).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the JSON error shape."""
    app.add_middleware(CrashGuard)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        if exc.status in (401, 404):  # a wrong key or a guessed conversation id costs the caller's address
            from sangdam.server.auth import rate_limited, strike

            if not strike(request):
                exc = rate_limited("address")
        return JSONResponse(error_body(exc.code, exc.message, exc.message_ko), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            return JSONResponse(error_body("invalid_json", "request body is not valid JSON",
                                           texts()["errors"]["invalid_json"]), 400)
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errs)
        return JSONResponse(error_body("invalid_request", detail, texts()["errors"]["invalid_request"]), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 400 from FastAPI: a body that is not even text (invalid UTF-8, nesting too deep for the parser)
        code = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed",
                413: "body_too_large"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail), korean(code)), exc.status_code,
                            headers=getattr(exc, "headers", None))  # e.g. 405's Allow

    @app.exception_handler(BackendUnavailable)
    async def _backend(_: Request, exc: BackendUnavailable) -> JSONResponse:
        # the operator's systems did not answer outside a turn (a session naming a customer, the console's names)
        log.warning("backend unavailable: %s", exc.message_en)
        return JSONResponse(error_body("backend_unavailable", exc.message_en, exc.message_ko), 503,
                            headers={"Retry-After": "10"})

    @app.exception_handler(OperationalError)
    async def _database(_: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc.orig if exc.orig is not None else exc)
        refusal = unavailable(exc)
        return JSONResponse(error_body(refusal.code, refusal.message, refusal.message_ko), 503, headers=refusal.headers)

