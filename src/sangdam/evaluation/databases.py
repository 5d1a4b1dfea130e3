"""Fresh, isolated SQLite databases for scenarios, copied from templates built once per run.

Migrating and seeding cost far more than copying a file, so each run builds at most one catalogue-only template
and one seeded template per business date, then gives every scenario its own copy.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import Engine, text

from sangdam.domain.db import make_engine, migrate


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _close(engine: Engine) -> None:
    """Fold the WAL into the main file and close every connection, so that the file alone is the database."""
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()


class ScenarioDatabases:
    """Template databases and per-scenario copies under one private working folder."""

    def __init__(self, work_dir: Path | None = None) -> None:
        self._own_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="sangdam-eval-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._catalogue: dict[tuple[str, ...], Path] = {}
        self._demo: dict[dt.date, Path] = {}
        self._counter = 0

    def catalogue_template(self, parts: tuple[str, ...] = ("plans", "roaming_passes")) -> Path:
        """A migrated database holding only ``parts`` of the operator catalogue (scenarios add their fixtures to a
        copy; a scenario that declares its own plans or passes starts without the catalogue's)."""
        if parts not in self._catalogue:
            from sangdam.evaluation.fixtures_bridge import load_catalogue

            path = self.work_dir / f"template-catalogue-{'-'.join(parts) or 'none'}.db"
            engine = make_engine(_url(path))
            migrate(engine)
            load_catalogue(engine, parts)
            _close(engine)
            self._catalogue[parts] = path
        return self._catalogue[parts]

    def demo_template(self, today: dt.date) -> Path:
        """A migrated database with the demo data seeded as of ``today``."""
        if today not in self._demo:
            from sangdam.domain.seed import seed

            path = self.work_dir / f"template-demo-{today.isoformat()}.db"
            engine = make_engine(_url(path))
            migrate(engine)
            seed(engine, today=today)
            _close(engine)
            self._demo[today] = path
        return self._demo[today]

    def fresh(self, template: Path, label: str) -> tuple[Engine, Path]:
        """An engine on a new copy of ``template`` (the caller disposes it and calls ``discard``)."""
        self._counter += 1
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)[:60]
        path = self.work_dir / f"{self._counter:05d}-{safe}.db"
        shutil.copyfile(template, path)
        return make_engine(_url(path)), path

    @staticmethod
    def discard(engine: Engine, path: Path) -> None:
        """Close the engine and delete the scenario's database files."""
        engine.dispose()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        """Remove the working folder if this object created it."""
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
