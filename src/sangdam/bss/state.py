"""The reference BSS's own database and business date, switchable at run time by the test-support admin API.

The BSS never shares Sangdam's store: by default it keeps a SQLite file at ``$SANGDAM_HOME/bss/bss.db``,
migrated with Sangdam's schema and seeded with the same demo data on first start. ``PUT /admin/state`` points a
running BSS at another database (a scenario's copy) and business date; requests in flight finish on the state
they started with.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from sangdam.config import get_settings
from sangdam.domain.db import is_initialised, make_engine, migrate
from sangdam.domain.seed import seed


def default_database_url() -> str:
    """``sqlite:///$SANGDAM_HOME/bss/bss.db``."""
    return f"sqlite:///{Path(get_settings().resolved_home) / 'bss' / 'bss.db'}"


def safe_url(url: str) -> str:
    """``url`` without its password (for logs and the admin API)."""
    return make_url(url).render_as_string(hide_password=True)


def open_database(url: str, today: dt.date, *, seed_demo: bool) -> Engine:
    """An engine on ``url`` with the schema at head; the demo data written first if ``seed_demo`` and it is empty."""
    engine = make_engine(url)
    migrate(engine)
    if seed_demo:
        seed(engine, today=today)
    return engine


@dataclass(frozen=True)
class BssState:
    """What one request works on."""

    engine: Engine
    today: dt.date
    url: str


class BssRuntime:
    """The current :class:`BssState`, replaced atomically by :meth:`switch` (the old engine is disposed)."""

    def __init__(self, url: str, today: dt.date, *, seed_demo: bool = True) -> None:
        self._lock = threading.Lock()
        self._state = BssState(open_database(url, today, seed_demo=seed_demo), today, url)

    @property
    def state(self) -> BssState:
        return self._state

    def switch(self, url: str | None = None, today: dt.date | None = None, *, seed_demo: bool = False) -> BssState:
        """Point at ``url`` (migrated; seeded only if ``seed_demo``) and/or business date ``today``."""
        with self._lock:
            old = self._state
            day = today or old.today
            if url is None or url == old.url:
                if seed_demo:
                    seed(old.engine, today=day)
                self._state = BssState(old.engine, day, old.url)
                return self._state
            engine = make_engine(url)
            try:
                if not is_initialised(engine) or seed_demo:
                    migrate(engine)
                if seed_demo:
                    seed(engine, today=day)
            except BaseException:
                engine.dispose()
                raise
            self._state = BssState(engine, day, url)
        old.engine.dispose()
        return self._state

    def close(self) -> None:
        self._state.engine.dispose()
