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
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
