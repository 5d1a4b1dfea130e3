"""Public web-chat sessions: what a browser holds instead of a key.

``POST /api/v1/sessions`` needs no secret and answers a short-lived bearer token ``ws-<id>.<secret>`` (only its
SHA-256 is stored). A session owns the conversations it opens and sees no others. It can never name a customer:
its conversations start unverified (the bot checks identity), unless the session was opened with a *signed login
assertion* — a JWT from the operator's own login, verified with the configured key — which binds the session to
the customer the assertion names (``sub``).

A session expires after ``idle_s`` without a request (each use pushes the expiry forward, written at most once a
minute) and at the latest ``max_s`` after it was opened.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

from sangdam.backends import customer_exists
from sangdam.domain.auth_models import ConversationOwner, WebSession
from sangdam.domain.db import session_scope
from sangdam.server.keys import Principal, token_hash

_TOUCH_EVERY = dt.timedelta(minutes=1)
_PRUNE_EVERY = dt.timedelta(minutes=5)
_LEEWAY_S = 30  # clock skew between the operator's login server and this one


class InvalidAssertion(ValueError):
    """A login assertion that is not accepted (the reason is for logs only; callers answer one generic 401)."""


@dataclass(frozen=True)
class AssertionPolicy:
    """How signed login assertions are checked: the verification key (an HS256 secret, or a PEM public key for
    RS256/ES256), the accepted algorithms, the required issuer and audience, and the longest lifetime accepted."""

    key: str | None = None
    algorithms: tuple[str, ...] = ("HS256",)
    issuer: str | None = None
    audience: str = "sangdam"
    max_lifetime_s: int = 900

    def customer_of(self, token: str, now: dt.datetime) -> str:
        """The customer id (``sub``) of a valid assertion; raises :class:`InvalidAssertion` otherwise.

        Signature, algorithm (never ``none``), audience and issuer are checked by PyJWT; times against ``now`` (the
        server's clock): ``exp`` and ``iat`` are required, ``exp`` may lie at most ``max_lifetime_s`` ahead.
        """
        import jwt

        if not self.key:
            raise InvalidAssertion("no assertion key is configured (SANGDAM_ASSERTION_KEY)")
        try:
            claims = jwt.decode(
                token, self.key, algorithms=list(self.algorithms), audience=self.audience, issuer=self.issuer,
                options={"require": ["exp", "iat", "sub"], "verify_exp": False, "verify_iat": False,
                         "verify_nbf": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidAssertion(f"{type(exc).__name__}: {exc}") from None
        at = now.replace(tzinfo=dt.UTC).timestamp()
        exp, nbf = claims["exp"], claims.get("nbf", claims["iat"])
        if not isinstance(exp, int | float) or not isinstance(nbf, int | float):
            raise InvalidAssertion("exp/iat/nbf must be numbers")
        if exp <= at - _LEEWAY_S:
            raise InvalidAssertion("assertion expired")
        if nbf > at + _LEEWAY_S:
            raise InvalidAssertion("assertion not valid yet")
        if exp - at > self.max_lifetime_s + _LEEWAY_S:
            raise InvalidAssertion(f"assertion lives longer than {self.max_lifetime_s} s")
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub or len(sub) > 40:
            raise InvalidAssertion("sub is not a customer id")
        return sub


@dataclass(frozen=True)
class OpenedSession:
    """A new session: ``token`` goes to the browser once."""

    token: str
    expires_at: dt.datetime
    ends_at: dt.datetime
    customer_id: str | None


class SessionStore:
    """Web-chat sessions in the database (so every worker sees them)."""

    def __init__(self, engine: Engine, *, idle_s: int, max_s: int, clock: Callable[[], dt.datetime]) -> None:
        self.engine, self.idle, self.max, self.clock = engine, dt.timedelta(seconds=idle_s), dt.timedelta(seconds=max_s), clock
        self._next_prune = dt.datetime.min

    def open(self, customer_id: str | None = None) -> OpenedSession:
        """A new session, bound to ``customer_id`` when a verified assertion named one."""
        now = self.clock()
        self._prune(now)
        session_id = secrets.token_hex(8)
        token = f"ws-{session_id}.{secrets.token_urlsafe(32)}"
        ends = now + self.max
        expires = min(now + self.idle, ends)
        if customer_id is not None and not customer_exists(self.engine, customer_id):
            raise InvalidAssertion("the assertion names no known customer")
        with session_scope(self.engine) as s:
            s.add(WebSession(id=session_id, token_hash=token_hash(token), customer_id=customer_id, created_at=now,
                             expires_at=expires, ends_at=ends))
        return OpenedSession(token=token, expires_at=expires, ends_at=ends, customer_id=customer_id)

    def authenticate(self, token: str) -> Principal | None | str:
        """The session's principal; ``"expired"`` for a session that existed but has ended; None for anything else
        (malformed, unknown, wrong secret, revoked)."""
        if not token.startswith("ws-") or "." not in token or len(token) > 200:
            return None
        session_id = token[3:].split(".", 1)[0]
        now = self.clock()
        with session_scope(self.engine) as s:
            row = s.get(WebSession, session_id)
            if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, token_hash(token)):
                return None
            if now >= row.expires_at or now >= row.ends_at:
                return "expired"
            renewed = min(now + self.idle, row.ends_at)
            if renewed - row.expires_at >= _TOUCH_EVERY:  # one write a minute at most, not one per request
                row.expires_at = renewed
            return Principal(session_id=row.id, role="web-session", customer_id=row.customer_id)

    def _prune(self, now: dt.datetime) -> None:
        """Now and then, delete ended sessions that opened no conversation (a page opened and left, or a flood of
        session requests); sessions that own conversations stay, as their owners."""
        if now < self._next_prune:
            return
        self._next_prune = now + _PRUNE_EVERY
        owners = select(ConversationOwner.session_id).where(ConversationOwner.session_id.is_not(None))
        with session_scope(self.engine) as s:
            s.execute(delete(WebSession).where(WebSession.expires_at < now, WebSession.id.not_in(owners)))

    def end(self, session_id: str) -> None:
        """End a session now (the page's "new chat" or log-out)."""
        with session_scope(self.engine) as s:
            row = s.get(WebSession, session_id)
            if row is not None and row.revoked_at is None:
                row.revoked_at = self.clock()
