"""The ``sql`` adapter: the operator's records are the demo domain tables (``plans``, ``customers``, ``lines``,
``bills``, ``usage_daily``, ``roaming_passes``, ``outages``, ``tickets``) in a SQL database.

This package is the only place in Sangdam that queries those tables. The business rules of the demo operator are
its ``handler`` (reads) and ``plan``/``apply`` (writes) functions, one per built-in tool (:mod:`.operations`), on
the session this adapter opens. By default the tables live in Sangdam's own database (one SQLite file for the demo); ``sql:
database_url`` in ``backend.yaml`` puts them anywhere else.

Idempotency: a commit under a key this adapter has seen returns the stored result and writes nothing; the record
(``backend_requests``) commits in the same transaction as the write it guards, so a write and its record exist
together or not at all, whatever happens to Sangdam's own store afterwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from sangdam.domain.db import session_factory
from sangdam.domain.models import BackendRequest, Customer, Plan
from sangdam.tools.base import ToolError

if TYPE_CHECKING:
    from sangdam.backends.sql.operations import Operation
    from sangdam.tools.base import ToolContext


class SqlBackend:
    """The operator's records in the demo tables of ``engine``."""

    name = "sql"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)

    # --- the tool operations -----------------------------------------------------------------------------------
    def read(self, tool: str, ctx: ToolContext, args: BaseModel) -> BaseModel:
        spec = _operation(tool, "handler")
        with self._sessions() as session:
            try:
                return spec.handler(session, ctx, args)  # type: ignore[misc]
            finally:
                session.rollback()

    def preview(self, tool: str, ctx: ToolContext, args: BaseModel) -> dict[str, Any]:
        spec = _operation(tool, "plan")
        with self._sessions() as session:
            try:
                return spec.plan(session, ctx, args)  # type: ignore[misc]
            finally:
                session.rollback()

    def commit(self, tool: str, ctx: ToolContext, args: BaseModel, idempotency_key: str | None) -> BaseModel | dict[str, Any]:
        spec = _operation(tool, "apply")
        digest = request_hash(tool, ctx.customer_id, args)
        if idempotency_key:
            done = self._done(tool, idempotency_key, digest)
            if done is not None:
                return done
        session = self._sessions()
        try:
            effect = spec.plan(session, ctx, args)  # type: ignore[misc]
            result = spec.apply(session, ctx, args, effect)  # type: ignore[misc]
            if idempotency_key:
                session.add(BackendRequest(idempotency_key=idempotency_key, operation=tool, args_hash=digest,
                                           result=result.model_dump(mode="json"), at=ctx.now()))
            session.commit()
            return result
        except IntegrityError:
            session.rollback()  # another worker committed the same key first: its result is the answer
            done = self._done(tool, idempotency_key, digest) if idempotency_key else None
            if done is None:
                raise
            return done
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _done(self, tool: str, key: str, digest: str) -> dict[str, Any] | None:
        with self._sessions() as session:
            row = session.get(BackendRequest, key)
            if row is None:
                return None
            if row.operation != tool or row.args_hash != digest:
                raise ToolError("idempotency_conflict",
                                f"idempotency key {key!r} was already used for a different call ({row.operation})",
                                {"idempotency_key": key, "previous_tool": row.operation})
            return dict(row.result)

    # --- lookups outside the tools -----------------------------------------------------------------------------
    def find_customer(self, phone: str, birth_date: dt.date) -> tuple[str, str] | None:
        with self._sessions() as session:
            rows = session.scalars(select(Customer).where(Customer.phone.in_(phone_variants(phone)))).all()
            match = next((c for c in rows if c.birth_date == birth_date), None)
            return (match.id, match.name) if match else None

    def customer_names(self, customer_ids: set[str]) -> dict[str, str]:
        if not customer_ids:
            return {}
        with self._sessions() as session:
            rows = session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(sorted(customer_ids))))
            return {cid: name for cid, name in rows}

    def plan_names(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(Plan.name).order_by(Plan.id)))

    def close(self) -> None:
        """The engine belongs to whoever made it (often Sangdam's own store): nothing to release here."""


def request_hash(tool: str, customer_id: str | None, args: BaseModel) -> str:
    """Fingerprint of a write: the same key may only ever mean the same operation, customer and arguments."""
    payload = {"tool": tool, "customer_id": customer_id, "args": args.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def phone_variants(digits: str) -> list[str]:
    """Spellings a stored phone number may have (the lookup stays an indexed ``IN`` query)."""
    rest = digits[1:]
    mid = 3 if len(digits) == 10 else 4
    dashed = f"{digits[:3]}-{digits[3:3 + mid]}-{digits[3 + mid:]}"
    return [digits, dashed, f"+82{rest}", f"+82 {dashed[1:]}", f"+82-{dashed[1:]}", dashed.replace("-", " ")]


def _operation(name: str, part: str) -> Operation:
    from sangdam.backends.sql.operations import OPERATIONS

    spec = OPERATIONS.get(name)
    if spec is None or getattr(spec, part) is None:
        raise ToolError("unknown_tool", f"the sql backend does not serve {name!r} ({part})", {"tool": name})
    return spec
