"""Request authentication (``Authorization: Bearer <key>``), role checks and rate limits.

Rate limits key on *who is talking*, not on the channel key: every web-chat customer shares one
``customer-channel`` key, so a per-key bucket lets a few open chats starve everyone else. A request is charged
to one bucket (its *subject*):

- a request about one conversation (``/conversations/{id}/…``): that key's view of that conversation;
- any other request (open a conversation, OpenAI-compatible chat, console lists): that key from that client IP;
- refused requests (no key, a wrong key, an unknown or foreign conversation): the client IP alone; once that
  bucket is empty such requests answer 429 instead of 401/404, so keys and conversation ids cannot be guessed
  at speed. Valid requests from the same address are not affected.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Depends, Request

from sangdam.server.errors import ApiError
from sangdam.server.keys import Principal, authenticate

_MAX_BUCKETS = 100_000  # idle buckets are full again after a minute: dropping the oldest loses nothing


class RateLimiter:
    """Token buckets by subject: ``per_minute`` requests a minute on average, bursts up to the same number.

    In-process (one server); several workers would share buckets over Redis instead.
    """

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
    """The bucket a request of ``who`` is charged to: its conversation, else its key from its address."""
    conv_id = request.path_params.get("conv_id")
    if conv_id:
        return f"key:{who.key_id}:conv:{conv_id}"
    return f"key:{who.key_id}:ip:{client_ip(request)}"


def strike(request: Request) -> bool:
    """Charge a refused request (bad key, unknown conversation) to the caller's address; False when that address
    is over its rate (then the request answers 429)."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    return limiter is None or limiter.allow(f"ip:{client_ip(request)}")


def rate_limited(what: str) -> ApiError:
    return ApiError(429, "rate_limited", f"rate limit exceeded for this {what}", headers={"Retry-After": "1"})


def principal(request: Request) -> Principal:
    """The caller, from the bearer key (401 when missing or invalid; 429 when its subject is over the rate)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "missing bearer key (Authorization: Bearer <key>)")
    found = authenticate(request.app.state.engine, key.strip())
    if found is None:
        raise ApiError(401, "unauthorized", "invalid or revoked API key")
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
