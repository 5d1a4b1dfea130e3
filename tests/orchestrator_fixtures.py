"""Fixture data for orchestrator tests (the scenario fixture shape of issue 7)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.orchestrator import Orchestrator

TODAY = dt.date(2026, 11, 15)

FIXTURES = {
    "plans": [
        {"id": "P-5G-59", "name": "5G 슬림", "network": "5G", "monthly_fee": 59000, "data_gb": 12,
         "throttle_kbps": 1000, "refill_price_per_gb": 2200},
        {"id": "P-5G-UNL", "name": "5G 프리미엄", "network": "5G", "monthly_fee": 89000, "data_gb": None,
         "throttle_kbps": None, "refill_price_per_gb": 0},
    ],
    "roaming_passes": [
        {"id": "R-ASIA5", "name": "아시아 5일", "days": 5, "data_gb": 3, "price": 19800, "countries": ["JP", "CN"]},
        {"id": "R-JP3", "name": "일본 3일", "days": 3, "data_gb": 2, "price": 13200, "countries": ["JP"]},
    ],
    "customers": [
        {"id": "C1", "name": "김하늘", "birth_date": "1990-04-12", "phone": "010-2222-3333",
         "lines": [{"id": "L1", "number": "010-2222-3333", "plan_id": "P-5G-59", "status": "active",
                    "roaming_enabled": False, "data_used_gb": 4.5}],
         "bills": [{"id": "B1", "line_id": "L1", "period": "2026-10", "due_date": "2026-11-25", "amount": 61200,
                    "status": "issued", "items": [{"name": "월정액", "amount": 59000}, {"name": "부가서비스", "amount": 2200}]}]},
        {"id": "C2", "name": "박민수", "birth_date": "1985-01-30", "phone": "010-5555-6666",
         "lines": [{"id": "L2", "number": "010-5555-6666", "plan_id": "P-5G-UNL", "status": "suspended",
                    "suspend_reason": "nonpayment"}],
         "bills": [{"id": "B2", "line_id": "L2", "period": "2026-09", "due_date": "2026-10-25", "amount": 89000,
                    "status": "overdue", "items": [{"name": "월정액", "amount": 89000}]}]},
    ],
}


def loaded(engine: Engine) -> Engine:
    with session_scope(engine) as s:
        load_fixtures(s, FIXTURES)
    return engine


def orchestrator(engine: Engine, **kwargs) -> Orchestrator:
    return Orchestrator(loaded(engine), today=TODAY, **kwargs)
