"""Sino-Korean number words as customers say them: digit by digit (구팔 → 98, 공공공팔 → 0008) or with place
values (구십팔 → 98, 천구백구십팔 → 1998, 구천 → 9000, 십이 → 12).

One place for these readings: the normaliser uses them to write a spoken phone number as digits
("공일공 구천 공공공팔" → "010 9000 0008"), the birth-date parser to read "천구백구십팔년 십이월 사일".
"""

from __future__ import annotations

import re

SINO_DIGITS: dict[str, str] = {
    "공": "0", "영": "0", "빵": "0", "땡": "0",
    "일": "1", "이": "2", "삼": "3", "사": "4", "오": "5", "육": "6", "륙": "6", "칠": "7", "팔": "8", "구": "9",
}  # fmt: skip
PLACES = {"천": 1000, "백": 100, "십": 10}

_NONZERO = "일이삼사오육칠팔구"
# A number said with 천 or 백 ("구천", "이천이백이십이", "삼백"): the unit of a phone-number group read as a
# word. 십 alone ("십이") is not included: it reads months and days, never a phone group.
PLACE_VALUE_PATTERN = (
    rf"[{_NONZERO}]?천(?:[{_NONZERO}]?백)?(?:[{_NONZERO}]?십)?[{_NONZERO}]?"
    rf"|[{_NONZERO}]?백(?:[{_NONZERO}]?십)?[{_NONZERO}]?"
)
_PLACE_VALUE_RE = re.compile(
    rf"(?:(?P<th>[{_NONZERO}])?(?P<k>천))?(?:(?P<hu>[{_NONZERO}])?(?P<h>백))?"
    rf"(?:(?P<te>[{_NONZERO}])?(?P<t>십))?(?P<u>[{_NONZERO}])?"
)
_DIGIT_BY_DIGIT_RE = re.compile(f"[{''.join(SINO_DIGITS)}]+")


def place_value_digits(word: str) -> str | None:
    """Digits of a place-value number word (``구천`` → ``9000``, ``천구백구십팔`` → ``1998``, ``십이`` → ``12``),
    as wide as its highest place (a 천 number always gives four digits), or None when ``word`` is not one."""
    m = _PLACE_VALUE_RE.fullmatch(word)
    if not word or m is None or not (m.group("k") or m.group("h") or m.group("t")):
        return None
    value = 0
    for multiplier, place, size in (("th", "k", 1000), ("hu", "h", 100), ("te", "t", 10)):
        if m.group(place):
            value += int(SINO_DIGITS[m.group(multiplier)] if m.group(multiplier) else 1) * size
    if m.group("u"):
        value += int(SINO_DIGITS[m.group("u")])
    width = 4 if m.group("k") else 3 if m.group("h") else 2
    return str(value).zfill(width)


def read_number_word(word: str) -> int | None:
    """The value of a Sino-Korean number word said digit by digit (``구팔`` → 98) or with place values
    (``구십팔`` → 98), or of plain digits; None when ``word`` is neither."""
    if word.isascii() and word.isdigit():
        return int(word)
    if _DIGIT_BY_DIGIT_RE.fullmatch(word):
        return int("".join(SINO_DIGITS[ch] for ch in word))
    digits = place_value_digits(word)
    return int(digits) if digits is not None else None
