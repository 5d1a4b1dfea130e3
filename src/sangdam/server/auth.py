"""Request authentication (``Authorization: Bearer <key>``), role checks and rate limits.

Rate limits key on *who is talking*, not on the channel key: every web-chat customer shares one
``customer-channel`` key, so a per-key bucket lets a few open chats starve everyone else. A request is charged
to one bucket (its *subject*):

- a request about one conversation (``/conversations/{id}/…``): that key's view of that conversation;
- any other request (open a conversation, OpenAI-compatible chat, console lists): that key from that client IP;
- unauthenticated or failed requests (no key, a wrong key, an unknown conversation): the client IP alone,
  checked before the key is even looked up.
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
        return self._take(subject, per_minute, cost=1.0)

    def has_room(self, subject: str, per_minute: int | None = None) -> bool:
        """Whether ``subject`` could make a request now (takes nothing)."""
        return self._take(subject, per_minute, cost=0.0)

    def _take(self, subject: str, per_minute: int | None, cost: float) -> bool:
        rate = per_minute or self.per_minute
        if rate <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(subject, (float(rate), now))
            tokens = min(float(rate), tokens + (now - last) * rate / 60.0)
            allowed = tokens >= 1.0
            self._buckets[subject] = (tokens - cost if allowed else tokens, now)
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


def anonymous_subject(request: Request) -> str:
    return f"ip:{client_ip(request)}"


def strike(request: Request) -> None:
    """Charge a refused request (bad key, unknown conversation) to the caller's address."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.allow(anonymous_subject(request))


def _rate_limited(what: str) -> ApiError:
    return ApiError(429, "rate_limited", f"rate limit exceeded for this {what}", headers={"Retry-After": "1"})


def principal(request: Request) -> Principal:
    """The caller, from the bearer key (401 when missing or invalid; 429 when its subject is over the rate)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    if not limiter.has_room(anonymous_subject(request)):
        raise _rate_limited("address")  # too many refused requests from here: no key lookups for a while
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "missing bearer key (Authorization: Bearer <key>)")
    found = authenticate(request.app.state.engine, key.strip())
    if found is None:
        raise ApiError(401, "unauthorized", "invalid or revoked API key")
    if not limiter.allow(rate_subject(request, found), found.rate_per_minute):
        raise _rate_limited("conversation" if request.path_params.get("conv_id") else "key and address")
    return found


def require(*roles: str) -> Callable[..., Principal]:
    """Dependency: the caller must hold one of ``roles`` (admin always passes) — else 403."""

    def check(who: Principal = Depends(principal)) -> Principal:
        if who.role != "admin" and who.role not in roles:
            raise ApiError(403, "forbidden", f"role {who.role!r} may not do this (needs {' or '.join(roles)})")
        return who

    return check
