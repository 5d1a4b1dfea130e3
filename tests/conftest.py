"""Shared test fixtures: an isolated SANGDAM_HOME, fresh migrated databases (SQLite and PostgreSQL).

- ``db_engine``: a fresh, migrated SQLite database in ``tmp_path`` (one per test).
- ``pg_url``: URL of an empty PostgreSQL database created for this test session (``SANGDAM_TEST_PG_URL`` names
  a server to use; otherwise ``scripts/postgres.sh start`` runs a throwaway local cluster). Tests that need it
  skip, with the reason shown, only when no PostgreSQL server can be started.
- ``db_engine_any``: like ``db_engine``, parametrised over ``sqlite`` and ``postgres`` (marked ``postgres``);
  each PostgreSQL test gets its own database, cloned from a migrated template.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from sangdam.config import reset_settings

REPO = Path(__file__).resolve().parents[1]
PG_URL_ENV = "SANGDAM_TEST_PG_URL"


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point SANGDAM_HOME at a temporary folder so no test touches a developer's ./.sangdam."""
    home = tmp_path_factory.mktemp("sangdam-home")
    saved = {k: os.environ.get(k) for k in ("SANGDAM_HOME", "SANGDAM_DATABASE_URL")}
    os.environ["SANGDAM_HOME"] = str(home)
    os.environ.pop("SANGDAM_DATABASE_URL", None)
    reset_settings()
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_settings()


# --- SQLite --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster than per test)."""
    from sangdam.domain.db import make_engine, migrate

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # closes the last connection: the WAL is folded into the file
    return path


@pytest.fixture
def db_engine(_sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite database in ``tmp_path`` with the schema at Alembic head."""
    from sangdam.domain.db import make_engine

    path = tmp_path / "sangdam.db"
    shutil.copyfile(_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


# --- PostgreSQL ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _pg_server() -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database (``postgres``); a server this session started is
    stopped at the end of the session, one that was already running is left alone."""
    url = os.environ.get(PG_URL_ENV)
    if url:
        yield url
        return
    script = str(REPO / "scripts" / "postgres.sh")
    was_running = subprocess.run([script, "status"], capture_output=True, timeout=30).returncode == 0
    try:
        proc = subprocess.run([script, "start"], capture_output=True, text=True, timeout=180)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"PostgreSQL could not start: {exc}")
    if proc.returncode != 0:
        pytest.skip(f"PostgreSQL could not start: {proc.stderr.strip() or proc.stdout.strip()}")
    yield proc.stdout.strip().splitlines()[-1]
    if not was_running:
        subprocess.run([script, "stop"], capture_output=True, timeout=60)


def _admin(server_url: str, *statements: str) -> None:
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url(_pg_server: str) -> Iterator[str]:
    """URL of an empty PostgreSQL database created for this test session (dropped at the end)."""
    name = f"sangdam_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _admin(_pg_server, f'CREATE DATABASE "{name}"')
    yield _database_url(_pg_server, name)
    _admin(_pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _pg_template(_pg_server: str) -> Iterator[str]:
    """Name of a migrated PostgreSQL database that per-test databases are cloned from."""
    from sangdam.domain.db import make_engine, migrate

    name = f"sangdam_tpl_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _admin(_pg_server, f'CREATE DATABASE "{name}"')
    engine = make_engine(_database_url(_pg_server, name))
    migrate(engine)
    engine.dispose()  # CREATE DATABASE ... TEMPLATE needs the template to have no connections
    yield name
    _admin(_pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_engine(_pg_server: str, _pg_template: str) -> Iterator[Engine]:
    """A fresh PostgreSQL database with the schema at Alembic head (one per test)."""
    from sangdam.domain.db import make_engine

    name = f"sangdam_t_{uuid.uuid4().hex[:12]}"
    _admin(_pg_server, f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"')
    engine = make_engine(_database_url(_pg_server, name))
    yield engine
    engine.dispose()
    _admin(_pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_engine_any(request: pytest.FixtureRequest) -> Engine:
    """A fresh migrated database on each backend in turn: SQLite, then PostgreSQL."""
    return request.getfixturevalue("db_engine" if request.param == "sqlite" else "pg_engine")
