"""Several ``sangdam serve`` workers on one PostgreSQL database (issue 11, "Several workers, one database").

One real server with two worker processes serves every test of this module (tests/worker_support.py). What is
checked, against the real processes:

- turns of one conversation sent at once to both workers run one after the other (the advisory turn lock): indices
  contiguous, customer/bot alternating, every send answered;
- N concurrent "네" to one pending refill, spread over both workers, charge exactly once;
- a worker killed by SIGKILL mid-turn — from outside while it waits for the turn, or by the fault hook right after
  the turn was saved — loses, duplicates and reorders nothing when the client retries with the same Idempotency-Key;
- a worker killed right after a charge committed and before the turn was saved (issue 11 item 3): after the restart
  the customer is told the charge was done, whatever they answer, and it was charged exactly once.

To spread requests over both workers deterministically, the test itself takes the conversation's advisory lock
first: every send then waits inside a worker, and ``pg_locks`` shows which worker holds each waiting request.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import Engine, func, select, text

from conftest import _admin, _database_url
from sangdam.domain.conversation_models import Message
from sangdam.domain.db import make_engine, session_scope
from sangdam.domain.models import AuditLog, Line
from sangdam.orchestrator.turn_lock import ADVISORY_NAMESPACE, advisory_key
from worker_support import Workers, send_until_answered, served_workers

pytestmark = pytest.mark.postgres

REFILL_PROPOSED = "회선에 데이터 2GB를 충전합니다"
REFILLED = "데이터 2GB를 충전했습니다"


@pytest.fixture(scope="module")
def workers(_pg_server: str, _pg_template: str) -> Iterator[Workers]:
    name = f"sangdam_w_{uuid.uuid4().hex[:12]}"
    _admin(_pg_server, f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"')
    try:
        with served_workers(_database_url(_pg_server, name), workers=2) as server:
            yield server
    finally:
        _admin(_pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(workers: Workers) -> Iterator[Engine]:
    engine = make_engine(workers.url)
    yield engine
    engine.dispose()


@pytest.fixture
def client(workers: Workers) -> Iterator[httpx.Client]:
    workers.wait_for_workers(2)  # a worker killed by an earlier test is back
    with httpx.Client(base_url=workers.base, timeout=60) as c:
        yield c


def _open(client: httpx.Client, workers: Workers) -> str:
    res = client.post("/api/v1/conversations", json={"channel": "api"}, headers=_auth(workers))
    assert res.status_code == 201, res.text
    return res.json()["id"]


def _auth(workers: Workers) -> dict[str, str]:
    return {"Authorization": f"Bearer {workers.keys['c']}"}


def _stored(db: Engine, conv: str) -> list[tuple[int, str, str]]:
    with session_scope(db) as s:
        return list(s.execute(select(Message.idx, Message.role, Message.text).where(Message.conversation_id == conv)
                              .order_by(Message.idx)).all())


def _refills(db: Engine) -> tuple[float, int]:
    """(GB refilled on C-C's line, refill writes that ran — replays not counted)."""
    with session_scope(db) as s:
        gb = s.get(Line, "L-C1").data_refill_gb
        rows = s.scalars(select(AuditLog).where(AuditLog.tool == "refill_data")).all()
        ran = sum(1 for r in rows if r.result.get("ok") and not r.result.get("replayed"))
    return gb, ran


class _TurnHeld:
    """The test holds the conversation's turn lock, as a long turn on some worker would."""

    def __init__(self, db: Engine, conv: str) -> None:
        self.db = db
        self.conn = db.connect()
        self.conn.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                          {"ns": ADVISORY_NAMESPACE, "key": advisory_key(conv)})

    def waiting_workers(self) -> list[int]:
        """Worker pid of every request waiting for the lock (one entry per waiting request)."""
        with self.db.connect() as conn:  # a fresh transaction: pg_stat_activity is a snapshot per transaction
            rows = conn.execute(text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name LIKE 'sangdam-worker-%'"
            )).scalars().all()
        return [int(name.rsplit("-", 1)[1]) for name in rows]

    def wait_for(self, condition, what: str, timeout: float = 60) -> list[int]:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while not condition(waiting := self.waiting_workers()):
            assert time.monotonic() < deadline, f"never saw {what}: {waiting}"
            time.sleep(0.05)
        return waiting

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def _pile_up(db: Engine, workers: Workers, conv: str, texts: list[str], most: int = 24) -> list[httpx.Response]:
    """Send ``texts`` to ``conv`` while the test holds its turn lock, one at a time, and more of the same (cycling,
    at most ``most`` in all) until the waiting requests sit on both workers — which worker accepts a connection is
    the kernel's choice — then let them run; the answers in sending order."""
    held = _TurnHeld(db, conv)
    pool = ThreadPoolExecutor(max_workers=most)
    futures = []
    try:
        for i, text_ in enumerate(itertools.islice(itertools.cycle(texts), most)):
            key = f"pile-{uuid.uuid4().hex[:8]}"
            futures.append(pool.submit(_send_once, workers, conv, text_, key))
            waiting = held.wait_for(lambda w, n=i + 1: len(w) >= n, f"{i + 1} waiting requests")
            if i + 1 >= len(texts) and len(set(waiting)) == 2:
                break
        assert len(set(waiting)) == 2, f"all {len(futures)} requests went to one worker: {waiting}"
    finally:
        held.release()
    answers = [f.result(timeout=120) for f in futures]
    pool.shutdown()
    return answers


def _send_once(workers: Workers, conv: str, text_: str, key: str) -> httpx.Response:
    with httpx.Client(base_url=workers.base, timeout=120) as c:  # its own connection: any worker may take it
        return c.post(f"/api/v1/conversations/{conv}/messages", json={"text": text_},
                      headers={**_auth(workers), "Idempotency-Key": key})


def test_turns_of_one_conversation_sent_to_both_workers_at_once_run_one_after_the_other(
        workers: Workers, client: httpx.Client, db: Engine) -> None:
    conv = _open(client, workers)

    answers = _pile_up(db, workers, conv, ["이번 달 요금 얼마예요?", "데이터 얼마나 남았어요?"] * 4)
    n = len(answers)  # 8, or a few more when the first ones all went to one worker

    assert [a.status_code for a in answers] == [200] * n
    stored = _stored(db, conv)
    assert [idx for idx, _, _ in stored] == list(range(2 * n))
    assert [role for _, role, _ in stored] == ["customer", "bot"] * n  # no two turns interleaved
    turns = sorted(a.json()["turn_index"] for a in answers)
    assert turns == list(range(1, n + 1))
    for a in answers:  # each answer is the reply stored right after its own message
        body = a.json()
        assert body["reply_idx"] == body["customer_idx"] + 1
        assert stored[body["reply_idx"]][2] == body["reply"]


def test_concurrent_yes_to_one_pending_refill_on_both_workers_charges_once(
        workers: Workers, client: httpx.Client, db: Engine) -> None:
    conv = _open(client, workers)
    gb_before, ran_before = _refills(db)
    proposed, _ = send_until_answered(client, conv, "데이터 2기가 충전해줘", workers.keys["c"], "propose")
    assert REFILL_PROPOSED in proposed.json()["reply"]

    answers = _pile_up(db, workers, conv, ["네"] * 6)

    assert [a.status_code for a in answers] == [200] * len(answers)
    assert sum(REFILLED in a.json()["reply"] for a in answers) == 1
    gb, ran = _refills(db)
    assert (gb - gb_before, ran - ran_before) == (2, 1)  # charged exactly once


def test_a_worker_killed_while_a_turn_waits_loses_nothing_when_the_client_retries(
        workers: Workers, client: httpx.Client, db: Engine) -> None:
    conv = _open(client, workers)
    first, _ = send_until_answered(client, conv, "이번 달 요금 얼마예요?", workers.keys["c"], "m1")
    held = _TurnHeld(db, conv)
    result: list = []
    sender = threading.Thread(target=lambda: result.append(
        send_until_answered(httpx.Client(base_url=workers.base, timeout=60), conv, "데이터 얼마나 남았어요?",
                            workers.keys["c"], "m2")))
    sender.start()
    try:
        victim = held.wait_for(lambda w: len(w) == 1, "the request waiting in a worker")[0]
        os.kill(victim, signal.SIGKILL)  # kill -9 the worker holding the request, mid-turn
    finally:
        held.release()
    sender.join(120)

    answer, tries = result[0]
    assert answer.status_code == 200 and tries >= 2
    stored = _stored(db, conv)
    assert [(idx, role) for idx, role, _ in stored] == [(0, "customer"), (1, "bot"), (2, "customer"), (3, "bot")]
    assert stored[3][2] == answer.json()["reply"]
    assert first.json()["reply_idx"] == 1


def test_a_worker_killed_after_saving_a_turn_answers_the_retry_from_the_stored_turn(
        workers: Workers, client: httpx.Client, db: Engine) -> None:
    conv = _open(client, workers)
    workers.arm("messages")  # the worker dies right after the turn's commit, before the answer is sent

    answer, tries = send_until_answered(client, conv, "이번 달 요금 얼마예요?", workers.keys["c"], "once")
    then, _ = send_until_answered(client, conv, "데이터 얼마나 남았어요?", workers.keys["c"], "next")

    assert workers.fired() and tries >= 2
    stored = _stored(db, conv)
    assert [(idx, role) for idx, role, _ in stored] == [(0, "customer"), (1, "bot"), (2, "customer"), (3, "bot")]
    assert (answer.json()["customer_idx"], answer.json()["reply_idx"]) == (0, 1)
    assert stored[1][2] == answer.json()["reply"]
    assert (then.json()["customer_idx"], then.json()["reply_idx"]) == (2, 3)


@pytest.mark.parametrize("next_answer", ["아니요", "네"], ids=["no", "yes"])
def test_a_charge_committed_before_the_worker_died_is_reported_done_and_charged_once(
        workers: Workers, client: httpx.Client, db: Engine, next_answer: str) -> None:
    conv = _open(client, workers)
    send_until_answered(client, conv, "데이터 2기가 충전해줘", workers.keys["c"], "propose")
    gb_before, ran_before = _refills(db)
    before = set(workers.pids())
    workers.arm("tool_executions")  # dies right after the refill committed, before the turn is saved

    with pytest.raises(httpx.TransportError):
        client.post(f"/api/v1/conversations/{conv}/messages", json={"text": "네"},
                    headers={**_auth(workers), "Idempotency-Key": "yes"})
    assert workers.fired()
    workers.wait_for_workers(2)  # the supervisor restarted the dead worker
    assert set(workers.pids()) != before
    # a new message (not a retry): the customer answers again after the error
    after, _ = send_until_answered(client, conv, next_answer, workers.keys["c"], f"after-{len(next_answer)}")

    reply = after.json()["reply"]
    assert "아무것도 바뀌지 않았습니다" not in reply
    assert "이미 처리되었습니다" in reply and REFILLED in reply
    assert after.json()["pending_action"] is None
    gb, ran = _refills(db)
    assert (gb - gb_before, ran - ran_before) == (2, 1)  # charged exactly once
    assert [role for _, role, _ in _stored(db, conv)] == ["customer", "bot"] * 2  # the dead turn left no message
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == conv)) == 4
