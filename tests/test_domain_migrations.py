"""Alembic migrations build exactly the schema the SQLAlchemy models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from sangdam.domain.db import is_initialised, make_engine, migrate
from sangdam.domain.models import Base

CONTRACT_TABLES = {"plans", "customers", "lines", "bills", "usage_daily", "roaming_passes", "tickets", "audit_log"}


def _schema_diff(engine: Engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def test_migrations_create_every_model_table_on_an_empty_sqlite_file(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert not is_initialised(engine)

    migrate(engine)

    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert CONTRACT_TABLES <= tables
    assert is_initialised(engine)
    engine.dispose()


def test_migrated_schema_matches_the_models(db_engine_any: Engine) -> None:
    # Autogenerate finds nothing to do: the migrations and models.py agree (types included).
    assert _schema_diff(db_engine_any) == []


def test_migrating_twice_changes_nothing(db_engine_any: Engine) -> None:
    before = sorted(inspect(db_engine_any).get_table_names())

    migrate(db_engine_any)

    assert sorted(inspect(db_engine_any).get_table_names()) == before
    assert _schema_diff(db_engine_any) == []


def test_every_model_table_exists_after_migration(db_engine_any: Engine) -> None:
    # On PostgreSQL the per-test database is cloned from one migrated from empty in this session.
    assert set(Base.metadata.tables) <= set(inspect(db_engine_any).get_table_names())


def test_public_contract_columns_exist_with_their_names(db_engine: Engine) -> None:
    columns = {t: {c["name"] for c in inspect(db_engine).get_columns(t)} for t in CONTRACT_TABLES}
    assert {"id", "name", "network", "monthly_fee", "data_gb", "throttle_kbps", "refill_price_per_gb",
            "description"} <= columns["plans"]
    assert {"id", "customer_id", "number", "plan_id", "status", "roaming_enabled", "data_used_gb", "data_refill_gb",
            "contract_kind", "contract_start", "contract_end", "monthly_discount", "device_model",
            "device_installment_left"} <= columns["lines"]
    assert {"id", "customer_id", "line_id", "period", "due_date", "amount", "status", "items"} <= columns["bills"]
    assert {"line_id", "date", "data_mb", "voice_min", "sms"} <= columns["usage_daily"]
    assert {"id", "name", "days", "data_gb", "price", "countries"} <= columns["roaming_passes"]


def test_an_sqlite_store_with_conversations_upgrades_from_0005(tmp_path: Path) -> None:
    """Migration 0006 rebuilds `conversations` (batch mode); with foreign keys enforced, dropping the old table that
    messages and traces point at failed on any store that had a conversation (found upgrading a dev home)."""
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0005")
    with engine.begin() as c:
        c.execute(text("INSERT INTO customers (id, name, birth_date, phone, segment, preferences, created_at) "
                       "VALUES ('C1', '김하늘', '1990-04-12', '010-2222-3333', 'general', '{}', "
                       "'2026-11-01 00:00:00')"))
        c.execute(text("INSERT INTO conversations (id, channel, customer_id, verified_customer_id, mode, state, "
                       "created_at, updated_at) VALUES ('CV-1', 'api', 'C1', 'C1', 'bot', '{}', "
                       "'2026-11-01 00:00:00', '2026-11-01 00:00:00')"))
        c.execute(text("INSERT INTO messages (conversation_id, idx, role, text, at) "
                       "VALUES ('CV-1', 1, 'customer', '요금 알려줘', '2026-11-01 00:00:00')"))
    migrate(engine)
    with engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0009"
        assert c.execute(text("SELECT count(*) FROM messages WHERE conversation_id = 'CV-1'")).scalar() == 1
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert not [fk for fk in inspect(engine).get_foreign_keys("conversations") if fk["referred_table"] == "customers"]
