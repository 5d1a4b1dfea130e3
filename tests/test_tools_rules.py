"""Business rules enforced by the write tools (each test fails if its rule is removed)."""

from __future__ import annotations

import datetime as dt

import pytest
from tools_fixtures import TODAY, ctx_for, get, world_any  # noqa: F401 - pytest fixture

from sangdam.domain import policy
from sangdam.domain.db import session_scope
from sangdam.domain.models import Bill, Line, Ticket
from sangdam.tools import ToolError, get_tool


@pytest.fixture
def world(world_any):  # noqa: ANN001, ANN201 - every rule runs on SQLite and on PostgreSQL
    return world_any


def run(engine, name, customer="C-A", **args):  # noqa: ANN001, ANN201
    return get_tool(name).run(ctx_for(engine, customer), args)


def refused(engine, name, customer="C-A", **args) -> ToolError:  # noqa: ANN001
    with pytest.raises(ToolError) as info:
        run(engine, name, customer, **args)
    return info.value


def update(engine, model, ident, **values) -> None:  # noqa: ANN001
    with session_scope(engine) as session:
        obj = session.get(model, ident)
        for key, value in values.items():
            setattr(obj, key, value)


def current_bill(engine, line_id="L-A1") -> Bill | None:  # noqa: ANN001
    with session_scope(engine) as session:
        bill = session.query(Bill).filter_by(line_id=line_id, period=policy.period_of(TODAY)).one_or_none()
        session.expunge_all()
        return bill


# --- resume_line -------------------------------------------------------------------------------------------
def test_resume_refused_while_bill_overdue(world):
    err = refused(world, "resume_line", "C-B", line_id="L-B1")
    assert err.code == "overdue_bill"
    assert "66,000원" in err.message_ko and "납부" in err.message_ko
    assert get(world, Line, "L-B1").status == "suspended"


def test_resume_allowed_once_nothing_is_overdue(world):
    update(world, Line, "L-A1", status="suspended", suspend_reason="temporary")
    result = run(world, "resume_line", line_id="L-A1")
    assert result.status == "active" and result.old_status == "suspended"
    line = get(world, Line, "L-A1")
    assert line.status == "active" and line.suspend_reason is None


def test_resume_refused_on_active_line(world):
    assert refused(world, "resume_line", line_id="L-A1").code == "line_not_suspended"


def test_resume_lifts_lost_status(world):
    update(world, Line, "L-A1", status="lost", suspend_reason="lost")
    assert run(world, "resume_line", line_id="L-A1").status == "active"


# --- pay_bill ----------------------------------------------------------------------------------------------
def test_paying_every_overdue_bill_lifts_nonpayment_suspension(world):
    first = run(world, "pay_bill", "C-B", bill_id="B-B1-09")
    assert first.lines_resumed == [] and first.remaining_overdue_krw == 33000
    assert get(world, Line, "L-B1").status == "suspended"  # one overdue bill left
    second = run(world, "pay_bill", "C-B", bill_id="B-B1-10")
    assert second.lines_resumed == ["L-B1"] and second.remaining_overdue_krw == 0
    assert get(world, Bill, "B-B1-10").status == "paid"
    line = get(world, Line, "L-B1")
    assert line.status == "active" and line.suspend_reason is None


def test_paying_does_not_lift_a_suspension_the_customer_asked_for(world):
    update(world, Line, "L-B1", suspend_reason="military")
    run(world, "pay_bill", "C-B", bill_id="B-B1-09")
    run(world, "pay_bill", "C-B", bill_id="B-B1-10")
    assert get(world, Line, "L-B1").status == "suspended"


def test_paying_a_paid_bill_is_refused(world):
    err = refused(world, "pay_bill", bill_id="B-A1-09")
    assert err.code == "bill_already_paid" and "2026년 9월" in err.message_ko


# --- refill_data -------------------------------------------------------------------------------------------
def test_refill_charges_plan_price_to_a_new_current_month_bill(world):
    assert current_bill(world) is None
    result = run(world, "refill_data", line_id="L-A1", gb=3)
    assert result.charge_krw == 3 * 2200 and result.allowance_gb == 15.0
    bill = current_bill(world)
    assert bill.status == "issued" and bill.due_date == policy.due_date_for("2026-11") == dt.date(2026, 12, 25)
    assert bill.amount == 6600 and bill.items == [{"name": "데이터 충전 3GB", "amount": 6600}]
    assert get(world, Line, "L-A1").data_refill_gb == 3


def test_refill_adds_an_item_to_an_existing_current_bill(world):
    with session_scope(world) as session:
        session.add(Bill(id="B-A1-11", customer_id="C-A", line_id="L-A1", period="2026-11",
                         due_date=dt.date(2026, 12, 25), amount=55000, status="issued",
                         items=[{"name": "기본료", "amount": 55000}]))
    run(world, "refill_data", line_id="L-A1", gb=1)
    bill = get(world, Bill, "B-A1-11")
    assert bill.amount == 57200 and len(bill.items) == 2


@pytest.mark.parametrize("gb", [0, 6, -1])
def test_refill_outside_one_to_five_gb_is_refused(world, gb):
    err = refused(world, "refill_data", line_id="L-A1", gb=gb)
    assert err.code == "refill_amount_out_of_range" and "1GB부터 5GB까지" in err.message_ko


def test_refill_of_fractional_gb_is_invalid(world):
    err = refused(world, "refill_data", line_id="L-A1", gb=1.5)
    assert err.code == "invalid_args" and "'gb'" in err.message_en and "whole number" in err.message_en


def test_refill_monthly_limit_says_how_much_is_left(world):
    run(world, "refill_data", line_id="L-A1", gb=5)
    run(world, "refill_data", line_id="L-A1", gb=4)
    err = refused(world, "refill_data", line_id="L-A1", gb=2)
    assert err.code == "refill_limit_exceeded" and err.details["available_gb"] == 1
    assert "1GB" in err.message_ko and "10GB" in err.message_ko
    assert run(world, "refill_data", line_id="L-A1", gb=1).refill_available_gb == 0
    assert current_bill(world).amount == 10 * 2200


def test_refill_refused_on_unlimited_plan(world):
    err = refused(world, "refill_data", line_id="L-A2", gb=1)
    assert err.code == "unlimited_plan" and "5G 프리미엄" in err.message_ko
    assert current_bill(world, "L-A2") is None


def test_refill_refused_on_suspended_line(world):
    update(world, Line, "L-A1", status="suspended", suspend_reason="temporary")
    assert refused(world, "refill_data", line_id="L-A1", gb=1).code == "line_not_active"


# --- roaming -----------------------------------------------------------------------------------------------
def test_roaming_pass_price_is_added_to_current_bill(world):
    result = run(world, "enable_roaming", line_id="L-A1", pass_id="R-JP3")
    assert result.roaming_enabled and result.charge_krw == 13200
    line = get(world, Line, "L-A1")
    assert line.roaming_enabled and line.roaming_pass_id == "R-JP3"
    assert current_bill(world).items == [{"name": "로밍 패스 일본 3일", "amount": 13200}]


def test_roaming_without_pass_charges_nothing(world):
    result = run(world, "enable_roaming", line_id="L-A1")
    assert result.charge_krw == 0 and result.bill_id is None and current_bill(world) is None
    assert refused(world, "enable_roaming", line_id="L-A1").code == "roaming_already_enabled"


def test_enable_roaming_only_on_active_lines(world):
    update(world, Line, "L-A1", status="lost", suspend_reason="lost")
    err = refused(world, "enable_roaming", line_id="L-A1", pass_id="R-JP3")
    assert err.code == "line_not_active" and "분실 정지" in err.message_ko


def test_enable_roaming_refused_while_bill_overdue(world):
    update(world, Line, "L-B1", status="active", suspend_reason=None)
    assert refused(world, "enable_roaming", "C-B", line_id="L-B1").code == "overdue_bill"


def test_same_active_pass_is_not_bought_twice(world):
    run(world, "enable_roaming", line_id="L-A1", pass_id="R-JP3")
    assert refused(world, "enable_roaming", line_id="L-A1", pass_id="R-JP3").code == "roaming_pass_already_active"
    assert current_bill(world).amount == 13200


def test_unknown_pass_is_not_found(world):
    assert refused(world, "enable_roaming", line_id="L-A1", pass_id="R-NOPE").code == "not_found"


def test_disable_roaming_clears_pass_and_refuses_when_off(world):
    assert refused(world, "disable_roaming", line_id="L-A1").code == "roaming_not_enabled"
    run(world, "enable_roaming", line_id="L-A1", pass_id="R-JP3")
    run(world, "disable_roaming", line_id="L-A1")
    line = get(world, Line, "L-A1")
    assert not line.roaming_enabled and line.roaming_pass_id is None


# --- change_plan -------------------------------------------------------------------------------------------
def test_change_plan_defaults_to_next_cycle(world):
    result = run(world, "change_plan", line_id="L-A1", plan_id="P-5G-STD")
    assert result.effective == "next_cycle" and result.effective_date == dt.date(2026, 12, 1)
    line = get(world, Line, "L-A1")
    assert line.plan_id == "P-5G-SLIM" and line.pending_plan_id == "P-5G-STD"
    assert current_bill(world) is None  # an upgrade next cycle costs nothing now


def test_immediate_change_switches_now_and_bills_prorated_difference(world):
    result = run(world, "change_plan", line_id="L-A1", plan_id="P-5G-STD", effective="immediate")
    expected = policy.prorated_difference(55000, 69000, TODAY)
    assert expected == round(14000 * 2 / 30) and result.prorated_charge_krw == expected
    line = get(world, Line, "L-A1")
    assert line.plan_id == "P-5G-STD" and line.pending_plan_id is None
    assert current_bill(world).items[0]["amount"] == expected


def test_immediate_downgrade_credits_the_difference(world):
    update(world, Line, "L-A1", contract_kind="none")
    result = run(world, "change_plan", line_id="L-A1", plan_id="P-5G-LITE", effective="immediate")
    assert result.prorated_charge_krw == policy.prorated_difference(55000, 45000, TODAY) < 0
    assert current_bill(world).amount == result.prorated_charge_krw


def test_downgrade_during_selective_discount_charges_payback(world):
    result = run(world, "change_plan", line_id="L-A1", plan_id="P-5G-LITE")
    # 8 months elapsed (2026-03-01 → 2026-11-29): 8 × 13,750 × 50%
    assert result.switch_cost_krw == 55000
    assert current_bill(world).items == [{"name": "선택약정 할인 반환금 (요금제 변경)", "amount": 55000}]


def test_downgrade_taking_effect_after_the_contract_ends_owes_no_payback(world):
    # contract ends 2026-11-30, the next-cycle change applies 2026-12-01: the discount is no longer owed back
    update(world, Line, "L-A1", contract_end=dt.date(2026, 11, 30))
    result = run(world, "change_plan", line_id="L-A1", plan_id="P-5G-LITE")
    assert result.effective == "next_cycle" and result.switch_cost_krw == 0
    assert current_bill(world) is None or current_bill(world).items == []
    # applied today, inside the contract, the payback is still owed
    update(world, Line, "L-A1", pending_plan_id=None)
    assert run(world, "change_plan", line_id="L-A1", plan_id="P-5G-LITE", effective="immediate").switch_cost_krw > 0


def test_change_plan_only_on_active_lines(world):
    assert refused(world, "change_plan", "C-B", line_id="L-B1", plan_id="P-LTE-PLUS").code == "line_not_active"
    assert get(world, Line, "L-B1").plan_id == "P-LTE-BASIC"


def test_change_to_the_same_plan_is_refused(world):
    assert refused(world, "change_plan", line_id="L-A1", plan_id="P-5G-SLIM").code == "same_plan"


def test_scheduling_the_same_pending_change_twice_is_refused(world):
    run(world, "change_plan", line_id="L-A1", plan_id="P-5G-STD")
    assert refused(world, "change_plan", line_id="L-A1", plan_id="P-5G-STD").code == "plan_change_already_pending"


def test_change_to_unknown_plan_is_not_found(world):
    assert refused(world, "change_plan", line_id="L-A1", plan_id="P-NOPE").code == "not_found"


# --- suspend_line ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("reason", "status"), [("lost", "lost"), ("temporary", "suspended"), ("military", "suspended")])
def test_suspend_sets_status_and_reason(world, reason, status):
    result = run(world, "suspend_line", line_id="L-A1", reason=reason)
    assert result.status == status
    line = get(world, Line, "L-A1")
    assert (line.status, line.suspend_reason) == (status, reason)


def test_suspend_with_unknown_reason_is_invalid(world):
    err = refused(world, "suspend_line", line_id="L-A1", reason="vacation")
    assert err.code == "invalid_args" and "reason" in err.message_en and "정지 사유" in err.message_ko


def test_suspending_a_suspended_line_is_refused(world):
    assert refused(world, "suspend_line", "C-B", line_id="L-B1", reason="temporary").code == "line_already_suspended"


# --- contracts and cancellation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "share"),
    [(dt.date(2026, 6, 1), 1.0), (dt.date(2026, 3, 1), 0.5), (dt.date(2025, 6, 1), 0.3)],
)
def test_contract_early_termination_follows_schedule(world, start, share):
    update(world, Line, "L-A1", contract_start=start, contract_end=dt.date(2027, 12, 1))
    info = run(world, "get_contract", line_id="L-A1")
    received = 13750 * policy.months_elapsed(start, TODAY)
    assert info.discount_payback_krw == round(received * share)
    assert info.early_termination_total_krw == info.discount_payback_krw + 300000


def test_no_discount_payback_after_contract_end(world):
    update(world, Line, "L-A1", contract_end=dt.date(2026, 11, 1))
    info = run(world, "get_contract", line_id="L-A1")
    assert info.discount_payback_krw == 0 and info.early_termination_total_krw == 300000


def test_cancellation_opens_ticket_with_amount_and_never_closes_the_line(world):
    result = run(world, "request_cancellation", line_id="L-A1")
    assert result.early_termination_total_krw == 355000 and result.handed_off
    ticket = get(world, Ticket, result.ticket_id)
    assert ticket.category == "cancellation" and ticket.status == "open" and "355,000원" in ticket.summary
    assert get(world, Line, "L-A1").status == "active"
    assert refused(world, "request_cancellation", line_id="L-A1").code == "cancellation_already_requested"


def test_transfer_to_human_opens_handoff_ticket_without_identity(world):
    result = get_tool("transfer_to_human").run(ctx_for(world, None), {"summary": "요금 문의, 상담사 요청"})
    ticket = get(world, Ticket, result.ticket_id)
    assert ticket.category == "handoff" and ticket.customer_id is None and result.handed_off


def test_create_ticket_checks_line_ownership(world):
    assert refused(world, "create_ticket", category="tech_support", summary="x", line_id="L-B1").code == "not_found"
    result = run(world, "create_ticket", category="tech_support", summary="MMS 수신 불가", line_id="L-A1")
    assert get(world, Ticket, result.ticket_id).line_id == "L-A1"
