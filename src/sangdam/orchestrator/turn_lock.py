"""One turn of a conversation at a time — across threads, and across server processes on PostgreSQL.

A turn loads the conversation's state, changes it and saves it, so two turns of one conversation must never
interleave, whichever worker process each message reached.

- **PostgreSQL**: a transaction-scoped advisory lock per conversation (``pg_advisory_xact_lock``), taken on a
  connection of its own and held for the whole turn. Several ``sangdam serve`` workers on one database thus run the
  turns of one conversation one after the other, and different conversations in parallel. A worker that dies
  mid-turn (kill -9) loses its connection, and PostgreSQL releases the lock with it: nothing stays locked.
- **SQLite**: one writer at a time, and a turn that read before another turn committed fails to write ("database is
  locked", no busy wait in WAL). Turns on SQLite therefore run one at a time in the process (~10–20 ms each);
  SQLite serves one process (``sangdam serve --workers`` needs PostgreSQL).

The lock is re-entrant per thread: the server holds it around "was this send answered already? → the turn →
remember the answer", and the orchestrator takes it again inside without waiting on itself.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

# First key of the two-key advisory lock: "turns of Sangdam conversations" (other users of advisory locks on the same
# database pick other namespaces).
ADVISORY_NAMESPACE = 0x5D_7A_11
DEFAULT_WAIT_S = 30.0


class ConversationBusy(RuntimeError):
    """Another turn of the conversation held the lock for longer than the wait (the server answers 409 busy)."""

    code = "busy"


class TurnLock:
    """Serialises the turns of each conversation (see the module docstring); ``hold(conversation_id)``."""

    def __init__(self, engine: Engine, *, wait_s: float = DEFAULT_WAIT_S) -> None:
        self.engine = engine
        self.wait_s = wait_s
        self.shared = engine.dialect.name == "postgresql"  # held across processes
        self._held = threading.local()  # conversation id → depth, for this thread
        self._process_lock = threading.RLock()
        self._locks_engine: Engine | None = None
        if self.shared:
            # Lock connections come from a pool of their own: a turn holds one while it works on connections of the
            # main pool, so sharing one pool could leave every connection held by a turn waiting for another.
            self._locks_engine = create_engine(engine.url, pool_size=8, max_overflow=56, pool_timeout=wait_s,
                                               pool_pre_ping=True)

    @contextmanager
    def hold(self, conversation_id: str) -> Iterator[None]:
        """Hold the conversation's turn lock (re-entrant in one thread); raises ``ConversationBusy`` after the wait."""
        depth: dict[str, int] = self._held.__dict__.setdefault("depth", {})
        if depth.get(conversation_id):
            depth[conversation_id] += 1
            try:
                yield
            finally:
                depth[conversation_id] -= 1
            return
        with self._acquire(conversation_id):
            depth[conversation_id] = 1
            try:
                yield
            finally:
                depth.pop(conversation_id, None)

    @contextmanager
    def _acquire(self, conversation_id: str) -> Iterator[None]:
        if self._locks_engine is None:
            if not self._process_lock.acquire(timeout=self.wait_s):
                raise ConversationBusy(f"conversation {conversation_id!r}: a turn is still running")
            try:
                yield
            finally:
                self._process_lock.release()
            return
        with self._locks_engine.connect() as conn:
            try:
                conn.execute(text(f"SET LOCAL lock_timeout = '{int(self.wait_s * 1000)}ms'"))
                conn.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                             {"ns": ADVISORY_NAMESPACE, "key": advisory_key(conversation_id)})
            except DBAPIError as exc:
                conn.rollback()
                if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available: waited wait_s
                    raise ConversationBusy(f"conversation {conversation_id!r}: a turn is still running") from None
                raise
            try:
                yield
            finally:
                conn.rollback()  # ends the transaction: the lock is released

    def dispose(self) -> None:
        """Close the lock connections (tests, shutdown)."""
        if self._locks_engine is not None:
            self._locks_engine.dispose()


def advisory_key(conversation_id: str) -> int:
    """A stable signed 32-bit key for the conversation (a collision only serialises two conversations' turns)."""
    return int.from_bytes(hashlib.sha256(conversation_id.encode()).digest()[:4], "big", signed=True)
