"""The per-conversation vault (numbered placeholders, reveal for tools) and identity-value extraction."""

from __future__ import annotations

import datetime as dt

import pytest

from sangdam.korean.extract import canonical_phone, extract_birth_date, extract_phone
from sangdam.korean.pii import PiiType
from sangdam.korean.vault import InMemoryVaultStore, PiiVault, UnknownReference

TODAY = dt.date(2026, 11, 29)


def test_vault_round_trip_masks_and_reveals_originals() -> None:
    vault = PiiVault("conv-1")
    masked = vault.mask("제 번호는 010-1234-5678이고 주민번호는 850315-1408751이에요")
    assert masked == "제 번호는 [전화번호#1]이고 주민번호는 [주민등록번호#1]이에요"
    assert vault.reveal("[전화번호#1]") == "010-1234-5678"
    assert vault.reveal("phone#1") == "010-1234-5678"
    assert vault.reveal("주민등록번호#1") == "850315-1408751"


def test_same_value_in_another_form_keeps_its_reference_and_becomes_latest() -> None:
    vault = PiiVault("conv-2")
    vault.mask("휴대폰은 010-1234-5678이에요")
    assert vault.mask("집 전화는 02-123-4567") == "집 전화는 [전화번호#2]"
    assert vault.latest(PiiType.PHONE).ref == "phone#2"
    assert vault.mask("다시 말씀드리면 공일공 일이삼사 오육칠팔") == "다시 말씀드리면 [전화번호#1]"
    latest = vault.latest(PiiType.PHONE)
    assert latest is not None and latest.canonical == "010-1234-5678"
    assert vault.latest(PiiType.CARD) is None


def test_entries_are_persisted_through_the_store_hook() -> None:
    store = InMemoryVaultStore()
    PiiVault("conv-3", store).mask("카드번호 4526-0181-5908-3012")
    reopened = PiiVault("conv-3", store)
    assert reopened.reveal("card#1") == "4526-0181-5908-3012"
    assert reopened.mask("다른 카드 5661 3186 0913 9097") == "다른 카드 [카드번호#2]"
    assert PiiVault("conv-other", store).entries() == []


def test_unknown_reference_is_refused() -> None:
    vault = PiiVault("conv-4")
    vault.mask("010-1234-5678")
    for ref in ("phone#2", "[카드번호#1]", "nonsense", "passport#0"):
        with pytest.raises(UnknownReference):
            vault.reveal(ref)


def test_vault_entry_repr_hides_the_value() -> None:
    vault = PiiVault("conv-5")
    vault.mask("010-9999-8888")
    assert "9999" not in repr(vault.entries())


def test_text_without_pii_is_unchanged_and_stores_nothing() -> None:
    vault = PiiVault("conv-6")
    assert vault.mask("요금 89,000원 나왔어요") == "요금 89,000원 나왔어요"
    assert vault.entries() == []


@pytest.mark.parametrize(
    "text",
    [
        "1990-04-12",
        "1990.4.12",
        "1990/04/12요",
        "90년 4월 12일생이에요",
        "1990년 4월 12일",
        "생년월일 900412",
        "19900412입니다",
        "생일은 구공공사일이예요",
        "주민번호 900412-1******",
    ],
)
def test_birth_date_is_parsed_from_korean_forms(text: str) -> None:
    assert extract_birth_date(text, today=TODAY) == dt.date(1990, 4, 12)


def test_two_digit_year_resolves_to_most_recent_past_century() -> None:
    assert extract_birth_date("050302", today=TODAY) == dt.date(2005, 3, 2)
    assert extract_birth_date("300302", today=TODAY) == dt.date(1930, 3, 2)


@pytest.mark.parametrize("text", ["2030-01-01", "12월 3일 가능해요", "1990-02-30", "요금 89,000원"])
def test_no_birth_date_when_none_or_impossible(text: str) -> None:
    assert extract_birth_date(text, today=TODAY) is None


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("제 번호는 010.1234.5678이에요", "010-1234-5678"),
        ("+82 10-1234-5678", "010-1234-5678"),
        ("공일공 일이삼사 오육칠팔", "010-1234-5678"),
        ("집은 02-123-4567", "02-123-4567"),
        ("1588-0114", None),
    ],
)
def test_phone_is_extracted_in_canonical_form(text: str, phone: str | None) -> None:
    assert extract_phone(text) == phone


def test_canonical_phone_rejects_non_phone_digits() -> None:
    assert canonical_phone("12345") is None
