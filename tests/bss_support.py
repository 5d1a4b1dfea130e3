"""Test support for the reference BSS and the ``rest`` adapter: a seeded demo database (copied per test), a live
BSS on a free loopback port (uvicorn in a thread), a ``RestBackend`` pointed at it, and a snapshot of the operator
records to compare two databases by.

Business date: 2026-11-29 (the demo data's showcase customers are described in docs/demo.md).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from sangdam.bss import BssRuntime, create_app
from sangdam.domain.db import make_engine, migrate
from sangdam.domain.seed import seed
from server_support import running_server

TODAY = dt.date(2026, 11, 29)
TOKEN = "bss-test-token"
ADMIN_TOKEN = "bss-test-admin"


def make_demo_template(folder: Path) -> Path:
    """A migrated SQLite file holding the demo data as of TODAY (copy it with :func:`copy_db`)."""
    path = folder / "demo-template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    seed(engine, today=TODAY)
    engine.dispose()  # folds the WAL into the file
    return path


def copy_db(template: Path, path: Path) -> Path:
    shutil.copyfile(template, path)
    return path


@dataclass
class Bss:
    """A running reference BSS."""

    base: str
    runtime: BssRuntime
    token: str = TOKEN
    admin_token: str = ADMIN_TOKEN

    def api(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.api(method, "/admin" + path, token=self.admin_token, **kwargs)

    def fault(self, **spec: Any) -> None:
        answer = self.admin("POST", "/faults", json=spec)
        assert answer.status_code == 201, answer.text

    def calls(self, operation_id: str) -> int:
        return self.admin("GET", "/calls").json()["data"].get(operation_id, 0)

    @property
    def engine(self) -> Engine:
        return self.runtime.state.engine


@contextmanager
def running_bss(db_path: Path, *, today: dt.date = TODAY, admin: bool = True) -> Iterator[Bss]:
    """The BSS over the database file ``db_path``, served on a free loopback port."""
    runtime = BssRuntime(f"sqlite:///{db_path}", today, seed_demo=False)
    app = create_app(runtime, token=TOKEN, admin_token=ADMIN_TOKEN if admin else None)
    try:
        with running_server(app) as base:
            yield Bss(base, runtime)
    finally:
        runtime.close()


def rest_section(base: str, folder: Path, **overrides: Any) -> dict[str, Any]:
    """A ``rest:`` section of backend.yaml for the BSS at ``base`` (token in a file under ``folder``)."""
    token_file = folder / "bss-token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    section = {"base_url": base, "mapping": "builtin:reference-bss",
               "auth": {"token_file": str(token_file)}, "timeout_s": 10,
               "retry": {"backoff_s": 0.01}}
    section.update(overrides)
    return section


def write_openapi(path: Path) -> Path:
    """The BSS's OpenAPI document as a file (no server needed)."""
    path.write_text(json.dumps(create_app(None, token="-").openapi(), ensure_ascii=False), encoding="utf-8")
    return path


OPERATOR_QUERIES = {
    "lines": "SELECT id, customer_id, plan_id, pending_plan_id, status, suspend_reason, roaming_enabled, "
             "roaming_pass_id, data_used_gb, data_refill_gb FROM lines ORDER BY id",
    "bills": "SELECT id, line_id, period, amount, status, items FROM bills ORDER BY id",
    "tickets": "SELECT customer_id, line_id, category, status, summary FROM tickets "
               "ORDER BY customer_id, category, summary",
}


def operator_snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """The operator's records that writes change (ticket ids and times left out: they are generated)."""
    with engine.connect() as conn:
        return {name: [tuple(row) for row in conn.execute(text(sql))] for name, sql in OPERATOR_QUERIES.items()}


def count_rows(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - test tables
