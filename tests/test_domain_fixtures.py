"""Scenario fixtures load into the domain tables with defaults, and bad data is refused naming the field."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest
import yaml
from sqlalchemy import Engine, select

from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import FixtureError, check_references, load_fixtures, parse_fixtures
from sangdam.domain.models import Bill, Customer, Line, Outage, Plan, RoamingPass, Ticket, UsageDaily
from sangdam.domain.seed import catalog_fixtures

# The fixtures block of the example scenario in issue 7 / docs/scenarios.md, as YAML parses it.
ISSUE_EXAMPLE = textwrap.dedent(
    """
    today: 2026-11-15
    plans: [{id: P-5G-59, name: 5G 슬림, network: 5G, monthly_fee: 59000, data_gb: 12,
             throttle_kbps: 1000, refill_price_per_gb: 2200}]
    roaming_passes: [{id: R-ASIA5, name: 아시아 5일, days: 5, data_gb: 3, price: 19800, countries: [JP, CN]}]
    customers:
      - {id: C1, name: 김하늘, birth_date: 1990-04-12, phone: 010-2222-3333,
         lines: [{id: L1, number: 010-2222-3333, plan_id: P-5G-59, status: active, roaming_enabled: false,
                  data_used_gb: 4.5}],
         bills: [{id: B1, line_id: L1, period: 2026-10, due_date: 2026-11-25, amount: 61200, status: issued,
                  items: [{name: 월정액, amount: 59000}, {name: 부가서비스, amount: 2200}]}],
         usage_daily: [{line_id: L1, date: 2026-10-15, data_mb: 350, voice_min: 12, sms: 3}]}
    """
)


def _example() -> dict:
    return yaml.safe_load(ISSUE_EXAMPLE)


def _minimal_customer(**extra) -> dict:
    return {"id": "C1", "name": "김하늘", "birth_date": "1990-04-12", "phone": "010-2222-3333",
            "lines": [{"id": "L1", "plan_id": "P-5G-59"}], **extra}


def _problem_paths(exc: pytest.ExceptionInfo[FixtureError]) -> list[str]:
    return [path for path, _ in exc.value.problems]


def test_issue_example_loads_with_exact_field_values(db_engine_any: Engine) -> None:
    with session_scope(db_engine_any) as session:
        load_fixtures(session, _example())

    with session_scope(db_engine_any) as session:
        plan = session.get(Plan, "P-5G-59")
        line = session.get(Line, "L1")
        bill = session.get(Bill, "B1")
        usage = session.get(UsageDaily, ("L1", dt.date(2026, 10, 15)))
        roaming = session.get(RoamingPass, "R-ASIA5")
        assert (plan.monthly_fee, plan.data_gb, plan.throttle_kbps, plan.refill_price_per_gb) == (59000, 12, 1000, 2200)
        assert (line.customer_id, line.number, line.status, line.roaming_enabled, line.data_used_gb) == (
            "C1", "010-2222-3333", "active", False, 4.5)
        assert (bill.customer_id, bill.period, bill.due_date, bill.amount, bill.status) == (
            "C1", "2026-10", dt.date(2026, 11, 25), 61200, "issued")
        assert bill.items == [{"name": "월정액", "amount": 59000}, {"name": "부가서비스", "amount": 2200}]
        assert (usage.data_mb, usage.voice_min, usage.sms) == (350, 12, 3)
        assert roaming.countries == ["JP", "CN"]
        assert session.get(Customer, "C1").birth_date == dt.date(1990, 4, 12)


def test_omitted_fields_get_documented_defaults(db_engine: Engine) -> None:
    data = {
        "plans": [{"id": "P-5G-59", "name": "5G 슬림", "network": "5G", "monthly_fee": 59000, "data_gb": None}],
        "customers": [_minimal_customer(bills=[{"period": "2026-10", "items": [{"name": "월정액", "amount": 59000}]}],
                                        usage_daily=[{"date": "2026-10-01", "data_mb": 10}])],
        "tickets": [{"id": "T1", "customer_id": "C1", "category": "network"}],
    }
    with session_scope(db_engine) as session:
        load_fixtures(session, data, today=dt.date(2026, 11, 15))

    with session_scope(db_engine) as session:
        plan = session.get(Plan, "P-5G-59")
        line = session.get(Line, "L1")
        bill = session.scalars(select(Bill)).one()
        assert plan.data_gb is None and plan.refill_price_per_gb == 0 and plan.description == ""
        assert line.number == "010-2222-3333"  # the customer's phone
        assert (line.status, line.contract_kind, line.roaming_enabled, line.mms_enabled) == ("active", "none", False, True)
        assert (line.data_used_gb, line.monthly_discount, line.device_installment_left) == (0.0, 0, 0)
        assert (bill.id, bill.line_id, bill.amount, bill.status) == ("B-L1-202610", "L1", 59000, "issued")
        assert bill.due_date == dt.date(2026, 11, 25)  # policy.due_date_for
        assert session.get(UsageDaily, ("L1", dt.date(2026, 10, 1))).data_mb == 10
        assert session.get(Customer, "C1").created_at == dt.datetime(2020, 1, 1)
        ticket = session.get(Ticket, "T1")
        assert (ticket.status, ticket.created_at) == ("open", dt.datetime(2026, 11, 15, 9))


def test_dates_accept_iso_strings_and_date_objects_alike() -> None:
    as_text = parse_fixtures({"outages": [{"id": "O1", "area": "서울 관악구", "started_at": "2026-11-15T07:00:00"}],
                              "customers": [_minimal_customer()]})
    as_dates = parse_fixtures({"outages": [{"id": "O1", "area": "서울 관악구", "started_at": dt.date(2026, 11, 15)}],
                               "customers": [_minimal_customer(birth_date=dt.date(1990, 4, 12))]})
    assert as_text.customers[0].birth_date == as_dates.customers[0].birth_date == dt.date(1990, 4, 12)
    assert as_dates.outages[0].started_at == dt.datetime(2026, 11, 15)


def test_invalid_values_are_reported_with_their_field_paths() -> None:
    data = _example()
    data["customers"][0]["lines"][0]["status"] = "frozen"
    data["customers"][0]["bills"][0]["period"] = "2026-13"
    data["plans"][0]["monthly_fees"] = 1  # typo of monthly_fee
    data["customers"][0]["phone"] = 1022223333  # YAML read an unquoted number

    with pytest.raises(FixtureError) as exc:
        parse_fixtures(data)

    paths = _problem_paths(exc)
    assert "customers[0].lines[0].status" in paths
    assert "customers[0].bills[0].period" in paths
    assert "plans[0].monthly_fees" in paths
    assert "customers[0].phone" in paths
    assert "customers[0].lines[0].status" in str(exc.value)


def test_bill_amount_that_differs_from_its_items_is_refused() -> None:
    data = _example()
    data["customers"][0]["bills"][0]["amount"] = 60000

    with pytest.raises(FixtureError) as exc:
        parse_fixtures(data)

    assert _problem_paths(exc) == ["customers[0].bills[0]"]
    assert "61200" in str(exc.value)


def test_broken_references_name_the_field_and_nothing_is_written(db_engine: Engine) -> None:
    data = _example()
    customer = data["customers"][0]
    customer["lines"].append({"id": "L2", "number": "010-2222-3333", "plan_id": "P-NOPE", "roaming_pass_id": "R-X"})
    customer["bills"][0]["line_id"] = "L9"
    data["tickets"] = [{"id": "T1", "customer_id": "C404", "category": "billing"}]

    with session_scope(db_engine) as session, pytest.raises(FixtureError) as exc:
        load_fixtures(session, data)

    problems = dict(exc.value.problems)
    assert "unknown plan 'P-NOPE'" in problems["customers[0].lines[1].plan_id"]
    assert "R-X" in problems["customers[0].lines[1].roaming_pass_id"]
    assert "duplicate line number" in problems["customers[0].lines[1].number"]
    assert "not one of this customer's lines" in problems["customers[0].bills[0].line_id"]
    assert "C404" in problems["tickets[0].customer_id"]
    with session_scope(db_engine) as session:
        assert session.scalars(select(Plan)).all() == []


def test_records_that_already_exist_are_refused(db_engine: Engine) -> None:
    with session_scope(db_engine) as session:
        load_fixtures(session, _example())

    with session_scope(db_engine) as session, pytest.raises(FixtureError) as exc:
        load_fixtures(session, _example())

    paths = _problem_paths(exc)
    assert {"customers[0].id", "customers[0].lines[0].id", "customers[0].lines[0].number",
            "customers[0].bills[0].id"} <= set(paths)


def test_scenario_plans_may_restate_the_catalogue_and_reference_it(db_engine_any: Engine) -> None:
    # A runner loads the catalogue first; a scenario then overrides one plan and uses another.
    override = {"id": "P-5G-SLIM", "name": "5G 슬림", "network": "5G", "monthly_fee": 50000, "data_gb": 12}
    customer = _minimal_customer(lines=[{"id": "L1", "plan_id": "P-LTE-MINI"}])
    with session_scope(db_engine_any) as session:
        load_fixtures(session, catalog_fixtures())
        load_fixtures(session, {"plans": [override], "customers": [customer]})

    with session_scope(db_engine_any) as session:
        assert session.get(Plan, "P-5G-SLIM").monthly_fee == 50000
        assert session.get(Line, "L1").plan_id == "P-LTE-MINI"
        assert len(session.scalars(select(Plan)).all()) == len(catalog_fixtures().plans)


def test_second_line_without_number_and_ambiguous_bill_line_are_errors() -> None:
    plan = {"id": "P", "name": "p", "network": "LTE", "monthly_fee": 1000, "data_gb": 1}
    customer = _minimal_customer(
        lines=[{"id": "L1", "plan_id": "P"}, {"id": "L2", "plan_id": "P"}],
        bills=[{"period": "2026-10", "amount": 1000}],
    )

    problems = dict(check_references(parse_fixtures({"plans": [plan], "customers": [customer]})))

    assert "customers[0].lines[1].number" in problems
    assert "more than one line" in problems["customers[0].bills[0].line_id"]


def test_outages_load_with_area_and_times(db_engine: Engine) -> None:
    data = {"outages": [{"id": "O1", "area": "서울 관악구", "service": "data", "started_at": "2026-11-15T07:00:00",
                         "expected_end": "2026-11-15T18:00:00"}]}
    with session_scope(db_engine) as session:
        load_fixtures(session, data)

    with session_scope(db_engine) as session:
        outage = session.get(Outage, "O1")
        assert (outage.area, outage.resolved, outage.expected_end) == ("서울 관악구", False, dt.datetime(2026, 11, 15, 18))


def test_fixtures_that_are_not_a_mapping_are_refused() -> None:
    with pytest.raises(FixtureError, match="mapping"):
        parse_fixtures(["plans"])  # type: ignore[arg-type]
