"""The per-conversation turn lock: turns of one conversation never overlap, across processes on PostgreSQL.

Two ``TurnLock`` objects on two engines stand for two server processes (each has its own connections, as a worker
has); the real several-worker server is tested in test_workers.py.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, text

from sangdam.domain.db import make_engine
from sangdam.orchestrator.turn_lock import ADVISORY_NAMESPACE, ConversationBusy, TurnLock, advisory_key


def _other_process(engine: Engine, **kw: float) -> TurnLock:
    return TurnLock(make_engine(engine.url.render_as_string(hide_password=False)), **kw)


@pytest.mark.postgres
def test_a_second_process_waits_for_the_turn_of_the_same_conversation(pg_engine: Engine) -> None:
    first, second = TurnLock(pg_engine), _other_process(pg_engine)
    order: list[str] = []
    entered = threading.Event()

    def later_turn() -> None:
        entered.wait(10)
        with second.hold("CV-1"):
            order.append("second")

    thread = threading.Thread(target=later_turn)
    thread.start()
    with first.hold("CV-1"):
        entered.set()
        _wait_for_a_waiter(pg_engine)  # the other process is blocked on the lock now
        order.append("first")
    thread.join(10)

    assert order == ["first", "second"]
    first.dispose(), second.dispose()


@pytest.mark.postgres
def test_other_conversations_are_not_held_up(pg_engine: Engine) -> None:
    first, second = TurnLock(pg_engine), _other_process(pg_engine, wait_s=1)
    with first.hold("CV-1"), second.hold("CV-2"):
        pass
    first.dispose(), second.dispose()


@pytest.mark.postgres
def test_a_turn_that_waits_too_long_is_told_busy(pg_engine: Engine) -> None:
    first, second = TurnLock(pg_engine), _other_process(pg_engine, wait_s=0.3)
    with first.hold("CV-1"):
        with pytest.raises(ConversationBusy):
            with second.hold("CV-1"):
                pass
    with second.hold("CV-1"):  # free again once the first turn ended
        pass
    first.dispose(), second.dispose()


@pytest.mark.postgres
def test_the_lock_is_reentrant_in_one_thread(pg_engine: Engine) -> None:
    lock = TurnLock(pg_engine, wait_s=0.5)
    with lock.hold("CV-1"), lock.hold("CV-1"):  # the server holds it around the turn; the orchestrator again inside
        pass
    lock.dispose()


@pytest.mark.postgres
def test_a_dead_holder_releases_the_lock(pg_engine: Engine) -> None:
    # A worker killed mid-turn: its connection ends, PostgreSQL drops the advisory lock with it.
    holder = pg_engine.connect()
    holder.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": ADVISORY_NAMESPACE, "key": advisory_key("CV-1")})
    pid = holder.execute(text("SELECT pg_backend_pid()")).scalar()
    other = _other_process(pg_engine, wait_s=0.3)
    with pytest.raises(ConversationBusy):
        with other.hold("CV-1"):
            pass
    with pg_engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    deadline = time.monotonic() + 5
    while True:
        try:
            with other.hold("CV-1"):
                break
        except ConversationBusy:
            assert time.monotonic() < deadline
    holder.invalidate()
    other.dispose()


def test_sqlite_turns_of_the_process_run_one_at_a_time(db_engine: Engine) -> None:
    lock = TurnLock(db_engine, wait_s=0.2)
    busy: list[bool] = []
    with lock.hold("CV-1"):
        thread = threading.Thread(target=lambda: busy.append(_try(lock, "CV-2")))
        thread.start()
        thread.join(5)
    assert busy == [True]  # one writer: even another conversation waits on SQLite


def _wait_for_a_waiter(engine: Engine) -> None:
    deadline = time.monotonic() + 10
    with engine.connect() as conn:
        while not conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar():
            assert time.monotonic() < deadline, "nobody waits for the lock"
            conn.rollback()
            time.sleep(0.01)


def _try(lock: TurnLock, conv: str) -> bool:
    try:
        with lock.hold(conv):
            return False
    except ConversationBusy:
        return True
