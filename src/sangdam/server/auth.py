"""Request authentication (``Authorization: Bearer <key>``), role checks and per-key rate limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from fastapi import Depends, Request

from sangdam.server.errors import ApiError
from sangdam.server.keys import Principal, authenticate


class RateLimiter:
    """Token bucket per key: ``per_minute`` requests a minute on average, bursts up to the same number.

    In-process (one server); several workers would share buckets over Redis instead.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key_id: str, per_minute: int | None = None) -> bool:
        rate = per_minute or self.per_minute
        if rate <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(rate), now))
            tokens = min(float(rate), tokens + (now - last) * rate / 60.0)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                return False
            self._buckets[key_id] = (tokens - 1.0, now)
            return True


def principal(request: Request) -> Principal:
    """The caller, from the bearer key (401 when missing or invalid; 429 when over its rate)."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "missing bearer key (Authorization: Bearer <key>)")
    found = authenticate(request.app.state.engine, key.strip())
    if found is None:
        raise ApiError(401, "unauthorized", "invalid or revoked API key")
    if not request.app.state.rate_limiter.allow(found.key_id, found.rate_per_minute):
        raise ApiError(429, "rate_limited", "rate limit exceeded for this key", headers={"Retry-After": "1"})
    return found


def require(*roles: str) -> Callable[..., Principal]:
    """Dependency: the caller must hold one of ``roles`` (admin always passes) — else 403."""

    def check(who: Principal = Depends(principal)) -> Principal:
        if who.role != "admin" and who.role not in roles:
            raise ApiError(403, "forbidden", f"role {who.role!r} may not do this (needs {' or '.join(roles)})")
        return who

    return check
