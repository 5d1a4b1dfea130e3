"""The reference BSS as a FastAPI application: bearer-token auth, the error envelope, the ``/api/v1`` routes and,
with an admin token, the test-support ``/admin`` routes (state switch, fault injection, call counts)."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from sangdam.bss import api, loyalty, orders
from sangdam.bss.errors import BssError, from_tool_error
from sangdam.bss.faults import FaultBook, FaultMiddleware, FaultSpec
from sangdam.bss.schemas import ApiModel
from sangdam.bss.state import BssRuntime, safe_url
from sangdam.domain.db import session_scope
from sangdam.domain.models import Line
from sangdam.tools.base import ToolError

log = logging.getLogger(__name__)
TITLE = "누리텔레콤 BSS (Sangdam reference operator API)"
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _check(credentials: HTTPAuthorizationCredentials | None, expected: str) -> None:
    given = credentials.credentials if credentials is not None else ""
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise BssError(401, "UNAUTHENTICATED", "a valid bearer token is required",
                       headers={"WWW-Authenticate": "Bearer"})


def require_token(request: Request, credentials: Credentials) -> None:
    """Every ``/api/v1`` call carries the BSS's bearer token."""
    _check(credentials, request.app.state.token)


def require_admin(request: Request, credentials: Credentials) -> None:
    _check(credentials, request.app.state.admin_token)


def create_app(runtime: BssRuntime | None, *, token: str, admin_token: str | None = None) -> FastAPI:
    """The BSS over ``runtime``'s database (None: only to render the OpenAPI document). ``admin_token`` enables
    ``/admin`` (test support only)."""
    app = FastAPI(title=TITLE, version="1.0.0", docs_url=None, redoc_url=None, description=(
        "Reference operator BSS: subscribers, subscriptions, tariffs, invoices, usage, roaming bundles, trouble "
        "tickets and network incidents. Money is a decimal string with a currency; data volumes are MB; "
        "collections are paged with `limit`/`cursor`; errors use one envelope; writes take an `Idempotency-Key` "
        "header and `?dryRun=true`."))
    app.state.runtime, app.state.token, app.state.admin_token = runtime, token, admin_token
    app.state.faults = FaultBook()
    app.include_router(api.router, dependencies=[Depends(require_token)])
    app.include_router(orders.router, dependencies=[Depends(require_token)])
    app.include_router(loyalty.router, dependencies=[Depends(require_token)])
    if admin_token:
        app.include_router(_admin_router(), dependencies=[Depends(require_admin)])
    app.add_middleware(FaultMiddleware, book=app.state.faults)
    _install_error_handlers(app)

    @app.get("/health", include_in_schema=False, operation_id="health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _line_status(request: Request):  # noqa: ANN202 - a lookup closure
    def lookup(line_id: str) -> str | None:
        with session_scope(request.app.state.runtime.state.engine) as session:
            line = session.get(Line, line_id)
            return line.status if line is not None else None

    return lookup


def _json(exc: BssError) -> JSONResponse:
    return JSONResponse(exc.envelope(), status_code=exc.status, headers=exc.headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BssError)
    async def bss_error(request: Request, exc: BssError) -> JSONResponse:
        return _json(exc)

    @app.exception_handler(ToolError)
    async def tool_error(request: Request, exc: ToolError) -> JSONResponse:
        return _json(from_tool_error(exc, _line_status(request)))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _json(BssError(422, "VALIDATION_FAILED", "; ".join(errors), {"errors": errors}))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "RESOURCE_NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return _json(BssError(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("BSS request failed: %s %s", request.method, request.url.path)
        return _json(BssError(500, "INTERNAL_ERROR", "internal error"))


# --- test support ----------------------------------------------------------------------------------------------
class StateChange(ApiModel):
    """``PUT /admin/state``: point the BSS at another database and/or business date."""

    database_url: str | None = Field(default=None, description="SQLAlchemy URL (migrated if it has no schema)")
    today: dt.date | None = Field(default=None, description="Business date")
    seed: bool = Field(default=False, description="Write the demo data if the database has none")


def _state_view(runtime: BssRuntime) -> dict[str, Any]:
    state = runtime.state
    return {"databaseUrl": safe_url(state.url), "today": state.today.isoformat()}


def _admin_router() -> APIRouter:
    router = APIRouter(prefix="/admin", include_in_schema=False)

    @router.get("/state", operation_id="adminGetState")
    def get_state(request: Request) -> dict[str, Any]:
        return _state_view(request.app.state.runtime)

    @router.put("/state", operation_id="adminPutState")
    def put_state(request: Request, change: StateChange) -> dict[str, Any]:
        runtime: BssRuntime = request.app.state.runtime
        try:
            runtime.switch(change.database_url, change.today, seed_demo=change.seed)
        except Exception as exc:  # a bad URL or an unreachable server: say so, keep the old state
            raise BssError(422, "STATE_SWITCH_FAILED", f"{type(exc).__name__}: {exc}") from None
        return _state_view(runtime)

    @router.get("/faults", operation_id="adminListFaults")
    def list_faults(request: Request) -> dict[str, Any]:
        return {"data": request.app.state.faults.pending()}

    @router.post("/faults", operation_id="adminAddFault", status_code=201)
    def add_fault(request: Request, spec: FaultSpec) -> dict[str, Any]:
        request.app.state.faults.add(spec)
        return {"data": request.app.state.faults.pending()}

    @router.delete("/faults", operation_id="adminClearFaults")
    def clear_faults(request: Request) -> dict[str, Any]:
        request.app.state.faults.clear()
        return {"data": []}

    @router.get("/calls", operation_id="adminCallCounts")
    def call_counts(request: Request) -> dict[str, Any]:
        return {"data": dict(request.app.state.faults.calls)}

    @router.delete("/calls", operation_id="adminResetCallCounts")
    def reset_calls(request: Request) -> dict[str, Any]:
        request.app.state.faults.calls.clear()
        return {"data": {}}

    return router
