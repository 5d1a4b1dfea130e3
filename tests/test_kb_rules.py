"""Conditions named in a question (10개월, 3GB, 만 19세 미만) pick the matching item of a rule, which leads."""

from __future__ import annotations

from sangdam.knowledge.models import Chunk
from sangdam.knowledge.rules import RuleItem, conditions, lead_with_condition, matches_condition


def _items(*texts: str) -> list[RuleItem]:
    chunk = Chunk(id="c", source="s.md", heading="h", text="\n".join(texts), ordinal=0)
    return [RuleItem(chunk, i, t) for i, t in enumerate(texts)]


def test_question_conditions_are_read_with_their_units():
    assert conditions("약정 10개월 쓰고 해지하면?") == [(10.0, "개월")]
    assert conditions("3GB 쿠폰 가격") == [(3.0, "GB")]


def test_month_inside_a_range_matches_that_tier_only():
    rows = _items("사용 기간: 5~8개월 | 반환 비율: 80%", "사용 기간: 9~12개월 | 반환 비율: 60%",
                  "사용 기간: 13~18개월 | 반환 비율: 40%")
    led = lead_with_condition(rows, "10개월 쓰고 해지하면 얼마예요?")
    assert [i.text for i in led] == [rows[1].text, rows[0].text, rows[2].text]  # the tier first, neighbours kept


def test_bounds_of_one_item_hold_together():
    assert not matches_condition("6개월 초과 12개월 이하", [(6.0, "개월")])
    assert matches_condition("6개월 이하", [(6.0, "개월")])
    assert matches_condition("80만 원 이상 150만 원 미만", [(120.0, "만원")])


def test_no_condition_keeps_document_order():
    rows = _items("2회선: 3,300원", "3회선: 5,500원")
    assert lead_with_condition(rows, "가족결합 할인 얼마예요?") == rows
