"""Shared set-up of the imported-tool tests: a SANGDAM_HOME of the test's own, a tool context, the audit rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from sangdam.config import reset_settings
from sangdam.domain.db import session_scope
from sangdam.domain.models import AuditLog
from sangdam.tools.base import ToolContext
from sangdam.tools.imported.loader import reset_imported

TODAY = dt.date(2026, 11, 29)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty SANGDAM_HOME for this test; afterwards the imported tools are forgotten (MCP sessions end)."""
    path = tmp_path / "home"
    monkeypatch.setenv("SANGDAM_HOME", str(path))
    reset_settings()
    yield path
    reset_imported()
    reset_settings()


def ctx_for(engine: Engine, customer: str | None = "C-A", key: str | None = None) -> ToolContext:
    """The bot acting for ``customer`` (verified) in conversation ``conv-1``, under idempotency ``key``."""
    return ToolContext(engine=engine, today=TODAY, actor="bot", customer_id=customer, idempotency_key=key,
                       conversation_id="conv-1")


def audit(engine: Engine) -> list[AuditLog]:
    """Every audit row of Sangdam's store, oldest first."""
    with session_scope(engine) as s:
        rows = list(s.scalars(select(AuditLog).order_by(AuditLog.id)))
        s.expunge_all()
        return rows


def edited(document: dict, **changes: object) -> dict:
    """``document`` with ``a__b=value`` set at ``document["a"]["b"]`` (``None`` deletes the key): bad inputs made
    from the documented examples, one change each."""
    for dotted, value in changes.items():
        node = document
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return document
