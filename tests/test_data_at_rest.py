"""Issue 11 item 6: personal data at rest — file permissions, the keyed pseudonym of the audit log, and what a
realistic conversation leaves in every stored table (docs/data-at-rest.md)."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from sqlalchemy import Engine
from tools_fixtures import TODAY, audit_rows, world, world_template  # noqa: F401 - fixtures

from sangdam.config import HASH_SECRET_FILE, Settings, get_settings, reset_settings
from sangdam.domain.db import make_engine, migrate
from sangdam.tools import get_tool
from sangdam.tools.base import ToolContext


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- files -----------------------------------------------------------------------------------------------------
def test_a_new_sqlite_database_and_its_home_are_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    engine = make_engine(f"sqlite:///{home / 'sangdam.db'}")
    migrate(engine)
    engine.dispose()
    assert mode(home) == 0o700
    assert mode(home / "sangdam.db") == 0o600
    assert all(mode(p) == 0o600 for p in home.glob("sangdam.db*"))


def test_an_existing_world_readable_database_is_closed_to_others(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    make_engine(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o600


def test_ensure_home_makes_the_home_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    Settings(home=home).ensure_home()
    assert mode(home) == 0o700


# --- the keyed pseudonym ---------------------------------------------------------------------------------------
def test_the_hash_secret_is_generated_once_owner_only_and_reused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h")
    key = settings.hash_key()
    path = tmp_path / "h" / HASH_SECRET_FILE
    assert mode(path) == 0o600 and len(key) == 64
    assert Settings(home=tmp_path / "h").hash_key() == key
    assert Settings(home=tmp_path / "other").hash_key() != key


def test_a_configured_hash_secret_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", hash_secret="operator-secret-from-vault")
    assert settings.hash_key() == b"operator-secret-from-vault"
    assert not (tmp_path / "h" / HASH_SECRET_FILE).exists()


def test_the_audit_log_holds_a_keyed_hmac_of_the_phone_not_a_plain_hash(world: Engine, monkeypatch) -> None:  # noqa: ANN001
    def phone_hash_with(secret: str) -> str:
        monkeypatch.setenv("SANGDAM_HASH_SECRET", secret)
        reset_settings()
        ctx = ToolContext(engine=world, today=TODAY, conversation_id=f"conv-{secret}", source="203.0.113.5")
        get_tool("verify_identity").run(ctx, {"phone": "010-1111-2222", "birth_date": "1985-03-14"})
        return audit_rows(world, "verify_identity")[-1].args["phone_hash"]

    try:
        first, second = phone_hash_with("secret-one"), phone_hash_with("secret-two")
    finally:
        monkeypatch.delenv("SANGDAM_HASH_SECRET")
        reset_settings()
    digits = "01011112222"
    assert first != second  # keyed: without the key, no table of all numbers matches
    assert first == hmac.new(b"secret-one", f"phone:{digits}".encode(), hashlib.sha256).hexdigest()[:32]
    assert hashlib.sha256(digits.encode()).hexdigest()[:16] not in first
    row = audit_rows(world, "verify_identity")[-1]
    assert "203.0.113.5" not in str(row.args) and digits not in str(row.args) and row.args["phone_last4"] == "2222"
    assert get_settings().hash_key()  # the default (generated) key is back


# --- what a realistic conversation leaves behind ---------------------------------------------------------------
def test_replies_never_hold_a_full_phone_number_not_even_the_customers_own(world: Engine) -> None:
    from sangdam.agents.base import AgentContext
    from sangdam.orchestrator.blackboard import Blackboard
    from sangdam.orchestrator.format import say
    from sangdam.backends.sql import SqlBackend
    from sangdam.orchestrator.responder import Responder
    from sangdam.orchestrator.state import ConversationState

    facts = Blackboard()
    facts.put("list_lines", {"lines": [{"id": "L-A1", "number": "010-1111-2222"}]}, {})  # the customer's own line
    state = ConversationState(verified_customer_id="C-A")
    ctx = AgentContext(engine=world, today=TODAY, conversation_id="c", state=state, text="", blackboard=facts,
                       tool_calls=[], mask=lambda text: text)
    full, verdict = Responder(SqlBackend(world)).compose(["010-1111-2222 회선의 로밍을 켭니다."], ctx, [])
    assert full == say("fallback.safe") and verdict.foreign_pii == ["[redacted]"]
    assert Responder(SqlBackend(world)).compose(["끝자리 2222 회선의 로밍을 켭니다."], ctx, [])[1].passed


def test_a_realistic_conversation_leaves_no_clear_personal_data_in_any_table(tmp_path: Path) -> None:
    """An attacker's view of the database file after a conversation through the HTTP API: the customer's own
    number, birth date, e-mail, card data and client address appear nowhere but in the customer records."""
    from fastapi.testclient import TestClient

    from sangdam.korean.pii.stored import scan_database
    from sangdam.server.app import create_app
    from sangdam.server.keys import create_key
    from server_support import TODAY as SERVER_TODAY
    from server_support import make_server_world

    engine = make_server_world(tmp_path / "sangdam.db")
    known = ["010-1111-2222", "010-1111-9999", "1985-03-14", "kim@daum.net", "4526-0181-5908-3012", "testclient",
             "김하늘"]
    headers = {"Authorization": f"Bearer {create_key(engine, 'customer-channel').key}"}
    with TestClient(create_app(engine, today=SERVER_TODAY, rate_per_minute=0)) as client:
        conv = client.post("/api/v1/conversations", json={"channel": "web"}, headers=headers).json()["id"]

        def send(i: int, text: str) -> str:
            res = client.post(f"/api/v1/conversations/{conv}/messages", json={"text": text},
                              headers={**headers, "Idempotency-Key": f"k{i}"})
            assert res.status_code == 200, res.text
            return res.json()["reply"]

        send(1, "데이터 2기가 충전해 주세요")
        send(2, "010-1111-2222 85년 3월 14일이요")
        proposal = send(3, "끝자리 2222요")
        assert "끝자리 2222" in proposal and "충전" in proposal
        assert scan_database(engine, known) == []  # the proposal waits in the state and its trace
        for i, text in enumerate([
            "네", "이번 달 요금 알려주세요", "생일이 85년 3월 14일인데 혜택 있나요?",
            "이메일 kim@daum.net, 카드 4526-0181-5908-3012 유효기간 09/27 CVC 123으로 결제할게요",
            "phone01011112222 이 번호로 문자 주세요", "상담사 연결해 주세요", "네",
        ], start=4):
            send(i, text)
    findings = scan_database(engine, known)
    assert findings == [], "\n".join(f"{f.table}.{f.column} {f.kind}: {f.excerpt}" for f in findings)
    in_records = scan_database(engine, known, tables=["customers"])  # the scan does see them where they belong
    assert {(f.row, f.kind) for f in in_records} >= {("C-A", "known"), ("C-A", "phone")}
    engine.dispose()


def test_the_cli_scan_reports_clear_personal_data_and_fails(db_engine: Engine) -> None:
    import datetime as dt
    import json

    from typer.testing import CliRunner

    from sangdam.cli import app
    from sangdam.domain.conversation_models import Conversation, Message
    from sangdam.domain.db import session_scope

    url = str(db_engine.url)
    assert CliRunner().invoke(app, ["pii", "scan-db", "--url", url]).exit_code == 0
    now = dt.datetime(2026, 11, 29, 10, 0)
    with session_scope(db_engine) as s:
        s.add(Conversation(id="c1", channel="api", mode="bot", state={}, created_at=now, updated_at=now))
        s.flush()
        s.add(Message(conversation_id="c1", idx=0, role="bot", text="010-2222-3333 회선에 충전합니다", at=now))
    result = CliRunner().invoke(app, ["pii", "scan-db", "--url", url, "--known", "01022223333"])
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert {(r["table"], r["column"], r["kind"]) for r in rows} == {("messages", "text", "phone"),
                                                                    ("messages", "text", "known")}
    assert all("2222-3333" not in r["excerpt"] for r in rows)
