"""Nothing is done to a line the customer did not name and own (issue 11, item 4).

A number, a "끝자리" or another person's line that is not one of the customer's own lines is refused or asked
about — never replaced by the customer's own line; a line the customer owns and names is used exactly.
"""

from __future__ import annotations

import copy

import pytest

from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from sangdam.domain.models import Line
from sangdam.orchestrator import Orchestrator
from orchestrator_fixtures import FIXTURES, TODAY

WORLD = copy.deepcopy(FIXTURES)
# C1 also pays for a second line (a family line on C1's account): 010-2222-4444
WORLD["customers"][0]["lines"].append(
    {"id": "L1B", "number": "010-2222-4444", "plan_id": "P-5G-59", "status": "active", "data_used_gb": 1.0})
# C3 has a single line
WORLD["customers"].append(
    {"id": "C3", "name": "이도윤", "birth_date": "1979-09-12", "phone": "010-7777-8888",
     "lines": [{"id": "L3", "number": "010-7777-8888", "plan_id": "P-5G-59", "status": "active"}]})


@pytest.fixture
def orch(db_engine) -> Orchestrator:  # noqa: ANN001
    with session_scope(db_engine) as s:
        load_fixtures(s, WORLD)
    return Orchestrator(db_engine, today=TODAY)


def _line(orch: Orchestrator, line_id: str) -> Line:
    with session_scope(orch.engine) as s:
        line = s.get(Line, line_id)
        s.expunge(line)
        return line


def _proposed(result, tool: str) -> list[dict]:  # noqa: ANN001
    return [c.args for c in result.tool_calls if c.name == tool and c.status in ("proposed", "ok")]


@pytest.mark.parametrize("text", [
    "아들 회선 010-5555-6666 분실 정지해 주세요",   # another customer's line
    "010-1234-5678 번호 분실 정지해 주세요",        # nobody's line
    "제 번호 말고 010-5555-6666 정지해줘",
])
def test_a_number_that_is_not_the_customers_is_refused(orch: Orchestrator, text: str) -> None:
    conv = orch.start_conversation(customer_id="C3")
    result = orch.handle(conv, text)
    assert _proposed(result, "suspend_line") == [], result.reply
    assert result.pending_action is None
    assert "명의로 가입된 회선이 아니어서" in result.reply
    assert _line(orch, "L3").status == "active" and _line(orch, "L2").status == "suspended"


@pytest.mark.parametrize("text", ["아들 회선 분실 정지해 주세요", "엄마 폰 데이터 2기가 충전해줘", "딸이 쓰는 번호 로밍 켜줘 일본"])
def test_another_persons_line_is_asked_about_never_swapped_for_the_own_line(orch: Orchestrator, text: str) -> None:
    conv = orch.start_conversation(customer_id="C3")  # one line only: it used to be taken silently
    result = orch.handle(conv, text)
    assert result.pending_action is None, result.reply
    assert not [c for c in result.tool_calls if c.status == "proposed"]
    assert "명의자께서 직접" in result.reply and "끝자리" in result.reply


def test_the_customers_own_family_line_named_by_number_is_used_exactly(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    result = orch.handle(conv, "아들 회선 010-2222-4444 데이터 1기가 충전해 주세요")
    assert _proposed(result, "refill_data") == [{"line_id": "L1B", "gb": 1}]
    done = orch.handle(conv, "네")
    assert any(c.name == "refill_data" and c.status == "ok" for c in done.tool_calls)
    assert _line(orch, "L1B").data_refill_gb == 1 and _line(orch, "L1").data_refill_gb == 0


def test_an_own_line_named_by_its_last_digits_after_the_question_is_used(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    asked = orch.handle(conv, "아들 폰 데이터 1기가 충전해줘")
    assert asked.pending_action is None and "끝자리" in asked.reply
    answered = orch.handle(conv, "4444")
    assert _proposed(answered, "refill_data") == [{"line_id": "L1B", "gb": 1}]


def test_a_last4_that_is_none_of_the_customers_lines_is_not_replaced(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C3")
    result = orch.handle(conv, "끝자리 1234 회선 로밍 켜주세요")
    assert result.pending_action is None, result.reply
    assert "가입되어 있지 않습니다" in result.reply


def test_a_bill_question_about_another_number_reveals_nothing_of_the_own_account(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C1")
    result = orch.handle(conv, "010-5555-6666 번호 요금 알려주세요")
    assert "61,200" not in result.reply and "89,000" not in result.reply
    assert "명의로 가입된 회선이 아니어서" in result.reply


def test_own_number_in_the_request_is_fine(orch: Orchestrator) -> None:
    conv = orch.start_conversation(customer_id="C3")
    result = orch.handle(conv, "010-7777-8888 분실 정지해 주세요")
    assert _proposed(result, "suspend_line") == [{"line_id": "L3", "reason": "lost"}]
