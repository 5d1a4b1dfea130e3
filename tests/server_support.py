"""Shared set-up of the server tests: a migrated SQLite world, a real uvicorn server on a free port, keys.

World = the tool tests' data (C-A: two lines; C-B: suspended, overdue bills) plus C-C 박솔 with one active line
(010-5555-6666), so a roaming request needs no line question. Business date: 2026-11-29.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from sqlalchemy import Engine

from sangdam.domain.db import make_engine, migrate, session_scope
from sangdam.domain.models import Customer, Line
from tools_fixtures import TODAY, populate

__all__ = ["TODAY", "make_server_world", "populate_server_world", "running_server", "served_world", "free_port",
           "login_assertion", "CHROMIUM", "signed_in_console"]

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium: Playwright's own browser download fails here


def make_server_world(path: Path) -> Engine:
    """A fresh migrated database at ``path`` with the test customers."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    populate_server_world(engine)
    return engine


def populate_server_world(engine: Engine) -> None:
    """The test customers in a migrated, empty database (SQLite or PostgreSQL)."""
    with session_scope(engine) as s:
        populate(s)
        s.add(Customer(id="C-C", name="박솔", birth_date=dt.date(1995, 5, 5), phone="010-5555-6666",
                       email=None, address="서울특별시 마포구 1", segment="standard", preferences={}))
        s.flush()
        s.add(Line(id="L-C1", customer_id="C-C", number="010-5555-6666", plan_id="P-5G-SLIM", status="active"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(app) -> Iterator[str]:  # noqa: ANN001 - a FastAPI app
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields the base URL."""
    port = free_port()
    # a stream that does not end when told to is cancelled after a second
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # readiness poll, not a fixed sleep
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        centre = getattr(app.state, "centre", None)
        if centre is not None:  # end open server-push streams first, as `sangdam serve` does on Ctrl-C
            centre.events.close()
        server.should_exit = True
        thread.join(timeout=10)


ASSERTION_SECRET = "test-operator-login-secret-0123456789abcdef"  # HS256 key of the test world's login assertions
ASSERTION_ISSUER = "https://login.nuri.test"


def login_assertion(customer_id: str, *, lifetime_s: int = 300) -> str:
    """A signed login assertion for ``customer_id``, as the operator's login would issue it (server clock: now)."""
    import jwt

    now = int(time.time())
    claims = {"sub": customer_id, "iss": ASSERTION_ISSUER, "aud": "sangdam", "iat": now, "exp": now + lifetime_s}
    return jwt.encode(claims, ASSERTION_SECRET, algorithm="HS256")


@contextmanager
def served_world(path: Path, *, rate_per_minute: int = 0) -> Iterator[tuple[str, dict[str, str]]]:
    """The test world served on loopback: (base URL, {"c": key bound to C-C, "web": unbound customer-channel key,
    "trusted": channel-trusted key, "agent": agent key}). The web chat needs no key: it opens sessions, bound to a
    customer by :func:`login_assertion`. ``rate_per_minute``: the server's rate limit (0 = off)."""
    from sangdam.server.app import create_app
    from sangdam.server.keys import create_key
    from sangdam.server.security import SecurityOptions

    engine = make_server_world(path)
    keys = {"c": create_key(engine, "customer-channel", customer_id="C-C").key,
            "web": create_key(engine, "customer-channel").key, "trusted": create_key(engine, "channel-trusted").key,
            "agent": create_key(engine, "agent").key}
    security = SecurityOptions(assertion_key=ASSERTION_SECRET, assertion_issuer=ASSERTION_ISSUER)
    try:
        with running_server(create_app(engine, today=TODAY, rate_per_minute=rate_per_minute, security=security)) as base:
            yield base, keys
    finally:
        engine.dispose()


@contextmanager
def signed_in_console(base: str, key: str) -> Iterator[tuple[object, list[str]]]:
    """A headless Chromium page of the agent console at ``base``, signed in with ``key``, and the list that
    collects the page's Content-Security-Policy violations (the page's own policy stays on)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(60_000)
            refused: list[str] = []
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{base}/console")
            page.get_by_test_id("key").fill(key)
            page.get_by_test_id("login").click()
            yield page, refused
        finally:
            browser.close()
