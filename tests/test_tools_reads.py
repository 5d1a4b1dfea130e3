"""Read tools: identity, usage, recommendations, diagnostics, outages, roaming passes, bills."""

from __future__ import annotations

import datetime as dt

import pytest
from tools_fixtures import audit_rows, ctx_for, world, world_template  # noqa: F401 - fixtures

from sangdam.domain import policy
from sangdam.domain.db import session_scope
from sangdam.domain.models import Customer, Line, Outage, UsageDaily
from sangdam.tools import ToolError, get_tool


def run(engine, name, customer="C-A", **args):  # noqa: ANN001, ANN201
    return get_tool(name).run(ctx_for(engine, customer), args)


def update(engine, model, ident, **values) -> None:  # noqa: ANN001
    with session_scope(engine) as session:
        obj = session.get(model, ident)
        for key, value in values.items():
            setattr(obj, key, value)


# --- verify_identity ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("phone", ["010-1111-2222", "01011112222", "+82 10-1111-2222", "+821011112222",
                                   "010 1111 2222"])
@pytest.mark.parametrize("birth", ["1985-03-14", "19850314", "850314", "1985.03.14"])
def test_verify_identity_accepts_common_formats(world, phone, birth):
    result = run(world, "verify_identity", None, phone=phone, birth_date=birth)
    assert result.verified and result.customer_id == "C-A"


def test_verify_identity_matches_digits_only_stored_phone(world):
    update(world, Customer, "C-A", phone="01011112222")
    assert run(world, "verify_identity", None, phone="010-1111-2222", birth_date="1985-03-14").verified


def test_verify_identity_fails_on_wrong_birth_date_without_revealing_anything(world):
    result = run(world, "verify_identity", None, phone="010-1111-2222", birth_date="1985-03-15")
    assert result.model_dump() == {"verified": False, "customer_id": None, "customer_name": None}


def test_verify_identity_rejects_malformed_phone(world):
    with pytest.raises(ToolError) as info:
        run(world, "verify_identity", None, phone="12345", birth_date="1985-03-14")
    assert info.value.code == "invalid_args" and "휴대폰 번호" in info.value.message_ko


def test_verify_identity_closes_a_conversation_after_repeated_failures(world):
    # the throttles in detail (source, number, agents): tests/test_identity_throttle.py
    for _ in range(policy.IDENTITY_CONVERSATION_MAX_FAILURES):
        assert not run(world, "verify_identity", None, phone="01011112222", birth_date="2000-01-01").verified
    with pytest.raises(ToolError) as info:  # even the right birth date is refused in this conversation now
        run(world, "verify_identity", None, phone="01011112222", birth_date="1985-03-14")
    assert info.value.code == "verification_closed"
    assert all("phone" not in row.args for row in audit_rows(world, "verify_identity"))  # no PII in the audit log


# --- data usage --------------------------------------------------------------------------------------------
def test_data_usage_counts_refills_in_the_allowance(world):
    run(world, "refill_data", line_id="L-A1", gb=2)
    usage = run(world, "get_data_usage", line_id="L-A1")
    assert (usage.used_gb, usage.allowance_gb, usage.remaining_gb) == (10.5, 14.0, 3.5)
    assert not usage.throttled and usage.refill_available_gb == 8
    assert usage.cycle_end == dt.date(2026, 11, 30) and usage.days_left_in_cycle == 2
    assert [(m.period, m.data_gb) for m in usage.last_months] == [("2026-08", 8.0), ("2026-09", 9.0), ("2026-10", 10.0)]


def test_data_usage_reports_throttling_at_the_cap(world):
    update(world, Line, "L-A1", data_used_gb=12.0)
    usage = run(world, "get_data_usage", line_id="L-A1")
    assert usage.throttled and usage.remaining_gb == 0 and usage.throttle_kbps == 1000


def test_unlimited_plan_usage_has_no_allowance(world):
    usage = run(world, "get_data_usage", line_id="L-A2")
    assert usage.unlimited and usage.allowance_gb is None and usage.refill_available_gb == 0


# --- recommend_plans ---------------------------------------------------------------------------------------
def test_heavy_user_gets_bigger_plans_cheapest_first(world):
    with session_scope(world) as s:  # October jumps to 30 GB: 5G 슬림 (12 GB) no longer fits
        for row in s.query(UsageDaily).filter(UsageDaily.line_id == "L-A1", UsageDaily.date >= dt.date(2026, 10, 1)):
            row.data_mb = 1000
    rec = run(world, "recommend_plans", line_id="L-A1")
    assert not rec.current_plan_fits and rec.max_monthly_gb > 12
    assert [r.plan.id for r in rec.recommendations] == ["P-5G-STD", "P-5G-PREM", "P-5G-SIG"]
    assert rec.recommendations[0].monthly_saving_krw == 55000 - 69000


def test_light_user_gets_cheaper_plans_with_switch_cost(world):
    update(world, Line, "L-A1", plan_id="P-5G-STD")
    rec = run(world, "recommend_plans", line_id="L-A1")
    assert rec.current_plan_fits and rec.avg_monthly_gb == 9.0 and rec.max_monthly_gb == 10.0
    assert [r.plan.id for r in rec.recommendations] == ["P-5G-SLIM"]  # 5G 라이트 (6 GB) is too small
    best = rec.recommendations[0]
    assert best.monthly_saving_krw == 14000
    assert best.switch_cost_krw == 55000  # selective discount, 8 months in: 8 × 13,750 × 50%
    assert best.break_even_months == 4 and best.first_year_saving_krw == 12 * 14000 - 55000


def test_recommendation_needs_usage_history(world):
    with session_scope(world) as s:
        s.query(UsageDaily).delete()
    with pytest.raises(ToolError) as info:
        run(world, "recommend_plans", line_id="L-A1")
    assert info.value.code == "insufficient_usage_data"


# --- diagnostics and outages -------------------------------------------------------------------------------
def test_diagnostics_report_outage_at_the_customers_address(world):
    diag = run(world, "check_line_diagnostics", line_id="L-A1")
    assert [o.id for o in diag.outages] == ["O-1"] and diag.findings == ["outage_in_area"]
    assert not diag.data_cap_reached and diag.throttle_kbps is None and diag.mms_enabled


def test_diagnostics_list_every_problem_most_blocking_first(world):
    update(world, Line, "L-B1", data_used_gb=4.0, mms_enabled=False)
    diag = run(world, "check_line_diagnostics", "C-B", line_id="L-B1")
    assert diag.findings == ["line_suspended", "overdue_bill", "data_cap_reached", "mms_disabled"]
    assert diag.suspend_reason == "nonpayment" and diag.throttle_kbps == 400
    assert [b.id for b in diag.overdue_bills] == ["B-B1-09", "B-B1-10"] and diag.outages == []


def test_resolved_and_future_outages_are_not_active(world):
    with session_scope(world) as s:
        s.add(Outage(id="O-3", area="서울 강남구", service="voice", started_at=dt.datetime(2026, 12, 2, 1, 0),
                     resolved=False, description="예정 작업"))
    assert [o.id for o in run(world, "get_outages", None).outages] == ["O-1"]


@pytest.mark.parametrize(("area", "ids"), [("강남", ["O-1"]), ("서울특별시 강남구", ["O-1"]), ("부산", []), (None, ["O-1"])])
def test_outages_filter_by_area(world, area, ids):
    args = {"area": area} if area else {}
    assert [o.id for o in run(world, "get_outages", None, **args).outages] == ids


# --- roaming passes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("country", ["JP", "jp", "일본", "Japan", "japan"])
def test_roaming_passes_accept_code_or_name(world, country):
    result = run(world, "list_roaming_passes", None, country=country)
    assert result.country == "JP" and result.country_name == "일본"
    assert result.passes[0].id == "R-JP3"
    assert [p.price_krw for p in result.passes] == sorted(p.price_krw for p in result.passes)


def test_roaming_passes_for_uncovered_country_are_empty(world):
    result = run(world, "list_roaming_passes", None, country="몽골")
    assert result.country == "MN" and result.passes == []


def test_unknown_country_is_a_clear_error(world):
    with pytest.raises(ToolError) as info:
        run(world, "list_roaming_passes", None, country="나니아")
    assert info.value.code == "unknown_country" and "나니아" in info.value.message_ko


# --- bills -------------------------------------------------------------------------------------------------
def test_explain_bill_lists_differences_from_previous_month(world):
    exp = run(world, "explain_bill", bill_id="B-A1-10")
    assert exp.previous_bill_id == "B-A1-09" and exp.difference_krw == 4400
    assert [(c.name, c.previous_amount_krw, c.difference_krw) for c in exp.changes] == [("데이터 충전 2GB", None, 4400)]


def test_explain_first_bill_has_no_previous(world):
    exp = run(world, "explain_bill", bill_id="B-A1-09")
    assert exp.previous_bill_id is None and exp.difference_krw is None and exp.changes == []


def test_get_bills_filters_and_totals_overdue(world):
    bills = run(world, "get_bills", "C-B", status="overdue")
    assert [b.id for b in bills.bills] == ["B-B1-10", "B-B1-09"] and bills.total_overdue_krw == 66000
    assert [b.id for b in run(world, "get_bills", months=1).bills] == ["B-A1-10"]


def test_list_plans_is_sorted_and_filterable(world):
    plans = run(world, "list_plans", None, network="LTE").plans
    assert [p.network for p in plans] == ["LTE"] * 4
    assert [p.monthly_fee_krw for p in plans] == sorted(p.monthly_fee_krw for p in plans)
    assert plans[-1].unlimited and plans[-1].data_gb is None


def test_get_line_shows_pending_plan_change(world):
    run(world, "change_plan", line_id="L-A1", plan_id="P-5G-STD")
    line = run(world, "get_line", line_id="L-A1")
    assert line.pending_plan.id == "P-5G-STD" and line.pending_plan_effective_date == dt.date(2026, 12, 1)
