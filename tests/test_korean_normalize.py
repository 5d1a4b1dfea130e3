"""Normalisation keeps a map back to the original text (full-width forms, spaces, punctuation, spoken digits)."""

from __future__ import annotations

import pytest

from sangdam.korean.normalize import normalize, normalize_text


def _original_of(text: str, needle: str) -> str:
    norm = normalize(text)
    i = norm.text.index(needle)
    s, e = norm.to_original(i, i + len(needle))
    return text[s:e]


def test_full_width_digits_and_dashes_become_ascii() -> None:
    assert normalize("０１０－１２３４－５６７８").text == "010-1234-5678"


def test_spaces_collapse_and_zero_width_disappears() -> None:
    assert normalize("요금\u00a0\u00a0 조회\t해\u200b주세요").text == "요금 조회 해주세요"


def test_repeated_punctuation_collapses_but_ellipsis_stays() -> None:
    assert normalize_text("정말요!!!?? 잠깐만요......") == "정말요!? 잠깐만요..."


@pytest.mark.parametrize(
    ("spoken", "digits"),
    [
        ("공일공 일이삼사 오육칠팔", "010 1234 5678"),
        ("공일공에 일이삼사에 오육칠팔", "010 1234 5678"),
        ("영일영-일이삼사-오육칠팔", "010-1234-5678"),
        ("공일공 하나둘셋넷 다섯여섯일곱여덟", "010 1234 5678"),
        ("공 일 공 일 이 삼 사 오 육 칠 팔", "01012345678"),
        ("공일공 1234 오육칠팔", "010 1234 5678"),
        ("구공공사일이", "900412"),
    ],
)
def test_spoken_digits_are_written_as_digits(spoken: str, digits: str) -> None:
    assert normalize(spoken).text == digits


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("번호는 공일공 일이삼사 오육칠팔이에요", "번호는 010 1234 5678이에요"),  # copula, not the digit 2
        ("오구공팔 삼공일이요", "5908 3012요"),  # four and four: the 이 is the digit 2
        ("오육칠팔이요", None),  # too short to be a number: left alone
        ("생일은 구공공사일이예요", "생일은 900412예요"),  # 이 before 예요 is the digit 2
        ("010 1234 5678 사용 중이에요", "010 1234 5678 사용 중이에요"),  # 사용 is a word
        ("4190 9378 6579 7547 이 카드로", "4190 9378 6579 7547 이 카드로"),  # 이 is "this"
    ],
)
def test_particles_and_words_next_to_spoken_digits_are_kept(text: str, expected: str | None) -> None:
    assert normalize(text).text == (expected if expected is not None else text)


@pytest.mark.parametrize(
    "text",
    ["이사 가서 주소 변경하려고요", "일 이 삼 단계로 설명해 주세요", "사이사이에 광고 문자가 와요", "오늘 오후 두 시 반"],
)
def test_ordinary_words_made_of_digit_syllables_are_not_converted(text: str) -> None:
    assert normalize(text).text == text


def test_spans_map_back_to_spoken_original() -> None:
    text = "제 번호는 공일공에 일이삼사에 오육칠팔이에요"
    assert _original_of(text, "010 1234 5678") == "공일공에 일이삼사에 오육칠팔"


def test_spans_map_back_through_collapsed_spaces_and_full_width() -> None:
    text = "번호\u3000\u3000０１０－１２３４－５６７８！！！"
    assert _original_of(text, "010-1234-5678") == "０１０－１２３４－５６７８"
    assert _original_of(text, "!") == "！！！"


def test_spoken_digits_can_be_switched_off() -> None:
    assert normalize("공일공 일이삼사 오육칠팔", spoken_digits=False).text == "공일공 일이삼사 오육칠팔"


def test_span_outside_text_is_rejected() -> None:
    with pytest.raises(ValueError, match="outside"):
        normalize("abc").to_original(2, 5)
