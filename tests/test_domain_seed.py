"""The demo seed: deterministic, complete, internally consistent, with every showcase situation in place."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from sangdam.config import reset_settings
from sangdam.domain import policy
from sangdam.domain.db import make_engine, migrate, session_scope
from sangdam.domain.models import Bill, Customer, Line, Plan, RoamingPass, Ticket
from sangdam.domain.repo import active_outages, area_of, dump_tables
from sangdam.domain.seed import GENERATED_CUSTOMERS, build_demo_fixtures, catalog, seed
from sangdam.domain.seed_history import past_periods
from sangdam.domain.seed_showcase import SHOWCASE_PREFIX

TODAY = dt.date(2026, 11, 29)  # after the 25th: last month's bill is already due
EARLY = dt.date(2026, 3, 10)  # before the 25th: last month's bill is still open
DOCS = Path(__file__).resolve().parents[1] / "docs" / "demo.md"


def _dump(engine: Engine) -> str:
    with session_scope(engine) as session:
        return json.dumps(dump_tables(session), ensure_ascii=False, sort_keys=True)


def _seeded(tmp_path_factory: pytest.TempPathFactory, today: dt.date) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'demo.db'}")
    migrate(engine)
    seed(engine, today=today)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The demo data as of TODAY (read-only for the tests that use it)."""
    yield from _seeded(tmp_path_factory, TODAY)


@pytest.fixture(scope="module")
def demo_early(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from _seeded(tmp_path_factory, EARLY)


@pytest.fixture(scope="module")
def data(demo: Engine) -> dict[str, list[dict]]:
    with session_scope(demo) as session:
        return dump_tables(session)


def _by_id(rows: list[dict]) -> dict[str, dict]:
    return {row["id"]: row for row in rows}


# --- completeness -------------------------------------------------------------------------------------------


def test_seed_meets_the_issue_minimums(data: dict) -> None:
    plans, passes = data["plans"], data["roaming_passes"]
    generated = [c for c in data["customers"] if not c["id"].startswith(SHOWCASE_PREFIX)]
    assert len(plans) >= 8 and {p["network"] for p in plans} == {"5G", "LTE"}
    assert any(p["data_gb"] is None for p in plans) and min(p["monthly_fee"] for p in plans) < 30000
    assert len(passes) >= 6
    assert len(generated) == GENERATED_CUSTOMERS >= 60
    assert len(data["customers"]) >= 68  # plus the showcase customers


def test_catalogue_rows_equal_catalog_yaml(data: dict) -> None:
    doc = catalog()
    assert data["plans"] == sorted(({"description": "", **p} for p in doc["plans"]), key=lambda p: p["id"])
    assert data["roaming_passes"] == sorted(doc["roaming_passes"], key=lambda r: r["id"])


def test_every_line_has_bills_for_the_three_previous_months(data: dict) -> None:
    periods = defaultdict(list)
    for bill in data["bills"]:
        periods[bill["line_id"]].append(bill["period"])
    assert {line["id"]: sorted(periods[line["id"]]) for line in data["lines"]} == {
        line["id"]: ["2026-08", "2026-09", "2026-10"] for line in data["lines"]
    }


def test_daily_usage_covers_three_months_and_this_month_so_far(data: dict) -> None:
    days = {row["date"] for row in data["usage_daily"]}
    assert min(days) == "2026-08-01" and max(days) == TODAY.isoformat()


def test_some_customers_have_two_lines(data: dict) -> None:
    per_customer = defaultdict(int)
    for line in data["lines"]:
        per_customer[line["customer_id"]] += 1
    assert sum(1 for n in per_customer.values() if n >= 2) >= 5
    assert set(per_customer) == {c["id"] for c in data["customers"]}


# --- consistency --------------------------------------------------------------------------------------------


def test_bill_amounts_equal_the_sum_of_their_items(data: dict) -> None:
    wrong = [b["id"] for b in data["bills"] if b["amount"] != sum(item["amount"] for item in b["items"])]
    assert wrong == []


def test_bills_are_due_on_the_policy_date_and_paid_in_order(data: dict) -> None:
    lines = _by_id(data["lines"])
    for bill in data["bills"]:
        assert bill["due_date"] == policy.due_date_for(bill["period"]).isoformat()
        assert lines[bill["line_id"]]["customer_id"] == bill["customer_id"]
        if not bill["customer_id"].startswith(SHOWCASE_PREFIX + "OVERDUE"):
            # TODAY is past the 25th, so even last month's bill has been paid.
            assert bill["status"] == "paid", bill["id"]


def test_latest_bill_is_issued_until_its_due_date(demo_early: Engine) -> None:
    with session_scope(demo_early) as session:
        bills = session.scalars(select(Bill).where(~Bill.customer_id.startswith(SHOWCASE_PREFIX))).all()
    statuses = {(b.period, b.status) for b in bills}
    assert statuses == {("2025-12", "paid"), ("2026-01", "paid"), ("2026-02", "issued")}
    assert {b.due_date for b in bills if b.status == "issued"} == {dt.date(2026, 3, 25)}


def test_bill_items_follow_the_contract(data: dict) -> None:
    plans = _by_id(data["plans"])
    for line in data["lines"]:
        fee = plans[line["plan_id"]]["monthly_fee"]
        if line["contract_kind"] == "selective_discount":
            assert line["monthly_discount"] == round(fee * policy.SELECTIVE_DISCOUNT_RATE)
            assert line["contract_start"] < line["contract_end"]
        else:
            assert line["monthly_discount"] == 0
        if line["contract_kind"] == "device_installment":
            assert line["device_model"] and line["device_installment_left"] > 0
    for bill in data["bills"]:
        line = _by_id(data["lines"])[bill["line_id"]]
        assert bill["items"][0] == {"name": "월정액", "amount": plans[line["plan_id"]]["monthly_fee"]}
        discounts = [i["amount"] for i in bill["items"] if i["name"] == "선택약정 할인"]
        assert all(a == -line["monthly_discount"] for a in discounts)


def test_this_months_usage_adds_up_to_data_used_gb(data: dict) -> None:
    this_month = defaultdict(int)
    for row in data["usage_daily"]:
        if row["date"] >= TODAY.replace(day=1).isoformat():
            this_month[row["line_id"]] += row["data_mb"]
    assert {line["id"]: line["data_used_gb"] for line in data["lines"]} == {
        line["id"]: round(this_month[line["id"]] / 1024, 2) for line in data["lines"]
    }


def test_identities_are_unique_and_realistic(data: dict) -> None:
    customers, lines = data["customers"], data["lines"]
    numbers = [line["number"] for line in lines]
    assert len(set(numbers)) == len(numbers)
    assert len({c["phone"] for c in customers}) == len(customers)
    assert all(re.fullmatch(r"010-\d{4}-\d{4}", n) for n in numbers)
    assert all(re.fullmatch(r"[가-힣]{2,4}", c["name"]) for c in customers)
    assert len({c["email"] for c in customers}) == len(customers)
    first_lines = {}
    for line in lines:
        first_lines.setdefault(line["customer_id"], line["number"])
    assert all(first_lines[c["id"]] == c["phone"] for c in customers)
    surnames = [c["name"][0] for c in customers]
    assert surnames.count("김") > surnames.count("박") > 0  # census frequencies, not uniform draws
    assert all(area_of(c["address"]).split()[0] in {"서울", "경기", "인천", "부산", "대구", "대전", "광주", "울산", "제주"}
               for c in customers)


# --- determinism and idempotency ----------------------------------------------------------------------------


def test_seed_is_deterministic(demo: Engine, db_engine: Engine) -> None:
    seed(db_engine, today=TODAY)
    assert _dump(db_engine) == _dump(demo)


def test_build_is_identical_in_another_process_with_another_hash_seed() -> None:
    # No hidden inputs (clock, str hash randomisation, set order): a fresh interpreter builds the same bytes.
    code = (
        "import datetime, hashlib; from sangdam.domain.seed import build_demo_fixtures; "
        f"print(hashlib.sha256(build_demo_fixtures(datetime.date.fromisoformat('{TODAY}'))"
        ".model_dump_json().encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == hashlib.sha256(build_demo_fixtures(TODAY).model_dump_json().encode()).hexdigest()


@pytest.mark.postgres
def test_seed_on_postgres_equals_seed_on_sqlite(demo: Engine, pg_engine: Engine) -> None:
    report = seed(pg_engine, today=TODAY)
    assert report.seeded and report.counts["customers"] >= 68
    assert _dump(pg_engine) == _dump(demo)


def test_seed_twice_writes_nothing_the_second_time(db_engine_any: Engine) -> None:
    first = seed(db_engine_any, today=TODAY)
    second = seed(db_engine_any, today=TODAY)
    assert first.seeded and not second.seeded
    assert second.counts == first.counts


def test_reset_replaces_everything_with_fresh_demo_data(demo: Engine, db_engine: Engine) -> None:
    seed(db_engine, today=EARLY)
    with session_scope(db_engine) as session:
        session.add(Ticket(id="T-X", category="billing", summary="x", created_at=dt.datetime(2026, 1, 1)))

    report = seed(db_engine, today=TODAY, reset=True)

    assert report.seeded and report.counts["tickets"] == 0
    assert _dump(db_engine) == _dump(demo)


def test_seed_in_a_callers_session_leaves_the_commit_to_the_caller(db_engine: Engine) -> None:
    with session_scope(db_engine) as session:
        seed(session, today=TODAY)
        session.rollback()
    with session_scope(db_engine) as session:
        assert session.scalars(select(Customer)).first() is None


# --- showcase customers -------------------------------------------------------------------------------------


def _customer(engine: Engine, cid: str) -> tuple[Customer, list[Line], list[Bill]]:
    with session_scope(engine) as session:
        customer = session.get(Customer, cid)
        lines = list(session.scalars(select(Line).where(Line.customer_id == cid).order_by(Line.id)))
        bills = list(session.scalars(select(Bill).where(Bill.customer_id == cid).order_by(Bill.period)))
        for line in lines:
            _ = line.plan
        return customer, lines, bills


@pytest.mark.parametrize("engine_name", ["demo", "demo_early"])
def test_overdue_customer_owes_and_is_suspended_for_nonpayment(engine_name: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(engine_name)
    _, [line], bills = _customer(engine, "C-DEMO-OVERDUE")
    overdue = [b for b in bills if b.status == "overdue"]
    assert (line.status, line.suspend_reason) == ("suspended", "nonpayment")
    assert line.data_used_gb == 0
    # Due on the 25th of last month, unpaid; last month's bill joins it once its own due date has passed.
    assert len(overdue) == (2 if engine_name == "demo" else 1)
    assert all(b.due_date < (TODAY if engine_name == "demo" else EARLY) for b in overdue)


def test_roaming_customer_has_roaming_off_on_an_active_line(demo: Engine) -> None:
    _, [line], bills = _customer(demo, "C-DEMO-ROAMING")
    with session_scope(demo) as session:
        japan = [p for p in session.scalars(select(RoamingPass)) if "JP" in p.countries and p.days >= 4]
    assert line.status == "active" and not line.roaming_enabled and line.roaming_pass_id is None
    assert japan  # a pass long enough for the four-day trip exists
    assert all(b.status == "paid" for b in bills)


def test_lost_phone_customer_has_two_active_lines_and_instalments_left(demo: Engine) -> None:
    _, lines, _ = _customer(demo, "C-DEMO-LOST")
    assert [line.status for line in lines] == ["active", "active"]
    assert lines[0].contract_kind == "device_installment" and lines[0].device_installment_left > 0


@pytest.mark.parametrize("engine_name", ["demo", "demo_early"])
def test_contract_customer_selective_discount_ends_within_30_days(engine_name: str, request: pytest.FixtureRequest) -> None:
    today = TODAY if engine_name == "demo" else EARLY
    _, [line], _ = _customer(request.getfixturevalue(engine_name), "C-DEMO-CONTRACT")
    assert line.contract_kind == "selective_discount"
    assert today < line.contract_end <= today + dt.timedelta(days=30)
    payback, _ = policy.early_termination_amount(
        contract_kind=line.contract_kind, contract_start=line.contract_start, contract_end=line.contract_end,
        monthly_discount=line.monthly_discount, device_installment_left=line.device_installment_left, today=today)
    assert payback > 0


def _monthly_gb(engine: Engine, line_id: str) -> dict[str, float]:
    with session_scope(engine) as session:
        rows = dump_tables(session)["usage_daily"]
    out = defaultdict(int)
    for row in rows:
        if row["line_id"] == line_id:
            out[row["date"][:7]] += row["data_mb"]
    return {period: mb / 1024 for period, mb in out.items()}


def test_heavy_user_has_used_the_whole_small_allowance(demo: Engine) -> None:
    _, [line], bills = _customer(demo, "C-DEMO-HEAVY")
    cheapest_fee = min(p["monthly_fee"] for p in catalog()["plans"] if p["network"] == "5G")
    assert line.plan.data_gb is not None and line.plan.monthly_fee <= cheapest_fee + 10000
    assert line.data_used_gb >= line.plan.data_gb + line.data_refill_gb  # cap reached this month
    past = _monthly_gb(demo, line.id)
    assert all(past[p] > line.plan.data_gb for p in past_periods(TODAY))
    assert all(any(i["name"].startswith("데이터 충전") for i in b.items) for b in bills)


def test_light_user_pays_for_unlimited_data_but_uses_little(demo: Engine) -> None:
    _, [line], _ = _customer(demo, "C-DEMO-LIGHT")
    assert line.plan.data_gb is None
    assert line.plan.monthly_fee == max(p["monthly_fee"] for p in catalog()["plans"])
    assert all(gb < 2 for gb in _monthly_gb(demo, line.id).values())


def test_outage_customer_lives_in_an_area_with_an_active_outage(demo: Engine) -> None:
    customer, [line], _ = _customer(demo, "C-DEMO-OUTAGE")
    with session_scope(demo) as session:
        outages = active_outages(session, area_of(customer.address))
        other = active_outages(session, area_of(_customer(demo, "C-DEMO-MMS")[0].address))
    assert [o.id for o in outages] == ["O-DEMO-ACTIVE"] and outages[0].service == "data"
    assert outages[0].started_at <= dt.datetime.combine(TODAY, dt.time(12)) <= outages[0].expected_end
    assert line.status == "active" and other == []


def test_mms_customer_line_is_not_provisioned_for_mms(demo: Engine) -> None:
    _, [line], _ = _customer(demo, "C-DEMO-MMS")
    assert line.status == "active" and line.mms_enabled is False
    with session_scope(demo) as session:
        unprovisioned = session.scalars(select(Line.id).where(Line.mms_enabled.is_(False))).all()
    assert unprovisioned == ["L-DEMO-MMS"]


def test_docs_list_every_showcase_customer_with_phone_and_birth_date(data: dict) -> None:
    text = DOCS.read_text(encoding="utf-8")
    for customer in data["customers"]:
        if customer["id"].startswith(SHOWCASE_PREFIX):
            row = next(line for line in text.splitlines() if f"`{customer['id']}`" in line)
            for fact in (customer["name"], customer["phone"], customer["birth_date"]):
                assert fact in row, (customer["id"], fact)


def test_docs_plan_table_matches_the_catalogue() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for plan in catalog()["plans"]:
        row = next(line for line in text.splitlines() if f"`{plan['id']}`" in line)
        assert plan["name"] in row and f"{plan['monthly_fee']:,}" in row


# --- CLI ----------------------------------------------------------------------------------------------------


def test_seed_command_prints_counts_and_is_idempotent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sangdam.cli import app

    monkeypatch.setenv("SANGDAM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SANGDAM_TODAY", TODAY.isoformat())
    reset_settings()
    try:
        first = CliRunner().invoke(app, ["seed"])
        second = CliRunner().invoke(app, ["seed"])
    finally:
        reset_settings()
    assert first.exit_code == 0, first.output
    assert "customers" in first.output and "usage_daily" in first.output and "seeded" in first.output
    assert second.exit_code == 0 and "already present" in second.output
    engine = make_engine(f"sqlite:///{tmp_path / 'home' / 'sangdam.db'}")
    with session_scope(engine) as session:
        assert session.scalar(select(Plan.id).where(Plan.id == "P-5G-SIG")) == "P-5G-SIG"
    engine.dispose()
