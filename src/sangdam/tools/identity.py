"""``verify_identity`` and its guards: how often, from where and for which number verification may be tried.

Every attempt appends an ``audit_log`` row holding no personal data in clear: the number as a keyed pseudonym
(HMAC-SHA256 with ``Settings.hash_key``) and its last 4 digits, the source (client address or session) as a
pseudonym, the conversation, and the outcome. The throttles are computed from those rows, so they hold across
worker processes sharing the database:

- **conversation**: after ``IDENTITY_CONVERSATION_MAX_FAILURES`` failures it never verifies again
  (``verification_closed``); the orchestrator stops asking, this is the backstop;
- **source**: a few failures are free, then each attempt waits, the wait doubling up to a cap
  (``IDENTITY_SOURCE_BACKOFF``), across conversations and numbers;
- **number**: after a few failures, in-chat verification of that number waits minutes, doubling with each further
  failure up to an hour (``IDENTITY_NUMBER_BACKOFF``). A success or an agent's clearing starts it afresh.

Only the bot's in-chat verification (actor ``bot``) is throttled: an agent or the CLI is never blocked, and an
authenticated channel never verifies, so no stranger can lock an owner out of every channel. Agents see the
locks (:func:`identity_locks`, ``sangdam identity locks``) and clear them (:func:`clear_identity_lock`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from sangdam.config import get_settings
from sangdam.domain import policy
from sangdam.domain.db import session_scope
from sangdam.domain.models import AuditLog
from sangdam.tools.base import RiskTier, Tool, ToolContext, ToolError
from sangdam.tools.inputs import VerifyIdentityArgs, normalise_phone
from sangdam.tools.results import VerifyIdentityResult

TOOL = "verify_identity"
THROTTLED_ACTOR = "bot"  # in-chat verification; agents ("agent:…") and the CLI are never throttled


def pseudonym(kind: str, value: str) -> str:
    """Keyed pseudonym of ``value`` (HMAC-SHA256, 128 bits, hex): equal values match, but without the key a
    phone number cannot be recovered by trying all of them. ``kind`` separates the uses ("phone", "source")."""
    digest = hmac.new(get_settings().hash_key(), f"{kind}:{value}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


# --- what the audit log says -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    """One audited row of ``verify_identity``: a check (``verified`` True/False), a refusal or a clearing."""

    id: int
    at: dt.datetime
    actor: str
    phone: str | None
    last4: str | None
    source: str | None
    conversation: str | None
    verified: bool | None  # None: not a check (refused before checking, or an agent's clearing)
    cleared: bool

    @classmethod
    def of(cls, row: AuditLog) -> Attempt:
        args, result = row.args or {}, row.result or {}
        return cls(row.id, row.at, row.who, args.get("phone_hash"), args.get("phone_last4"), args.get("source_hash"),
                   result.get("conversation_id"), result.get("verified"), bool(result.get("cleared")))

    @property
    def failed(self) -> bool:
        return self.verified is False and self.actor == THROTTLED_ACTOR


def _attempts(session: Session, since: dt.datetime) -> list[Attempt]:
    rows = session.scalars(select(AuditLog).where(AuditLog.tool == TOOL, AuditLog.at >= since).order_by(AuditLog.id))
    return [Attempt.of(r) for r in rows]


def _failures_since_reset(attempts: Iterable[Attempt], phone: str) -> list[Attempt]:
    """Failures for ``phone`` after its last success or clearing (in the order they were written)."""
    out: list[Attempt] = []
    for a in attempts:
        if a.phone != phone:
            continue
        if a.verified or a.cleared:
            out = []
        elif a.failed:
            out.append(a)
    return out


def _in_window(failures: list[Attempt], backoff: policy.Backoff, now: dt.datetime) -> list[Attempt]:
    """The failures that count at ``now``: within the window, and not stamped later than ``now`` (a pinned business
    date makes "now" jump back a day when the wall clock passes midnight)."""
    return [f for f in failures if now - backoff.window < f.at <= now]


def _wait(backoff: policy.Backoff, failures: list[Attempt], now: dt.datetime) -> int:
    """Seconds to wait before the next attempt (0: may try now)."""
    recent = _in_window(failures, backoff, now)
    until = backoff.locked_until([f.at for f in recent])
    return max(0, math.ceil((until - now).total_seconds())) if until else 0


# --- the tool --------------------------------------------------------------------------------------------------
def verify_identity(ctx: ToolContext, args: VerifyIdentityArgs) -> VerifyIdentityResult:
    """Match phone + birth date on the operator's systems, unless a throttle says wait; every attempt is audited
    (pseudonymised) in Sangdam's store."""
    now = ctx.now()
    record: dict[str, Any] = {
        "phone_hash": pseudonym("phone", args.phone),
        "phone_last4": args.phone[-4:],
        "source_hash": pseudonym("source", ctx.source) if ctx.source else None,
    }
    with session_scope(ctx.engine) as session:
        if ctx.actor == THROTTLED_ACTOR:
            _check_throttles(session, ctx, record, now)
    match = ctx.systems.find_customer(args.phone, args.birth_date)
    with session_scope(ctx.engine) as session:
        _audit(session, ctx, record, {"verified": match is not None, "customer_id": match[0] if match else None}, now)
    if match is None:
        return VerifyIdentityResult(verified=False)
    return VerifyIdentityResult(verified=True, customer_id=match[0], customer_name=match[1])


def _check_throttles(session: Session, ctx: ToolContext, record: dict[str, Any], now: dt.datetime) -> None:
    """Raise (after auditing the refusal) when the conversation, the source or the number must not try now."""
    longest = max(policy.IDENTITY_SOURCE_BACKOFF.window, policy.IDENTITY_NUMBER_BACKOFF.window)
    attempts = _attempts(session, now - longest)
    if ctx.conversation_id is not None:
        failed_here = sum(1 for a in attempts if a.failed and a.conversation == ctx.conversation_id)
        if failed_here >= policy.IDENTITY_CONVERSATION_MAX_FAILURES:
            _refuse(session, ctx, record, now, "verification_closed", 0, failures=failed_here)
    waits = [("number", _wait(policy.IDENTITY_NUMBER_BACKOFF, _failures_since_reset(attempts, record["phone_hash"]), now))]
    if record["source_hash"]:
        from_source = [a for a in attempts if a.failed and a.source == record["source_hash"]]
        waits.append(("source", _wait(policy.IDENTITY_SOURCE_BACKOFF, from_source, now)))
    scope, wait = max(waits, key=lambda w: w[1])
    if wait > 0:
        _refuse(session, ctx, record, now, "too_many_attempts", wait, scope=scope)


def _refuse(session: Session, ctx: ToolContext, record: dict[str, Any], now: dt.datetime, code: str, wait: int,
            **details: Any) -> None:
    _audit(session, ctx, record, {"refused": code, "retry_after_s": wait, **details}, now)
    minutes = max(1, math.ceil(wait / 60))
    raise ToolError(code, f"identity verification refused ({code}, {details}); retry after {wait} s",
                    {"retry_after_s": wait, "retry_after_min": minutes})


def _audit(session: Session, ctx: ToolContext, record: dict[str, Any], outcome: dict[str, Any], now: dt.datetime) -> None:
    session.add(AuditLog(who=ctx.actor, tool=TOOL, args=record,
                         result={**outcome, "conversation_id": ctx.conversation_id}, at=now))
    session.commit()


TOOLS = [
    Tool(TOOL, "Verify the caller with mobile number and birth date; returns the customer id if they match.",
         RiskTier.read, False, VerifyIdentityArgs, VerifyIdentityResult, local=verify_identity),
]


# --- for agents: the locks now in force, and clearing one ------------------------------------------------------
class IdentityLock(BaseModel):
    """A number or a source that may not verify in chat until ``until`` (no phone number or address in clear)."""

    kind: Literal["number", "source"]
    last4: str | None  # the number's last 4 digits (kind "number")
    key: str  # the pseudonym (an agent can match it with ``pseudonym("phone", number)``)
    failures: int
    until: dt.datetime
    conversations: list[str]


def identity_locks(engine: Engine, now: dt.datetime) -> list[IdentityLock]:
    """Every number and source whose in-chat verification is waiting at ``now``, longest wait first."""
    number, source = policy.IDENTITY_NUMBER_BACKOFF, policy.IDENTITY_SOURCE_BACKOFF
    with session_scope(engine) as session:
        attempts = _attempts(session, now - max(number.window, source.window))
    locks: list[IdentityLock] = []
    for phone in dict.fromkeys(a.phone for a in attempts if a.phone):
        failures = _in_window(_failures_since_reset(attempts, phone), number, now)
        locks += _lock("number", phone, failures, number, now)
    for src in dict.fromkeys(a.source for a in attempts if a.source):
        failures = _in_window([a for a in attempts if a.failed and a.source == src], source, now)
        locks += _lock("source", src, failures, source, now)
    return sorted(locks, key=lambda lock: lock.until, reverse=True)


def _lock(kind: Literal["number", "source"], key: str, failures: list[Attempt], backoff: policy.Backoff,
          now: dt.datetime) -> list[IdentityLock]:
    until = backoff.locked_until([f.at for f in failures])
    if until is None or until <= now:
        return []
    return [IdentityLock(kind=kind, last4=failures[-1].last4 if kind == "number" else None, key=key,
                         failures=len(failures), until=until,
                         conversations=list(dict.fromkeys(f.conversation for f in failures if f.conversation)))]


def clear_identity_lock(engine: Engine, phone: str, *, actor: str, now: dt.datetime) -> None:
    """An agent lifts the lock of ``phone`` (e.g. after checking the caller another way): its failures so far no
    longer count. Audited like an attempt."""
    digits = normalise_phone(phone)
    with session_scope(engine) as session:
        session.add(AuditLog(who=actor, tool=TOOL, result={"cleared": True, "conversation_id": None}, at=now,
                             args={"phone_hash": pseudonym("phone", digits), "phone_last4": digits[-4:]}))
