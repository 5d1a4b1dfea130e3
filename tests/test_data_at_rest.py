"""Issue 11 item 6: personal data at rest — file permissions and the key of the audit log's pseudonyms
(docs/data-at-rest.md)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sangdam.config import HASH_SECRET_FILE, Settings
from sangdam.domain.db import make_engine, migrate


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
