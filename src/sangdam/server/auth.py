"""Request authentication (``Authorization: Bearer <key or session token>``), role checks and rate limits.

A bearer is either an API key (``sd-…``, :mod:`sangdam.server.keys`) or a web-chat session token (``ws-…``,
:mod:`sangdam.server.sessions`). Rate limits key on *who is talking*, not on a shared channel key. A request is
charged to one bucket (its *subject*):

- a request about one conversation (``/conversations/{id}/…``): that key's or session's view of that conversation;
- any other request (open a conversation, OpenAI-compatible chat, console lists): that key from that client
  address, or that session;
- opening a web-chat session: the client address;
- refused requests (no key, a wrong key or token, an expired session, a bad login assertion, an unknown or foreign
  conversation): the client address alone; once that bucket is empty such requests answer 429 instead of 401/404,
  so keys, tokens and conversation ids cannot be guessed at speed. Valid requests from the address are not
  affected.

The buckets live behind :class:`RateLimits` (``app.state.rate_limiter``): in process memory by default
(:class:`RateLimiter`), or any store with the same ``allow`` — e.g. PostgreSQL when several workers must count
together.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from fastapi import Depends, Request

from sangdam.server.errors import ApiError
from sangdam.server.keys import Principal, authenticate

_MAX_BUCKETS = 100_000  # idle buckets are full again after a minute: dropping the oldest loses nothing


class RateLimits(Protocol):
    """Where the token buckets live: ``allow`` takes one token from ``subject``'s bucket of ``per_minute``
    (the store's default when None; 0 = unlimited) and says whether there was one."""

    per_minute: int

    def allow(self, subject: str, per_minute: int | None = None) -> bool: ...


class RateLimiter:
    """Token buckets by subject in this process: ``per_minute`` requests a minute on average, bursts up to the same
    number. One server process; several workers need a shared store (see :class:`RateLimits`)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, subject: str, per_minute: int | None = None) -> bool:
        """Take one token from ``subject``'s bucket; False when it is empty (the caller answers 429)."""
        rate = per_minute or self.per_minute
        if rate <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(subject, (float(rate), now))
            tokens = min(float(rate), tokens + (now - last) * rate / 60.0)
            allowed = tokens >= 1.0
            self._buckets[subject] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > _MAX_BUCKETS:
                self._buckets.popitem(last=False)
            return allowed


def client_ip(request: Request) -> str:
    """The caller's address (uvicorn applies ``X-Forwarded-For`` from trusted proxies before we see it)."""
    return request.client.host if request.client else "unknown"


def rate_subject(request: Request, who: Principal) -> str:
    """The bucket a request of ``who`` is charged to: its conversation, else its key from its address (a session
    is one browser tab already)."""
    conv_id = request.path_params.get("conv_id")
    if conv_id:
        return f"{who.subject}:conv:{conv_id}"
    if who.session_id:
        return who.subject
    return f"{who.subject}:ip:{client_ip(request)}"


def strike(request: Request) -> bool:
    """Charge a refused request (bad key, unknown conversation) to the caller's address; False when that address
    is over its rate (then the request answers 429)."""
    limiter: RateLimits | None = getattr(request.app.state, "rate_limiter", None)
    return limiter is None or limiter.allow(f"ip:{client_ip(request)}")


def rate_limited(what: str) -> ApiError:
    return ApiError(429, "rate_limited", f"rate limit exceeded for this {what}", headers={"Retry-After": "1"})


def allow_new_session(request: Request) -> None:
    """Opening a web-chat session costs the caller's address (429 when over its rate)."""
    limiter: RateLimits = request.app.state.rate_limiter
    if not limiter.allow(f"sessions:ip:{client_ip(request)}"):
        raise rate_limited("address")


def principal(request: Request) -> Principal:
    """The caller, from the bearer key or session token (401 when missing, invalid, revoked or expired; 429 when
    its subject is over the rate)."""
    header = request.headers.get("authorization", "")
    scheme, _, bearer = header.partition(" ")
    bearer = bearer.strip()
    if scheme.lower() != "bearer" or not bearer:
        raise ApiError(401, "unauthorized", "missing bearer key (Authorization: Bearer <key>)")
    if bearer.startswith("ws-"):
        found = request.app.state.sessions.authenticate(bearer)
        if found == "expired":
            raise ApiError(401, "session_expired", "this chat session has ended; open a new one (POST /api/v1/sessions)")
    else:
        found = authenticate(request.app.state.engine, bearer, now=request.app.state.clock())
    if not isinstance(found, Principal):
        raise ApiError(401, "unauthorized", "invalid, revoked or expired key or session")
    limiter: RateLimits = request.app.state.rate_limiter
    if not limiter.allow(rate_subject(request, found), found.rate_per_minute):
        raise rate_limited("conversation" if request.path_params.get("conv_id") else "key and address")
    return found


def require(*roles: str) -> Callable[..., Principal]:
    """Dependency: the caller must hold one of ``roles`` (admin always passes) — else 403."""

    def check(who: Principal = Depends(principal)) -> Principal:
        if who.role != "admin" and who.role not in roles:
            raise ApiError(403, "forbidden", f"role {who.role!r} may not do this (needs {' or '.join(roles)})")
        return who

    return check
