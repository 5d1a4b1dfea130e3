"""Issue 11 item 5: identity verification cannot be turned into a weapon.

A conversation stops verifying after 3 failures (no further ``verify_identity`` call at all); a source (client
address or session) is slowed down across conversations and numbers; a number is locked only for in-chat
verification by the bot, for minutes with a growing wait, visible to agents and clearable by them; an agent, the
CLI and an authenticated channel are never blocked by it.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import Engine
from tools_fixtures import TODAY, audit_rows, world, world_template  # noqa: F401 - fixtures
from typer.testing import CliRunner

from orchestrator_fixtures import orchestrator
from sangdam.domain import policy
from sangdam.orchestrator.format import say
from sangdam.tools import ToolError, get_tool
from sangdam.tools.base import ToolContext
from sangdam.tools.identity import clear_identity_lock, identity_locks

OWNER_PHONE, OWNER_BIRTH = "010-1111-2222", "1985-03-14"  # C-A of tools_fixtures


class Clock:
    """Wall clock of the tool context, moved by the test."""

    def __init__(self) -> None:
        self.now = dt.datetime.combine(TODAY, dt.time(10, 0))

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def verify(engine: Engine, clock: Clock, *, phone: str = OWNER_PHONE, birth: str = "2000-01-01",
           conversation: str = "conv-1", source: str | None = None, actor: str = "bot"):  # noqa: ANN201
    ctx = ToolContext(engine=engine, today=TODAY, actor=actor, conversation_id=conversation, source=source,
                      clock=clock)
    return get_tool("verify_identity").run(ctx, {"phone": phone, "birth_date": birth})


def fail_from_strangers(engine: Engine, clock: Clock, times: int) -> None:
    """``times`` wrong birth dates for the owner's number, each from its own source and conversation."""
    for i in range(times):
        assert not verify(engine, clock, conversation=f"stranger-{i}", source=f"198.51.100.{i}").verified
        clock.advance(seconds=1)


def checked(engine: Engine) -> list:
    """verify_identity audit rows that compared a birth date (not refusals, not an agent's clearing)."""
    return [r for r in audit_rows(engine, "verify_identity") if "verified" in (r.result or {})]


# --- the conversation cap ------------------------------------------------------------------------------------
def test_after_three_failures_the_conversation_never_calls_verify_identity_again(db_engine: Engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation()
    orch.handle(conv, "제 요금 얼마 나왔어요?")
    for birth in ("1990-01-01", "1990-01-02", "1990-01-03"):
        last = orch.handle(conv, f"010-2222-3333 {birth}")
    assert last.reply.startswith(say("identity.locked", attempts=3))
    for birth in ("1990-04-12", "1990-01-05"):  # tries 4 and 5, the right birth date among them
        result = orch.handle(conv, f"010-2222-3333 {birth} 요금 알려주세요")
        assert [c.name for c in result.tool_calls if c.name == "verify_identity"] == []
        assert result.verified_customer_id is None
        assert say("identity.closed") in result.reply and say("identity.ask") not in result.reply
    again = orch.handle(conv, "이번 달 요금 알려주세요")
    assert say("identity.closed") in again.reply and say("identity.ask") not in again.reply
    assert len(checked(db_engine)) == 3


def test_the_tool_refuses_a_fourth_attempt_in_one_conversation(world: Engine, clock: Clock) -> None:
    for _ in range(policy.IDENTITY_CONVERSATION_MAX_FAILURES):
        assert not verify(world, clock).verified
    with pytest.raises(ToolError) as info:
        verify(world, clock, birth=OWNER_BIRTH)
    assert info.value.code == "verification_closed"
    assert len(checked(world)) == 3


# --- the number lock: short, growing, in-chat only ---------------------------------------------------------
def test_a_stranger_locks_the_number_for_minutes_not_for_the_day(world: Engine, clock: Clock) -> None:
    fail_from_strangers(world, clock, policy.IDENTITY_NUMBER_BACKOFF.free)
    with pytest.raises(ToolError) as info:
        verify(world, clock, birth=OWNER_BIRTH, conversation="owner", source="203.0.113.7")
    assert info.value.code == "too_many_attempts"
    assert 0 < info.value.details["retry_after_s"] <= 5 * 60
    assert "분 후" in info.value.message_ko
    clock.advance(minutes=5)
    assert verify(world, clock, birth=OWNER_BIRTH, conversation="owner", source="203.0.113.7").verified


def test_the_number_lock_grows_with_each_further_failure_and_is_capped(world: Engine, clock: Clock) -> None:
    waits = []
    fail_from_strangers(world, clock, policy.IDENTITY_NUMBER_BACKOFF.free)
    for i in range(6):
        with pytest.raises(ToolError) as info:
            verify(world, clock, conversation=f"late-{i}", source=f"192.0.2.{i}")
        waits.append(info.value.details["retry_after_s"])
        clock.advance(seconds=waits[-1])
        assert not verify(world, clock, conversation=f"late-{i}", source=f"192.0.2.{i}").verified
    assert waits[0] <= 5 * 60 and waits == sorted(waits) and waits[1] > waits[0]
    assert max(waits) <= policy.IDENTITY_NUMBER_BACKOFF.max_wait.total_seconds()


def test_agents_and_the_cli_are_never_blocked_by_a_number_lock(world: Engine, clock: Clock) -> None:
    fail_from_strangers(world, clock, policy.IDENTITY_NUMBER_BACKOFF.free)
    with pytest.raises(ToolError):
        verify(world, clock, birth=OWNER_BIRTH, conversation="owner")
    assert verify(world, clock, birth=OWNER_BIRTH, actor="agent:kim", conversation="desk").verified
    assert verify(world, clock, birth=OWNER_BIRTH, actor="cli", conversation=None).verified


def test_a_success_resets_the_number(world: Engine, clock: Clock) -> None:
    fail_from_strangers(world, clock, policy.IDENTITY_NUMBER_BACKOFF.free - 1)
    assert verify(world, clock, birth=OWNER_BIRTH, conversation="owner").verified
    fail_from_strangers(world, clock, 1)
    assert verify(world, clock, birth=OWNER_BIRTH, conversation="owner-2").verified


# --- the source throttle -----------------------------------------------------------------------------------
def test_one_source_is_slowed_down_across_conversations_and_numbers(world: Engine, clock: Clock) -> None:
    source = "203.0.113.50"
    phones = ["010-1111-2222", "010-3333-4444", "010-5555-0000", "010-7777-8888"]
    for i in range(policy.IDENTITY_SOURCE_BACKOFF.free):
        assert not verify(world, clock, phone=phones[i], conversation=f"c{i}", source=source).verified
    with pytest.raises(ToolError) as info:
        verify(world, clock, phone=phones[3], conversation="c9", source=source)
    assert info.value.code == "too_many_attempts"
    first_wait = info.value.details["retry_after_s"]
    assert 0 < first_wait <= policy.IDENTITY_SOURCE_BACKOFF.first_wait.total_seconds()
    # another source is not slowed down by this one
    assert verify(world, clock, phone="010-3333-4444", birth="1990-07-01", conversation="c10",
                  source="198.51.100.200").verified
    clock.advance(seconds=first_wait)
    assert not verify(world, clock, phone=phones[3], conversation="c11", source=source).verified
    with pytest.raises(ToolError) as info:
        verify(world, clock, phone=phones[3], conversation="c12", source=source)
    assert info.value.details["retry_after_s"] > first_wait


def test_the_orchestrator_passes_the_source_to_the_throttle(db_engine: Engine) -> None:
    orch = orchestrator(db_engine)
    for i in range(policy.IDENTITY_SOURCE_BACKOFF.free):
        conv = orch.start_conversation()
        orch.handle(conv, "제 요금 얼마 나왔어요?", source="203.0.113.9")
        assert orch.handle(conv, f"010-2222-3333 1990-02-0{i + 1}", source="203.0.113.9").verified_customer_id is None
    conv = orch.start_conversation()
    orch.handle(conv, "제 요금 얼마 나왔어요?", source="203.0.113.9")
    refused = orch.handle(conv, "010-5555-6666 1985-01-30", source="203.0.113.9")
    assert refused.verified_customer_id is None
    assert [c.error_code for c in refused.tool_calls if c.name == "verify_identity"] == ["too_many_attempts"]
    other = orch.start_conversation()
    orch.handle(other, "제 요금 얼마 나왔어요?", source="198.51.100.77")
    assert orch.handle(other, "010-5555-6666 1985-01-30", source="198.51.100.77").verified_customer_id == "C2"


def test_a_trusted_channel_is_unaffected_by_a_number_lock(db_engine: Engine) -> None:
    orch = orchestrator(db_engine)
    for i in range(policy.IDENTITY_NUMBER_BACKOFF.free):
        conv = orch.start_conversation()
        orch.handle(conv, "제 요금 얼마 나왔어요?", source=f"198.51.100.{i}")
        orch.handle(conv, f"010-2222-3333 1990-03-0{i + 1}", source=f"198.51.100.{i}")
    locked = orch.start_conversation()
    orch.handle(locked, "제 요금 얼마 나왔어요?", source="203.0.113.1")
    refused = orch.handle(locked, "010-2222-3333 1990-04-12", source="203.0.113.1")
    assert refused.verified_customer_id is None and "분 후" in refused.reply
    trusted = orch.start_conversation(customer_id="C1")
    assert "61,200원" in orch.handle(trusted, "이번 달 요금 얼마예요?").reply


# --- visible to agents ---------------------------------------------------------------------------------------
def test_identity_locks_are_listed_for_agents_and_can_be_cleared(world: Engine, clock: Clock) -> None:
    fail_from_strangers(world, clock, policy.IDENTITY_NUMBER_BACKOFF.free)
    locks = identity_locks(world, now=clock.now)
    assert [(lock.kind, lock.last4, lock.failures) for lock in locks] == [("number", "2222", 5)]
    assert clock.now < locks[0].until <= clock.now + dt.timedelta(minutes=5)
    assert "010" not in json.dumps(locks[0].model_dump(mode="json"))
    clear_identity_lock(world, OWNER_PHONE, actor="agent:kim", now=clock.now)
    assert identity_locks(world, now=clock.now) == []
    assert verify(world, clock, birth=OWNER_BIRTH, conversation="owner").verified


def test_the_cli_lists_and_clears_identity_locks(world: Engine, clock: Clock, monkeypatch) -> None:  # noqa: ANN001
    from sangdam.cli import app

    fail_from_strangers(world, clock, policy.IDENTITY_NUMBER_BACKOFF.free)
    monkeypatch.setenv("SANGDAM_DATABASE_URL", str(world.url))
    monkeypatch.setenv("SANGDAM_TODAY", TODAY.isoformat())
    from sangdam.config import reset_settings

    reset_settings()
    try:
        runner = CliRunner()
        listed = runner.invoke(app, ["identity", "locks", "--json", "--at", clock.now.isoformat()])
        assert listed.exit_code == 0, listed.output
        assert [row["last4"] for row in json.loads(listed.output)] == ["2222"]
        cleared = runner.invoke(app, ["identity", "unlock", OWNER_PHONE, "--agent", "kim"])
        assert cleared.exit_code == 0, cleared.output
        again = runner.invoke(app, ["identity", "locks", "--json", "--at", clock.now.isoformat()])
        assert json.loads(again.output) == []
    finally:
        reset_settings()


def test_the_http_api_throttles_by_client_address(tmp_path) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from sangdam.server.app import create_app
    from sangdam.server.keys import create_key
    from server_support import TODAY as SERVER_TODAY
    from server_support import make_server_world

    engine = make_server_world(tmp_path / "sangdam.db")
    key = create_key(engine, "customer-channel").key
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(engine, today=SERVER_TODAY, rate_per_minute=0)) as client:  # one client address
        def conversation_answering(identity: str) -> str:
            conv = client.post("/api/v1/conversations", json={"channel": "api"}, headers=headers).json()["id"]
            client.post(f"/api/v1/conversations/{conv}/messages", json={"text": "요금 알려주세요"}, headers=headers)
            res = client.post(f"/api/v1/conversations/{conv}/messages", json={"text": identity}, headers=headers)
            assert res.status_code == 200, res.text
            return res.json()["reply"]

        for i in range(policy.IDENTITY_SOURCE_BACKOFF.free):
            assert "일치하는 가입 정보를 찾지 못했습니다" in conversation_answering(f"010-5555-6666 2000-01-0{i + 1}")
        assert "분 후에 다시 시도" in conversation_answering("010-1111-2222 1985-03-14")
        # agents see the lock in the console API; a channel key does not
        agent = {"Authorization": f"Bearer {create_key(engine, 'agent').key}"}
        locks = client.get("/api/v1/console/identity-locks", headers=agent)
        assert locks.status_code == 200, locks.text
        assert [(lock["kind"], lock["failures"]) for lock in locks.json()] == [("source", 3)]
        # neither the client address nor any number the customer gave (ids are random hex: "CV-a01001a4…" holds "010")
        given = ("010-5555-6666", "01055556666", "5555-6666", "010-1111-2222", "01011112222", "1111-2222")
        assert "testclient" not in locks.text and not [n for n in given if n in locks.text]
        assert client.get("/api/v1/console/identity-locks", headers=headers).status_code in (401, 403)
    engine.dispose()


def test_an_identity_given_alone_gets_only_the_identity_reply(db_engine: Engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation()
    assert orch.handle(conv, "010-2222-3333 1990-01-01", source="s").reply == say("identity.failed")
    orch.handle(conv, "010-2222-3333 1990-01-02", source="s")
    assert orch.handle(conv, "010-2222-3333 1990-01-03", source="s").reply == say("identity.locked", attempts=3)
    assert orch.handle(conv, "010-2222-3333 1990-04-12", source="s").reply == say("identity.closed")
    assert "상담사" in orch.handle(conv, "상담사 연결해 주세요", source="s").reply  # a new request is still served
    throttled = orch.start_conversation()
    refused = orch.handle(throttled, "010-5555-6666 1985-01-30", source="s")
    assert refused.reply.startswith("본인 확인에 여러 번 실패하여 잠시") and "\n" not in refused.reply


def test_failures_stamped_after_now_do_not_lock_for_a_day(world: Engine, clock: Clock) -> None:
    """With a pinned business date (demos) the wall clock passing midnight moves "now" back by a day: the
    failures of 23:59 must not read as a lock that lasts until tomorrow night."""
    clock.now = dt.datetime.combine(TODAY, dt.time(23, 59))
    fail_from_strangers(world, clock, policy.IDENTITY_NUMBER_BACKOFF.free)
    clock.now = dt.datetime.combine(TODAY, dt.time(0, 1))
    assert verify(world, clock, birth=OWNER_BIRTH, conversation="owner").verified
