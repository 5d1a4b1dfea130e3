"""Test data for the tool-layer tests: the catalogue's plans and passes plus a few hand-made customers.

Built with ORM objects so the tool tests depend only on the domain model. Business date: TODAY (2026-11-29).

- C-A  김하늘: 010-1111-2222, 1985-03-14, 서울특별시 강남구. Lines:
    L-A1 5G 슬림 (12 GB, refill 2,200원/GB), active, 10.5 GB used, selective discount since 2026-03-01
         (13,750원/month, ends 2027-03-01), device instalment 300,000원 left; usage Aug/Sep/Oct 2026 = 8/9/10 GB.
    L-A2 5G 프리미엄 (unlimited), active.
  Bills (L-A1): 2026-09 paid 55,000원, 2026-10 issued 59,400원 (base + refill item).
- C-B  이바다: 01033334444, 1990-07-01, 부산광역시 해운대구. Line L-B1 LTE 베이직, suspended for non-payment;
  bills 2026-09 and 2026-10 overdue (33,000원 each).
"""

from __future__ import annotations

import datetime as dt
import shutil
from importlib import resources
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sangdam.domain.db import make_engine, migrate, session_scope
from sangdam.domain.models import AuditLog, Bill, Customer, Line, Outage, Plan, RoamingPass, UsageDaily
from sangdam.tools.base import ToolContext

TODAY = dt.date(2026, 11, 29)


def catalog() -> dict:
    return yaml.safe_load(resources.files("sangdam.resources").joinpath("demo").joinpath("catalog.yaml").read_text("utf-8"))


def _usage(line_id: str, year: int, month: int, total_gb: float) -> list[UsageDaily]:
    """Daily rows over one month summing to ``total_gb`` (1 GB = 1024 MB)."""
    days = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.date(year, month, 1)).days
    total_mb = int(round(total_gb * 1024))
    per_day, extra = divmod(total_mb, days)
    return [
        UsageDaily(line_id=line_id, date=dt.date(year, month, d + 1), data_mb=per_day + (1 if d < extra else 0),
                   voice_min=10, sms=2)
        for d in range(days)
    ]


def populate(session: Session) -> None:
    """Insert the catalogue and the test customers into an empty, migrated database."""
    cat = catalog()
    session.add_all(Plan(**p) for p in cat["plans"])
    session.add_all(RoamingPass(**r) for r in cat["roaming_passes"])
    session.flush()
    session.add_all([
        Customer(id="C-A", name="김하늘", birth_date=dt.date(1985, 3, 14), phone="010-1111-2222",
                 email="a@example.com", address="서울특별시 강남구 테헤란로 1", segment="standard", preferences={}),
        Customer(id="C-B", name="이바다", birth_date=dt.date(1990, 7, 1), phone="010-3333-4444",
                 email=None, address="부산광역시 해운대구 우동 2", segment="standard", preferences={}),
    ])
    session.flush()
    session.add_all([
        Line(id="L-A1", customer_id="C-A", number="010-1111-2222", plan_id="P-5G-SLIM", status="active",
             data_used_gb=10.5, data_refill_gb=0.0, contract_kind="selective_discount",
             contract_start=dt.date(2026, 3, 1), contract_end=dt.date(2027, 3, 1), monthly_discount=13750,
             device_model="Galaxy S25", device_installment_left=300000),
        Line(id="L-A2", customer_id="C-A", number="010-1111-9999", plan_id="P-5G-PREM", status="active"),
        Line(id="L-B1", customer_id="C-B", number="010-3333-4444", plan_id="P-LTE-BASIC", status="suspended",
             suspend_reason="nonpayment"),
    ])
    session.flush()
    session.add_all([
        Bill(id="B-A1-09", customer_id="C-A", line_id="L-A1", period="2026-09", due_date=dt.date(2026, 10, 25),
             amount=55000, status="paid", items=[{"name": "5G 슬림 기본료", "amount": 55000}]),
        Bill(id="B-A1-10", customer_id="C-A", line_id="L-A1", period="2026-10", due_date=dt.date(2026, 11, 25),
             amount=59400, status="issued",
             items=[{"name": "5G 슬림 기본료", "amount": 55000}, {"name": "데이터 충전 2GB", "amount": 4400}]),
        Bill(id="B-B1-09", customer_id="C-B", line_id="L-B1", period="2026-09", due_date=dt.date(2026, 10, 25),
             amount=33000, status="overdue", items=[{"name": "LTE 베이직 기본료", "amount": 33000}]),
        Bill(id="B-B1-10", customer_id="C-B", line_id="L-B1", period="2026-10", due_date=dt.date(2026, 11, 25),
             amount=33000, status="overdue", items=[{"name": "LTE 베이직 기본료", "amount": 33000}]),
    ])
    for month, gb in ((8, 8.0), (9, 9.0), (10, 10.0)):
        session.add_all(_usage("L-A1", 2026, month, gb))
    session.add_all([
        Outage(id="O-1", area="서울 강남구", service="data", started_at=dt.datetime(2026, 11, 29, 8, 0),
               expected_end=dt.datetime(2026, 11, 29, 18, 0), resolved=False, description="기지국 장비 점검"),
        Outage(id="O-2", area="대전 유성구", service="all", started_at=dt.datetime(2026, 11, 20, 8, 0),
               expected_end=None, resolved=True, description="복구 완료"),
    ])


def make_world(url: str) -> Engine:
    """A migrated database at ``url`` holding the test data."""
    engine = make_engine(url)
    migrate(engine)
    with session_scope(engine) as session:
        populate(session)
    return engine


@pytest.fixture(scope="session")
def world_template(tmp_path_factory) -> Path:  # noqa: ANN001 - pytest fixture
    """One migrated, populated SQLite file; each test gets a copy (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("tools-template") / "tools.db"
    engine = make_world(f"sqlite:///{path}")
    with engine.connect() as conn:  # fold the WAL into the main file so a plain copy is complete
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def world(world_template, tmp_path) -> Engine:  # noqa: ANN001 - pytest fixture
    """A fresh SQLite database with the test data (one per test)."""
    path = tmp_path / "tools.db"
    shutil.copyfile(world_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def world_any(db_engine_any) -> Engine:  # noqa: ANN001 - pytest fixture (tests/conftest.py)
    """The test data on a fresh migrated database of each backend in turn: SQLite, then PostgreSQL."""
    with session_scope(db_engine_any) as session:
        populate(session)
    return db_engine_any


def ctx_for(engine: Engine, customer_id: str | None = "C-A", key: str | None = None, actor: str = "bot") -> ToolContext:
    return ToolContext(engine=engine, today=TODAY, actor=actor, customer_id=customer_id, idempotency_key=key,
                       conversation_id="conv-test")


def get(engine: Engine, model, ident):  # noqa: ANN001, ANN201 - small test helper
    with session_scope(engine) as session:
        obj = session.get(model, ident)
        session.expunge_all()
        return obj


def audit_rows(engine: Engine, tool: str | None = None) -> list[AuditLog]:
    with session_scope(engine) as session:
        stmt = select(AuditLog).order_by(AuditLog.id)
        if tool:
            stmt = stmt.where(AuditLog.tool == tool)
        rows = list(session.scalars(stmt))
        session.expunge_all()
        return rows


def count(engine: Engine, model) -> int:  # noqa: ANN001
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)))
