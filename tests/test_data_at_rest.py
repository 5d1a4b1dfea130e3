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
