"""API keys: created once (printed, never stored in clear), checked by their SHA-256 hash; revocable, may expire.

A key looks like ``sd-<id>.<secret>``; ``<id>`` is the row's primary key (so checking is one lookup), the
hash covers the whole key. Roles:

- ``channel-trusted``: the operator's own backend, server to server. It logged its user in, so it may open a
  conversation already verified as a ``customer_id``. Never handed to a browser.
- ``customer-channel``: an untrusted channel. Unbound, it opens anonymous conversations (the bot checks identity);
  bound to one customer (``--customer``), every conversation it opens is that customer's. It never names a
  customer itself.
- ``agent`` (console), ``admin`` (everything but naming a customer).

Web-chat browsers hold no key at all: they get short-lived sessions (:mod:`sangdam.server.sessions`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import Engine, select

from sangdam.backends import customer_exists
from sangdam.domain.auth_models import ApiKey
from sangdam.domain.db import session_scope

Role = Literal["channel-trusted", "customer-channel", "agent", "admin", "web-session"]
ROLES: tuple[str, ...] = ("channel-trusted", "customer-channel", "agent", "admin")  # what a key may hold


class KeyError_(ValueError):
    """A key that cannot be created or changed (unknown role, unknown customer, unknown key)."""


class Principal(BaseModel):
    """Who is calling: a key (id, role, bound customer) or a web session (role ``web-session``, its id and the
    customer its login assertion named)."""

    key_id: str | None = None
    session_id: str | None = None
    role: Role
    customer_id: str | None = None
    rate_per_minute: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in ("agent", "admin")

    @property
    def may_assert_customer(self) -> bool:
        """Only the operator's trusted backend may name the customer a conversation is verified as (not even admin:
        admin and agent keys are typed into the console, in a browser)."""
        return self.role == "channel-trusted"

    @property
    def subject(self) -> str:
        """The rate-limit and ownership name of this caller."""
        return f"session:{self.session_id}" if self.session_id else f"key:{self.key_id}"


class CreatedKey(BaseModel):
    """A freshly created key: ``key`` is shown once and cannot be recovered."""

    key: str
    key_id: str
    role: Role
    customer_id: str | None = None
    label: str = ""
    expires_at: dt.datetime | None = None


def utc_now() -> dt.datetime:
    """Naive UTC: how key and session times are stored."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(engine: Engine, role: str, *, customer_id: str | None = None, label: str = "",
               rate_per_minute: int | None = None, expires_at: dt.datetime | None = None,
               now: dt.datetime | None = None) -> CreatedKey:
    """Create and store (hashed) a key for ``role``; ``customer_id`` binds a customer-channel key; ``expires_at``
    (naive UTC) ends it."""
    if role not in ROLES:
        raise KeyError_(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if customer_id and role != "customer-channel":
        raise KeyError_("only customer-channel keys can be bound to a customer")
    key_id = secrets.token_hex(6)
    key = f"sd-{key_id}.{secrets.token_urlsafe(24)}"
    if customer_id and not customer_exists(engine, customer_id):
        raise KeyError_(f"unknown customer {customer_id!r}")
    with session_scope(engine) as s:
        s.add(ApiKey(id=key_id, key_hash=token_hash(key), role=role, customer_id=customer_id, label=label,
                     rate_per_minute=rate_per_minute, created_at=now or utc_now(), expires_at=expires_at))
    return CreatedKey(key=key, key_id=key_id, role=role, customer_id=customer_id, label=label,  # type: ignore[arg-type]
                      expires_at=expires_at)


def authenticate(engine: Engine, key: str, *, now: dt.datetime | None = None) -> Principal | None:
    """The principal of ``key``, or None when it is malformed, unknown, revoked, expired or wrong."""
    if not key.startswith("sd-") or "." not in key or len(key) > 200:
        return None
    key_id = key[3:].split(".", 1)[0]
    with session_scope(engine) as s:
        row = s.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, token_hash(key)):
            return None
        if row.expires_at is not None and row.expires_at <= (now or utc_now()):
            return None
        return Principal(key_id=row.id, role=row.role, customer_id=row.customer_id,  # type: ignore[arg-type]
                         rate_per_minute=row.rate_per_minute)


def revoke_key(engine: Engine, key_id: str, *, now: dt.datetime | None = None) -> bool:
    """Revoke a key by id (at once: the next request with it answers 401). False when it was already revoked."""
    with session_scope(engine) as s:
        row = s.get(ApiKey, key_id)
        if row is None:
            raise KeyError_(f"no key with id {key_id!r}")
        if row.revoked_at is not None:
            return False
        row.revoked_at = now or utc_now()
        return True


def list_keys(engine: Engine) -> list[dict[str, object]]:
    """Every key's public facts (never the key nor its hash)."""
    with session_scope(engine) as s:
        return [
            {"key_id": k.id, "role": k.role, "customer_id": k.customer_id, "label": k.label,
             "created_at": k.created_at.isoformat(), "expires_at": k.expires_at.isoformat() if k.expires_at else None,
             "revoked": k.revoked_at is not None, "rate_per_minute": k.rate_per_minute}
            for k in s.scalars(select(ApiKey).order_by(ApiKey.created_at))
        ]
