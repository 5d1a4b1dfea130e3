"""State shared by several server workers through the database: answered sends and rate buckets.

Two ``ContactCentre`` objects (or two limiters) on two engines stand for two worker processes; the real
several-worker server is tested in test_workers.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select, text

from sangdam.domain.conversation_models import Message
from sangdam.domain.db import make_engine, session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.server.service import ContactCentre
from sangdam.server.shared_state import SharedRateLimiter, bucket_name
from orchestrator_fixtures import FIXTURES, TODAY


def _worker(engine: Engine) -> ContactCentre:
    """A second process on the same database: its own engine, orchestrator and memory."""
    return ContactCentre(make_engine(engine.url.render_as_string(hide_password=False)), today=TODAY)


def _messages(engine: Engine, conv: str) -> list[tuple[int, str]]:
    with session_scope(engine) as s:
        return list(s.execute(select(Message.idx, Message.role).where(Message.conversation_id == conv)
                              .order_by(Message.idx)).all())


def _open(engine: Engine) -> tuple[ContactCentre, str]:
    with session_scope(engine) as s:
        load_fixtures(s, FIXTURES)
    centre = ContactCentre(engine, today=TODAY)
    return centre, centre.orch.start_conversation(customer_id="C1")


def test_a_retried_send_gets_the_stored_answer_and_no_second_turn(db_engine_any: Engine) -> None:
    centre, conv = _open(db_engine_any)
    first = centre.send(conv, "이번 달 요금 얼마예요?", "send-1")

    again = centre.send(conv, "이번 달 요금 얼마예요?", "send-1")

    assert again.result.reply == first.result.reply and again.result.trace_id == first.result.trace_id
    assert (again.customer_idx, again.reply_idx, again.mode) == (first.customer_idx, first.reply_idx, first.mode)
    assert _messages(db_engine_any, conv) == [(0, "customer"), (1, "bot")]


@pytest.mark.postgres
def test_a_retry_reaching_another_worker_is_answered_once(pg_engine: Engine) -> None:
    centre, conv = _open(pg_engine)
    first = centre.send(conv, "데이터 2기가 충전해줘", "send-1")

    again = _worker(pg_engine).send(conv, "데이터 2기가 충전해줘", "send-1")

    assert again.result.reply == first.result.reply
    assert again.result.pending_action == first.result.pending_action is not None
    assert _messages(pg_engine, conv) == [(0, "customer"), (1, "bot")]


def test_a_turn_that_died_before_it_was_saved_left_no_answer(db_engine_any: Engine, monkeypatch) -> None:  # noqa: ANN001
    centre, conv = _open(db_engine_any)

    def die(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - the process dies in the middle of the turn
        raise RuntimeError("killed")

    with monkeypatch.context() as patched:
        patched.setattr(centre.orch, "_dispatch", die)
        with pytest.raises(RuntimeError):
            centre.send(conv, "이번 달 요금 얼마예요?", "send-1")
    assert centre.sent.lookup(conv, "send-1") is None

    retried = centre.send(conv, "이번 달 요금 얼마예요?", "send-1")  # the client's retry runs the turn, once

    assert retried.customer_idx == 0 and retried.reply_idx == 1
    assert _messages(db_engine_any, conv) == [(0, "customer"), (1, "bot")]


def test_sends_without_a_key_are_not_remembered(db_engine_any: Engine) -> None:
    centre, conv = _open(db_engine_any)
    centre.send(conv, "이번 달 요금 얼마예요?")
    centre.send(conv, "이번 달 요금 얼마예요?")
    assert len(_messages(db_engine_any, conv)) == 4


# -- rate limits ------------------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_workers_share_one_bucket_per_subject(pg_engine: Engine) -> None:
    first = SharedRateLimiter(pg_engine, per_minute=5)
    second = SharedRateLimiter(make_engine(pg_engine.url.render_as_string(hide_password=False)), per_minute=5)

    taken = [first.allow("key:K:ip:1"), second.allow("key:K:ip:1"), first.allow("key:K:ip:1"),
             second.allow("key:K:ip:1"), first.allow("key:K:ip:1")]

    assert taken == [True] * 5
    assert not second.allow("key:K:ip:1") and not first.allow("key:K:ip:1")  # 5 a minute in total, not per worker
    assert first.allow("key:K:ip:2")  # another subject has its own bucket


@pytest.mark.postgres
def test_an_emptied_bucket_refills_with_time(pg_engine: Engine) -> None:
    limiter = SharedRateLimiter(pg_engine, per_minute=2)
    assert limiter.allow("s") and limiter.allow("s") and not limiter.allow("s")
    with pg_engine.begin() as conn:  # half a minute passes
        conn.execute(text("UPDATE rate_buckets SET at_s = at_s - 30"))
    assert limiter.allow("s") and not limiter.allow("s")  # one token back (2 a minute)


@pytest.mark.postgres
def test_a_key_with_its_own_rate_and_the_off_switch(pg_engine: Engine) -> None:
    limiter = SharedRateLimiter(pg_engine, per_minute=1)
    assert limiter.allow("a", per_minute=3) and limiter.allow("a", per_minute=3) and limiter.allow("a", per_minute=3)
    assert not limiter.allow("a", per_minute=3)
    off = SharedRateLimiter(pg_engine, per_minute=0)
    assert all(off.allow("b") for _ in range(10))
    with pg_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(text("rate_buckets")).where(text("subject = 'b'"))).scalar() == 0


def test_a_long_subject_is_stored_as_a_digest() -> None:
    assert bucket_name("key:K:conv:CV-1") == "key:K:conv:CV-1"
    long = bucket_name("key:K:conv:" + "x" * 5000)
    assert long.startswith("sha256:") and len(long) <= 160


@pytest.mark.postgres
def test_a_server_on_postgresql_counts_its_rates_in_the_database(pg_engine: Engine) -> None:
    from sangdam.server.app import create_app

    assert isinstance(create_app(pg_engine, today=TODAY, rate_per_minute=5).state.rate_limiter, SharedRateLimiter)
