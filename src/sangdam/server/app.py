"""The FastAPI application: API, OpenAI-compatible endpoint, customer chat page and agent console.

``create_app(engine, today=...)`` builds one app around one :class:`ContactCentre` (one orchestrator, reused by
every request). Pages and assets are served from ``server/static`` (no CDN: works offline); security headers, the
body limit and the API docs page come from :mod:`sangdam.server.security`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from sangdam.server import api, errors, insights_api, openai_compat
from sangdam.server.events import MAX_STREAM_S, RECHECK_S
from sangdam.server.keys import utc_now
from sangdam.server.security import SecurityOptions, install_security
from sangdam.server.service import ContactCentre
from sangdam.server.shared_state import rate_limiter_for
from sangdam.server.sessions import SessionStore

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_RATE_PER_MINUTE = 120


def create_app(engine: Engine | None = None, *, today: dt.date | None = None, llm: Any = None,
               rate_per_minute: int = DEFAULT_RATE_PER_MINUTE, orchestrator: Any = None,
               push_recheck_s: float = RECHECK_S, push_max_s: float = MAX_STREAM_S,
               security: SecurityOptions | None = None, clock: Callable[[], dt.datetime] = utc_now) -> FastAPI:
    """Build the app.

    ``rate_per_minute`` is the default limit of each rate subject — one conversation, one key from one address,
    one address without a valid key (a key may carry its own; 0 = off). ``push_*`` tune the server-push streams
    (database re-check interval, stream lifetime before the page reconnects). ``security``: sessions,
    login assertions, body limit, docs page (default: from the ``SANGDAM_*`` settings); ``clock``: the wall clock
    (naive UTC) of key and session expiry.
    """
    from sangdam.domain.db import get_engine

    engine = engine or get_engine()
    options = security or SecurityOptions.from_settings()
    app = FastAPI(
        title="Sangdam contact centre",
        description="Korean-first AI contact centre: conversations API, OpenAI-compatible chat, agent console.",
        version="0.1.0", docs_url=None, redoc_url=None,
    )
    app.state.engine = engine
    app.state.clock = clock
    app.state.sessions = SessionStore(engine, idle_s=options.session_idle_s, max_s=options.session_max_s, clock=clock)
    app.state.assertions = options.assertions
    app.state.centre = ContactCentre(engine, today=today, llm=llm, orchestrator=orchestrator)
    app.state.rate_limiter = rate_limiter_for(engine, rate_per_minute)  # shared by every worker on PostgreSQL
    app.state.push = {"recheck_s": push_recheck_s, "max_s": push_max_s}
    errors.install(app)
    install_security(app, options)
    app.include_router(api.router)
    app.include_router(openai_compat.router)
    app.include_router(insights_api.router)  # /api/v1/insights/summary and the page /console/insights
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/chat")

    @app.get("/chat", include_in_schema=False)
    async def chat_page() -> FileResponse:
        return FileResponse(STATIC / "chat.html")

    @app.get("/console", include_in_schema=False)
    async def console_page() -> FileResponse:
        return FileResponse(STATIC / "console.html")

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
