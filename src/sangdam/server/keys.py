"""API keys: created once (printed, never stored in clear), checked by their SHA-256 hash.

A key looks like ``sd-<id>.<secret>``; ``<id>`` is the row's primary key (so checking is one lookup), the
hash covers the whole key. Roles: ``customer-channel`` (chat channels; optionally bound to one customer),
``agent`` (console), ``admin`` (everything).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import Engine, select

from sangdam.domain.auth_models import ApiKey
from sangdam.domain.db import session_scope
from sangdam.domain.models import Customer

Role = Literal["customer-channel", "agent", "admin"]
ROLES: tuple[str, ...] = ("customer-channel", "agent", "admin")


class KeyError_(ValueError):
    """A key that cannot be created (unknown role, unknown customer)."""


class Principal(BaseModel):
    """Who is calling: the key's id, role and (for bound customer-channel keys) its customer."""

    key_id: str
    role: Role
    customer_id: str | None = None
    rate_per_minute: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in ("agent", "admin")


class CreatedKey(BaseModel):
    """A freshly created key: ``key`` is shown once and cannot be recovered."""

    key: str
    key_id: str
    role: Role
    customer_id: str | None = None
    label: str = ""


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(engine: Engine, role: str, *, customer_id: str | None = None, label: str = "",
               rate_per_minute: int | None = None, now: dt.datetime | None = None) -> CreatedKey:
    """Create and store (hashed) a key for ``role``; ``customer_id`` binds a customer-channel key."""
    if role not in ROLES:
        raise KeyError_(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if customer_id and role != "customer-channel":
        raise KeyError_("only customer-channel keys can be bound to a customer")
    key_id = secrets.token_hex(6)
    key = f"sd-{key_id}.{secrets.token_urlsafe(24)}"
    with session_scope(engine) as s:
        if customer_id and s.get(Customer, customer_id) is None:
            raise KeyError_(f"unknown customer {customer_id!r}")
        s.add(ApiKey(id=key_id, key_hash=_hash(key), role=role, customer_id=customer_id, label=label,
                     rate_per_minute=rate_per_minute, created_at=now or dt.datetime.now()))
    return CreatedKey(key=key, key_id=key_id, role=role, customer_id=customer_id, label=label)  # type: ignore[arg-type]


def authenticate(engine: Engine, key: str) -> Principal | None:
    """The principal of ``key``, or None when it is malformed, unknown, revoked or wrong."""
    if not key.startswith("sd-") or "." not in key or len(key) > 200:
        return None
    key_id = key[3:].split(".", 1)[0]
    with session_scope(engine) as s:
        row = s.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, _hash(key)):
            return None
        return Principal(key_id=row.id, role=row.role, customer_id=row.customer_id,  # type: ignore[arg-type]
                         rate_per_minute=row.rate_per_minute)


def list_keys(engine: Engine) -> list[dict[str, object]]:
    """Every key's public facts (never the key)."""
    with session_scope(engine) as s:
        return [
            {"key_id": k.id, "role": k.role, "customer_id": k.customer_id, "label": k.label,
             "created_at": k.created_at.isoformat(), "revoked": k.revoked_at is not None}
            for k in s.scalars(select(ApiKey).order_by(ApiKey.created_at))
        ]
