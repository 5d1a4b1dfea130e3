"""Alembic environment: the engine is handed over by ``sangdam.domain.db.migrate``."""

from alembic import context

from sangdam.domain.db import make_engine
from sangdam.domain import conversation_models  # noqa: F401 - registers tables
from sangdam.domain import auth_models  # noqa: F401 - registers tables
from sangdam.domain import insight_models  # noqa: F401 - registers tables
from sangdam.domain import batch_models  # noqa: F401 - registers tables
from sangdam.domain.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table (copy, drop, rename); with foreign keys enforced, dropping a table other
            # rows point at (conversations ← messages, traces) fails. Off for the migration (the pragma only
            # works outside a transaction: it is the connection's first statement), checked, and on again.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            if broken:
                raise RuntimeError(f"migration left rows whose foreign keys point nowhere: {broken[:5]}")


run_migrations_online()
