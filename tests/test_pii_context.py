"""Personal numbers in context: halves with words between, pieces across turns, odd spacing, Korean words, bank
accounts; and the numbers that must stay readable (prices, dates, plans, order numbers)."""

from __future__ import annotations

import pytest

from sangdam.korean.pii import PiiType, detect, mask
from sangdam.korean.vault import PiiVault


def _found(text: str) -> list[tuple[str, str]]:
    return [(e.type.value, text[e.start : e.end]) for e in detect(text)]


def test_registration_halves_with_words_between_are_both_masked() -> None:
    text = "주민번호는 880214 이고요 뒤에는 1234567 이에요"
    assert _found(text) == [("rrn", "880214"), ("rrn", "1234567")]
    assert _found("주민번호 930303 다시 1345678") == [("rrn", "930303"), ("rrn", "1345678")]


def test_front_half_alone_introduced_by_its_name_is_masked() -> None:
    assert mask("주민번호 앞자리는 900101이에요").masked == "주민번호 앞자리는 [주민등록번호]이에요"
    assert mask("제 주민번호는 760312로 시작해요").masked == "제 주민번호는 [주민등록번호]로 시작해요"


def test_registration_number_in_korean_words_with_a_copula() -> None:
    text = "주민번호 앞자리 팔팔공이일사이고 뒷자리 일이삼사오육칠이요"
    assert _found(text) == [("rrn", "팔팔공이일사"), ("rrn", "일이삼사오육칠")]


def test_whole_number_with_a_space_stays_one_entity() -> None:
    assert _found("아들 주민번호 150820 3456789요") == [("rrn", "150820 3456789")]


@pytest.mark.parametrize(
    ("text", "kind", "number"),
    [
        ("주민번호 9 0 0 1 0 1 - 1 2 3 4 5 6 7", "rrn", "9 0 0 1 0 1 - 1 2 3 4 5 6 7"),
        ("전화번호 0 1 0 1 2 3 4 5 6 7 8이에요", "phone", "0 1 0 1 2 3 4 5 6 7 8"),
        ("번호는 010 12 34 56 78입니다", "phone", "010 12 34 56 78"),
        ("연락처 010 - 2345 - 6789로 주세요", "phone", "010 - 2345 - 6789"),
        ("카드번호 4111 1111 11 11 1111이요", "card", "4111 1111 11 11 1111"),
        ("계좌는 신한 일일공 일이삼 사오육칠팔구요", "account", "일일공 일이삼 사오육칠팔구"),
        ("새마을금고 9002-1234-5678-9", "account", "9002-1234-5678-9"),
        ("카카오뱅크 3333-01-1234567이에요", "account", "3333-01-1234567"),
    ],
)
def test_odd_spacing_korean_words_and_bank_accounts(text: str, kind: str, number: str) -> None:
    assert _found(text) == [(kind, number)]


def test_card_last_four_after_the_rest_in_one_sentence() -> None:
    text = "카드번호는 4111 1111 1111 이고 마지막 네 자리는 1111이에요"
    assert _found(text) == [("card", "4111 1111 1111"), ("card", "1111")]
    assert _found("카드 앞 12자리 5500 0000 0000 뒷 4자리 0004입니다") == [
        ("card", "5500 0000 0000"),
        ("card", "0004"),
    ]


def test_back_half_in_the_next_turn_is_masked_and_linked() -> None:
    vault = PiiVault("ctx-rrn")
    assert vault.mask("주민번호는 880214") == "주민번호는 [주민등록번호#1]"
    assert vault.mask("1234567이요") == "[주민등록번호#1]이요"
    entry = vault.resolve("rrn#1")
    assert entry.canonical == "8802141234567" and entry.pieces == 2
    assert len(vault.entries(PiiType.RRN)) == 1


def test_card_rest_in_the_next_turn_is_masked_and_linked() -> None:
    vault = PiiVault("ctx-card")
    assert vault.mask("카드번호는 4111 1111 1111이에요") == "카드번호는 [카드번호#1]이에요"
    assert vault.mask("마지막은 1111이요") == "마지막은 [카드번호#1]이요"
    assert vault.resolve("card#1").canonical == "4111111111111111"


def test_phone_and_account_begun_in_one_turn_are_finished_in_the_next() -> None:
    vault = PiiVault("ctx-phone")
    assert vault.mask("전화번호 010에") == "전화번호 010에"  # a prefix alone is nobody's number
    assert vault.mask("1234 5678이요") == "[전화번호#1]이요"
    assert vault.resolve("phone#1").canonical == "010-1234-5678"
    vault = PiiVault("ctx-account")
    vault.mask("신한은행 110-123")
    assert vault.mask("나머지는 456789요") == "나머지는 [계좌번호#1]요"


def test_only_the_next_turn_is_linked() -> None:
    vault = PiiVault("ctx-gap")
    vault.mask("주민번호 앞자리는 900101이에요")
    vault.mask("잠시만요")
    assert vault.mask("1234567이요") == "1234567이요"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("주민번호 앞자리는 900101이에요", "요금은 55,000원이에요"),
        ("주민번호 앞자리 880214요", "12월 4일에 납부했어요"),
        ("카드번호는 4111 1111 1111이에요", "3개월 할부로 해주세요"),
        ("카드번호 5500 0000 0000", "69,000원 결제요"),
        ("신한은행 110-123", "2026년 1월부터요"),
        ("전화번호 010에", "주문번호 2026-1234요"),
    ],
)
def test_a_number_in_the_next_turn_that_is_not_the_rest_stays(first: str, second: str) -> None:
    vault = PiiVault("ctx-neg")
    vault.mask(first)
    assert vault.mask(second) == second


@pytest.mark.parametrize(
    "text",
    [
        "5G 슬림 요금제는 월 69,000원이에요",
        "주문번호 2026-1234 배송 언제 와요?",
        "주문번호는 20261129-000123입니다",
        "2026-12-04부터 5G 프리미엄으로 바꿔 주세요",
        "전화번호 앞자리가 010이에요",
        "카드 뒷자리 1234로 결제된 거 맞나요?",  # the last four alone: printed on every receipt
        "인증번호 123456 받았어요",
        "접수번호 1234-5678-90으로 문의했어요",
        "육만구천원 요금제로 바꿀래요",
    ],
)
def test_prices_dates_plans_and_order_numbers_stay(text: str) -> None:
    assert detect(text) == []
