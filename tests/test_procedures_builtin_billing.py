"""billing.inquiry and billing.payment as data: the packaged procedures resources/procedures/billing_inquiry.yaml and
billing_payment.yaml serve them (no Python agent), their computation is the functions of
sangdam.procedures.functions.billing, and every reply is the templates the Python agent said (issue 13)."""

from __future__ import annotations

import copy
import importlib.util
from typing import Any

import pytest

from sangdam.agents.base import AgentContext
from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.domain.models import AuditLog, Bill, Line
from sangdam.orchestrator import Orchestrator
from sangdam.orchestrator.format import say
from sangdam.orchestrator.intents import agent_for
from sangdam.orchestrator.router import RouteResult
from sangdam.procedures.loader import ProcedureError, load_procedures
from orchestrator_fixtures import FIXTURES, TODAY

OVERDUE, ISSUED, PAID = (say(f"billing.status.{s}") for s in ("overdue", "issued", "paid"))


class Router:
    """Routes by keywords (first match wins): paying before asking."""

    RULES = {"자동이체": "billing.payment", "낼게": "billing.payment", "납부": "billing.payment",
             "요금": "billing.inquiry"}

    def route(self, text: str) -> RouteResult:
        if "충전" in text and "낼게" in text:  # "요금 낼게요 그리고 데이터 2기가 충전해줘"
            return RouteResult(intents=["billing.payment", "data.refill"], confidence=0.95, via="classifier")
        for word, intent in self.RULES.items():
            if word in text:
                return RouteResult(intents=[intent], confidence=0.95, via="classifier")
        return RouteResult(intents=["chitchat"], confidence=0.95, via="classifier")


def _bill(id_: str, line: str, period: str, due: str, status: str, *items: tuple[str, int]) -> dict[str, Any]:
    return {"id": id_, "line_id": line, "period": period, "due_date": due, "amount": sum(a for _, a in items),
            "status": status, "items": [{"name": n, "amount": a} for n, a in items]}


CUSTOMERS = [
    # two lines: 4444 active, 7777 suspended for two overdue bills; this month's bill of 4444 is accumulating
    {"id": "C3", "name": "이도윤", "birth_date": "1978-12-01", "phone": "010-3333-4444",
     "lines": [{"id": "L3A", "number": "010-3333-4444", "plan_id": "P-5G-59", "status": "active"},
               {"id": "L3B", "number": "010-3333-7777", "plan_id": "P-5G-59", "status": "suspended",
                "suspend_reason": "nonpayment"}],
     "bills": [_bill("B3A-09", "L3A", "2026-09", "2026-10-25", "paid", ("월정액", 59000)),
               _bill("B3A-10", "L3A", "2026-10", "2026-11-25", "issued", ("월정액", 59000), ("소액결제", 7700)),
               _bill("B3A-11", "L3A", "2026-11", "2026-12-25", "issued", ("월정액", 59000)),
               _bill("B3B-08", "L3B", "2026-08", "2026-09-25", "overdue", ("월정액", 30000)),
               _bill("B3B-09", "L3B", "2026-09", "2026-10-25", "overdue", ("월정액", 20000), ("부가서비스", 5000))]},
    {"id": "C4", "name": "최유나", "birth_date": "1995-02-28", "phone": "010-4444-5555",
     "lines": [{"id": "L4", "number": "010-4444-5555", "plan_id": "P-5G-59", "status": "active"}], "bills": []},
    # only this month's bill (a new line): shown, since the line has nothing older
    {"id": "C5", "name": "정민재", "birth_date": "1988-06-30", "phone": "010-5151-6262",
     "lines": [{"id": "L5", "number": "010-5151-6262", "plan_id": "P-5G-59", "status": "active"}],
     "bills": [_bill("B5-11", "L5", "2026-11", "2026-12-25", "issued", ("월정액", 12000))]},
    # everything paid, the same amount two months running
    {"id": "C6", "name": "한지우", "birth_date": "1970-03-03", "phone": "010-6666-7777",
     "lines": [{"id": "L6", "number": "010-6666-7777", "plan_id": "P-5G-59", "status": "active"}],
     "bills": [_bill("B6-09", "L6", "2026-09", "2026-10-25", "paid", ("월정액", 59000), ("부가서비스", 2200)),
               _bill("B6-10", "L6", "2026-10", "2026-11-25", "paid", ("월정액", 59000), ("부가서비스", 2200))]},
]


@pytest.fixture
def orch(db_engine) -> Orchestrator:  # noqa: ANN001
    fixtures = copy.deepcopy(FIXTURES)
    fixtures["customers"] += copy.deepcopy(CUSTOMERS)
    with session_scope(db_engine) as s:
        load_fixtures(s, fixtures)
    return Orchestrator(db_engine, today=TODAY, router=Router())


def _tools(result: Any, status: str = "ok") -> list[str]:
    return [c.name for c in result.tool_calls if c.status == status]


def _ask(orch: Orchestrator, customer: str, *texts: str) -> list[Any]:
    conv = orch.start_conversation(customer_id=customer)
    return [orch.handle(conv, text) for text in texts]


def _bill_status(orch: Orchestrator, bill_id: str) -> str:
    with session_scope(orch.engine) as s:
        return s.get(Bill, bill_id).status


def _line_status(orch: Orchestrator, line_id: str) -> str:
    with session_scope(orch.engine) as s:
        return s.get(Line, line_id).status


def _payments(orch: Orchestrator) -> int:
    with session_scope(orch.engine) as s:
        return s.query(AuditLog).filter(AuditLog.tool == "pay_bill", AuditLog.result["ok"].as_boolean()).count()


# -- served by procedures ---------------------------------------------------------------------------------------
def test_billing_intents_are_procedures_and_no_python_agent_is_left(orch: Orchestrator) -> None:
    assert agent_for("billing.inquiry") == agent_for("billing.payment") == "billing"  # the contract is unchanged
    agent = orch.agents["billing"]
    assert {i: p.procedure for i, p in agent.by_intent.items()} == {
        "billing.inquiry": "billing_inquiry", "billing.payment": "billing_payment"}
    assert type(agent.base).__name__ == "_Unserved" and importlib.util.find_spec("sangdam.agents.billing") is None
    assert set(agent.tools) == {"get_bills", "explain_bill", "pay_bill", "list_lines"}  # as the Python agent's
    programs = load_procedures()
    assert programs["billing_inquiry"].functions == ["billing_inquiry"]
    assert programs["billing_payment"].functions == ["billing_payable", "billing_resumed"]
    (proposed,) = _ask(orch, "C1", "요금 낼게요")
    assert proposed.pending_action["agent"] == "billing" and "_procedure" in proposed.pending_action["step"]["slots"]


# -- billing.inquiry ----------------------------------------------------------------------------------------------
def test_the_latest_bill_of_one_line(orch: Orchestrator) -> None:
    (bill,) = _ask(orch, "C1", "제 요금 얼마 나왔어요?")
    assert bill.reply.startswith(say("billing.bill", period="2026년 10월", amount="61,200원", due="2026년 11월 25일",
                                     status=ISSUED))
    assert "get_bills" in _tools(bill) and "explain_bill" not in _tools(bill) and bill.verifier.passed


def test_several_lines_explained_with_the_difference_and_the_overdue_total(orch: Orchestrator) -> None:
    (bill,) = _ask(orch, "C3", "요금 내역 자세히 알려줘")
    expected = [
        say("billing.bill_for_line", last4="7777", period="2026년 9월", amount="25,000원", due="2026년 10월 25일",
            status=OVERDUE),
        say("billing.items_header"), say("billing.item", name="월정액", amount="20,000원"),
        say("billing.item", name="부가서비스", amount="5,000원"),
        say("billing.diff_down", prev_period="2026년 8월", prev_amount="30,000원", diff="5,000원"),
        say("billing.changes_header"), say("billing.change_item", name="월정액", prev="30,000원", now="20,000원"),
        say("billing.change_item", name="부가서비스", prev="0원", now="5,000원"),
        # line 4444: October, not this month's accumulating bill
        say("billing.bill_for_line", last4="4444", period="2026년 10월", amount="66,700원", due="2026년 11월 25일",
            status=ISSUED),
        say("billing.items_header"), say("billing.item", name="월정액", amount="59,000원"),
        say("billing.item", name="소액결제", amount="7,700원"),
        say("billing.diff_up", prev_period="2026년 9월", prev_amount="59,000원", diff="7,700원"),
        say("billing.changes_header"), say("billing.change_item", name="소액결제", prev="0원", now="7,700원"),
        say("billing.overdue_total", amount="55,000원"),
    ]
    assert bill.reply.startswith("\n".join(expected)), bill.reply
    assert _tools(bill).count("explain_bill") == 2 and bill.verifier.passed


def test_a_named_month_gives_its_bills_and_no_overdue_total(orch: Orchestrator) -> None:
    (bill,) = _ask(orch, "C3", "9월 요금 알려줘")
    assert bill.reply.startswith("\n".join([
        say("billing.bill_for_line", last4="4444", period="2026년 9월", amount="59,000원", due="2026년 10월 25일",
            status=PAID),
        say("billing.bill_for_line", last4="7777", period="2026년 9월", amount="25,000원", due="2026년 10월 25일",
            status=OVERDUE)]) + "\n")
    assert say("billing.overdue_total", amount="55,000원") not in bill.reply
    (one,) = _ask(orch, "C3", "11월 요금 알려줘")  # this month's bill, asked for by name: one line's, no last 4
    assert one.reply.startswith(say("billing.bill", period="2026년 11월", amount="59,000원", due="2026년 12월 25일",
                                    status=ISSUED))


def test_this_months_bill_only_when_the_line_has_nothing_older(orch: Orchestrator) -> None:
    bill, why = _ask(orch, "C5", "제 요금 얼마 나왔어요?", "이번 달 요금 왜 이렇게 많이 나왔어요?")
    assert bill.reply.startswith(say("billing.bill", period="2026년 11월", amount="12,000원", due="2026년 12월 25일",
                                     status=ISSUED))
    # no previous bill: the items, and no difference
    assert why.reply.startswith("\n".join([say("billing.bill", period="2026년 11월", amount="12,000원",
                                                due="2026년 12월 25일", status=ISSUED),
                                           say("billing.items_header"),
                                           say("billing.item", name="월정액", amount="12,000원")]))
    assert "지난달" not in why.reply and why.verifier.passed


def test_the_same_amount_as_last_month(orch: Orchestrator) -> None:
    (why,) = _ask(orch, "C6", "요금 왜 이렇게 많이 나왔어요?")
    assert why.reply.startswith("\n".join([
        say("billing.bill", period="2026년 10월", amount="61,200원", due="2026년 11월 25일", status=PAID),
        say("billing.items_header"), say("billing.item", name="월정액", amount="59,000원"),
        say("billing.item", name="부가서비스", amount="2,200원"),
        say("billing.diff_same", prev_period="2026년 9월")]))
    assert say("billing.changes_header") not in why.reply


def test_the_overdue_question_none_overdue_and_no_bills(orch: Orchestrator) -> None:
    (overdue,) = _ask(orch, "C3", "미납 요금 있어요?")
    assert overdue.reply.startswith("\n".join([
        say("billing.overdue_total", amount="55,000원"),
        say("billing.pay_item", period="2026년 8월", amount="30,000원", status=OVERDUE),
        say("billing.pay_item", period="2026년 9월", amount="25,000원", status=OVERDUE)]))
    assert "explain_bill" not in _tools(overdue) and overdue.verifier.passed
    (none,) = _ask(orch, "C6", "밀린 요금 있어요?")
    assert none.reply.startswith(say("billing.no_overdue"))
    (empty,) = _ask(orch, "C4", "제 요금 얼마 나왔어요?")
    assert empty.reply.startswith(say("billing.no_bills"))


# -- billing.payment ------------------------------------------------------------------------------------------------
def test_a_change_of_payment_method_is_no_payment(orch: Orchestrator) -> None:
    (method,) = _ask(orch, "C1", "자동이체 카드 바꾸고 싶어요")
    assert method.reply.startswith(say("billing.payment_method"))
    assert method.pending_action is None and "get_bills" not in _tools(method)


def test_nothing_to_pay(orch: Orchestrator) -> None:
    (nothing,) = _ask(orch, "C6", "요금 낼게요")
    assert nothing.reply.startswith(say("billing.nothing_to_pay")) and nothing.pending_action is None


def test_every_unpaid_bill_in_one_proposal_then_paid_and_the_line_resumed(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C3")
    proposed = orch.handle(conv, "요금 낼게요")
    summary = "\n".join([
        say("billing.pay_proposal", total="180,700원"),
        say("billing.pay_item", period="2026년 8월", amount="30,000원", status=OVERDUE),
        say("billing.pay_item", period="2026년 9월", amount="25,000원", status=OVERDUE),
        say("billing.pay_item", period="2026년 10월", amount="66,700원", status=ISSUED),
        say("billing.pay_item", period="2026년 11월", amount="59,000원", status=ISSUED)])
    assert proposed.pending_action["summary_ko"] == summary and proposed.reply.startswith(summary)
    assert [c["args"]["bill_id"] for c in proposed.pending_action["calls"]] == ["B3B-08", "B3B-09", "B3A-10", "B3A-11"]
    assert _tools(proposed, "proposed") == ["pay_bill"] * 4 and "pay_bill" not in _tools(proposed)
    assert proposed.verifier.passed  # the total is a sum computed in code: a fact
    restarted = Orchestrator(orch.engine, today=TODAY, router=Router())  # a restart between the two turns
    done = restarted.handle(conv, "네")
    assert done.reply == "\n".join([
        say("billing.paid", period="2026년 8월", amount="30,000원"),
        say("billing.paid", period="2026년 9월", amount="25,000원"),
        say("billing.paid", period="2026년 10월", amount="66,700원"),
        say("billing.paid", period="2026년 11월", amount="59,000원"),
        say("billing.resumed", last4="7777")])
    assert _tools(done) == ["pay_bill"] * 4 + ["list_lines"] and done.verifier.passed
    assert _line_status(orch, "L3B") == "active" and _bill_status(orch, "B3A-11") == "paid"


def test_a_named_month_or_the_overdue_ones_only_and_no_resumption_while_one_is_left(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C3")
    october = orch.handle(conv, "10월 요금만 낼게요")
    assert [c["args"]["bill_id"] for c in october.pending_action["calls"]] == ["B3A-10"]
    assert october.reply.startswith("\n".join([say("billing.pay_proposal", total="66,700원"), say(
        "billing.pay_item", period="2026년 10월", amount="66,700원", status=ISSUED)]))
    assert orch.handle(conv, "아니요").pending_action is None and _bill_status(orch, "B3A-10") == "issued"
    overdue = orch.handle(conv, "밀린 요금 낼게요")
    assert [c["args"]["bill_id"] for c in overdue.pending_action["calls"]] == ["B3B-08", "B3B-09"]
    august = orch.handle(orch.start_conversation(customer_id="C3"), "8월 요금만 낼게요")
    assert [c["args"]["bill_id"] for c in august.pending_action["calls"]] == ["B3B-08"]
    conv = orch.start_conversation(customer_id="C3")
    orch.handle(conv, "8월 요금만 낼게요")
    paid = orch.handle(conv, "네")
    assert paid.reply == say("billing.paid", period="2026년 8월", amount="30,000원")
    assert "list_lines" not in _tools(paid) and _line_status(orch, "L3B") == "suspended"  # September is left


def test_the_resumed_line_is_said_with_its_payment_before_a_bundled_task(orch: Orchestrator) -> None:
    """What follows the payment's commit without asking anything (the lines it resumed: a computation on the
    results, list_lines read) is said in the commit's own part of the reply, before the next proposal's."""
    conv = orch.start_conversation(customer_id="C3")
    proposed = orch.handle(conv, "밀린 요금 낼게요 그리고 데이터 2기가 충전해줘")
    assert _tools(proposed, "proposed") == ["pay_bill", "pay_bill", "refill_data"]
    done = orch.handle(conv, "네")
    resumed = say("billing.resumed", last4="7777")
    assert done.reply.startswith("\n".join([say("billing.paid", period="2026년 8월", amount="30,000원"),
                                            say("billing.paid", period="2026년 9월", amount="25,000원"), resumed]))
    assert "충전했습니다" in done.reply.split(resumed)[1]
    tools = _tools(done)
    assert tools[tools.index("pay_bill"):] == ["pay_bill", "pay_bill", "list_lines", "refill_data"]
    assert done.verifier.passed
    assert orch.store.load(conv)[1].queue == []  # nothing of the payment was left to run later


def test_payment_waits_for_identity(orch: Orchestrator) -> None:
    conv = orch.start_conversation()
    asked = orch.handle(conv, "요금 낼게요")
    assert "본인 확인" in asked.reply and _tools(asked) == [] and asked.pending_action is None
    proposed = orch.handle(conv, "010-2222-3333이고 생년월일은 1990년 4월 12일이에요")
    assert proposed.verified_customer_id == "C1"
    assert say("billing.pay_proposal", total="61,200원") in proposed.reply
    done = orch.handle(conv, "네")
    assert done.reply.startswith(say("billing.paid", period="2026년 10월", amount="61,200원"))


def test_a_payment_half_committed_before_a_crash_is_finished_once(orch: Orchestrator,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The first bill was paid, then the process died before the second: the next answer replays the first
    under its idempotency key (never charged twice) and pays the second."""
    conv = orch.start_conversation(customer_id="C3")
    orch.handle(conv, "밀린 요금 낼게요")
    real = AgentContext.call

    def dies_on_the_second(self: AgentContext, name: str, _idempotency_key: str | None = None, **args: Any) -> Any:
        if name == "pay_bill" and _idempotency_key and _idempotency_key.endswith(":1"):
            raise RuntimeError("killed between two payments")
        return real(self, name, _idempotency_key, **args)

    monkeypatch.setattr(AgentContext, "call", dies_on_the_second)
    with pytest.raises(RuntimeError):
        orch.handle(conv, "네")
    monkeypatch.setattr(AgentContext, "call", real)
    assert _bill_status(orch, "B3B-08") == "paid" and _bill_status(orch, "B3B-09") == "overdue"
    after = Orchestrator(orch.engine, today=TODAY, router=Router()).handle(conv, "아니요")
    assert say("confirm.already_done") in after.reply
    assert say("billing.paid", period="2026년 8월", amount="30,000원") in after.reply
    assert say("billing.paid", period="2026년 9월", amount="25,000원") in after.reply
    assert say("billing.resumed", last4="7777") in after.reply
    assert _bill_status(orch, "B3B-09") == "paid" and _line_status(orch, "L3B") == "active"
    assert _payments(orch) == 3  # the first payment, its replay (no second charge), the second payment
    assert after.pending_action is None


# -- the runner feature the payment summary uses: text in parts, a template part per item -------------------------
def test_text_parts_and_template_lines_per_item_are_checked_at_load(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from sangdam.config import reset_settings

    home = tmp_path / "home"
    (home / "procedures").mkdir(parents=True)
    monkeypatch.setenv("SANGDAM_HOME", str(home))
    reset_settings()
    try:
        def write(summary: str) -> None:
            (home / "procedures" / "pay_all.yaml").write_text(
                "procedure: pay_all\ndescription_ko: 모두 납부합니다.\nsteps:\n  - call: get_bills\n"
                "  - propose: pay_bill\n    each: get_bills.bills\n    args: {bill_id: \"{item.id}\"}\n"
                f"    summary_ko:\n{summary}", encoding="utf-8")

        write("      - 다음 요금을 납부합니다.\n      - template: billing.pay_item\n        each: get_bills.bills\n"
              "        args: {period: \"{item.period|period}\", amount: \"{item.amount_krw|won}\", status: \"\"}\n")
        assert "pay_all" in load_procedures()
        for bad, reason in [("      - 2건을 납부합니다.\n", "state a number"),  # a number of its own, in a part
                            ("      - template: billing.pay_item\n        each: 'get bills'\n",
                             r"steps\[1\]\.summary_ko"),
                            ("      - template: billing.pay_item\n        args: {period: \"{item.period|euro}\"}\n",
                             "unknown filter")]:
            write(bad)
            with pytest.raises(ProcedureError, match=reason):
                load_procedures()
    finally:
        reset_settings()
