"""Values the identity flow needs from a customer's words: a phone number and a birth date.

Birth dates are read from every common Korean form: 1990-04-12, 1990.4.12, 90.04.12, 90/4/12, 90 04 12,
90년 4월 12일, 900412, 19900412, 구공공사일이, 천구백구십년 사월 십이일, the front of a registration number
(900412-1), and year and day said apart ("90년생이고 생일은 4월 12일", "4월 12일 90년생"). A birth date is a
plausible past date: at least ``MIN_AGE_YEARS`` before today and not before 1900. ``find_birth_date`` also
gives where it was written, so the privacy stage can mask it (the birth date is the second identity factor).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sangdam.korean.normalize import normalize
from sangdam.korean.numbers import read_number_word
from sangdam.korean.pii.validators import digits_of, rrn_birth_date

# Customers younger than this have no contract of their own; a more recent date is another kind of date.
MIN_AGE_YEARS = 5

_B = r"(?<![0-9])"
_E = r"(?![0-9])"
# A number before 년/월/일: figures, or a Sino-Korean number word (구팔, 구십팔, 천구백구십팔, 십이, 사) that is not
# the end of another word.
_YEAR = r"(?P<y>(?<![0-9])(?:\d{4}|\d{2})|(?<![가-힣])[공영일이삼사오육칠팔구십백천]{2,7})"
_MONTH = r"(?P<m>(?<![0-9])\d{1,2}|(?<![가-힣])(?:[일이삼사오육칠팔구십]{1,3}|[유시](?=월)))"  # 유월 6, 시월 10
_MONTH_WORDS = {"유": 6, "시": 10}
_DAY = r"(?P<d>\d{1,2}|[일이삼사오육칠팔구십]{1,4})"
_RRN_FRONT = re.compile(_B + r"(\d{6}) ?- ?([1-8])")
_FULL = re.compile(_B + r"(?P<y>(?:19|20)\d{2}) ?(?:년|[-./]) ?(?P<m>\d{1,2}) ?(?:월|[-./]) ?(?P<d>\d{1,2})" + _E)
# 98.12.04, 98/12/4, 98-12-04 (one separator throughout), 98 12 04 (two digits each).
_SHORT_SEP = re.compile(
    r"(?<![0-9.\-/])(?P<y>\d{2}) ?(?P<s>[-./]) ?(?P<m>\d{1,2}) ?(?P=s) ?(?P<d>\d{1,2})(?![0-9]|[-./][0-9])"
    r"|(?<![0-9.\-/])(?P<y2>(?:19|20)?\d{2}) (?P<m2>\d{2}) (?P<d2>\d{2})(?![0-9]|[-./ ][0-9])"
)
# 98년 12월 4일, 1998년생 12월 4일생, 구십팔년 십이월 사일 (a day in figures may drop its 일); the month said as
# a word must be spaced from 년 ("구십팔년 십이월").
_WORDS = re.compile(
    _YEAR + r" ?년 ?(?:도 ?)?(?:생 ?(?:이고|이며|이구요|이에요|인데)?[ ,]*)?" + _MONTH + r" ?월 ?"
    + r"(?:(?P<dd>\d{1,2})(?: ?일)?" + _E + r"|" + _DAY.replace("?P<d>", "?P<dw>") + r" ?일)"
)
_YEAR_OF_BIRTH = re.compile(_YEAR + r" ?년 ?(?:도 ?)?생")
_MONTH_DAY = re.compile(_MONTH + r" ?월 ?" + _DAY + r" ?일")
_COMPACT8 = re.compile(_B + r"(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})" + _E)
_COMPACT6 = re.compile(_B + r"(?P<y>\d{2})(?P<m>\d{2})(?P<d>\d{2})" + _E)
_LOCAL_MOBILE = re.compile(r"(?<![0-9.\-/+])([2-9]\d{3}) ?[ .\-] ?(\d{4})(?![0-9]|[-./][0-9])")
_PHONE_DIGITS = re.compile(r"(01[016789]|02|0[3-6][1-5]|070|050[2-8])(\d{3,4})(\d{4})")

Span = tuple[int, int]


@dataclass(frozen=True)
class BirthDateFound:
    """A birth date read from an utterance and the spans of the *original* text that spell it (two when the
    year and the day were said apart)."""

    date: dt.date
    spans: tuple[Span, ...]


def _today(today: dt.date | None) -> dt.date:
    if today is not None:
        return today
    from sangdam.config import today as config_today

    return config_today()


def _plausible(year: int, month: int, day: int, today: dt.date) -> dt.date | None:
    try:
        d = dt.date(year, month, day)
    except ValueError:
        return None
    return d if dt.date(1900, 1, 1) <= d and d.year <= today.year - MIN_AGE_YEARS else None


def _full_year(yy: int, today: dt.date) -> int:
    """A year said with two digits: the most recent such year a customer can have been born in."""
    if yy >= 100:
        return yy
    return 2000 + yy if 2000 + yy <= today.year - MIN_AGE_YEARS else 1900 + yy


def _number(word: str | None) -> int | None:
    return read_number_word(word) if word else None


def _month(word: str | None) -> int | None:
    return _MONTH_WORDS.get(word or "") or _number(word)


def _from_groups(year: str | None, month: str | None, day: str | None, today: dt.date) -> dt.date | None:
    y, m, d = _number(year), _month(month), _number(day)
    if y is None or m is None or d is None or (y >= 100 and y < 1900):
        return None
    return _plausible(_full_year(y, today), m, d, today)


def _candidates(norm: str, today: dt.date) -> list[tuple[dt.date, tuple[Span, ...]]]:
    found: list[tuple[dt.date, tuple[Span, ...]]] = []
    for m in _RRN_FRONT.finditer(norm):
        d = rrn_birth_date(m.group(1), m.group(2))
        if d is not None and _plausible(d.year, d.month, d.day, today):
            found.append((d, ((m.start(), m.end()),)))
    for regex in (_FULL, _COMPACT8, _COMPACT6):
        for m in regex.finditer(norm):
            d = _from_groups(m.group("y"), m.group("m"), m.group("d"), today)
            if d is not None:
                found.append((d, ((m.start(), m.end()),)))
    for m in _SHORT_SEP.finditer(norm):
        groups = ("y", "m", "d") if m.group("y") else ("y2", "m2", "d2")
        d = _from_groups(*(m.group(g) for g in groups), today)
        if d is not None:
            found.append((d, ((m.start(), m.end()),)))
    for m in _WORDS.finditer(norm):
        d = _from_groups(m.group("y"), m.group("m"), m.group("dd") or m.group("dw"), today)
        if d is not None:
            found.append((d, ((m.start(), m.end()),)))
    if not found:  # year and day said apart: "98년생이고 생일은 12월 4일", "12월 4일 98년생"
        years, days = list(_YEAR_OF_BIRTH.finditer(norm)), list(_MONTH_DAY.finditer(norm))
        for y in years:
            for md in days:
                if md.start() >= y.end() or y.start() >= md.end():
                    d = _from_groups(y.group("y"), md.group("m"), md.group("d"), today)
                    if d is not None:
                        found.append((d, tuple(sorted(((y.start(), y.end()), (md.start(), md.end()))))))
    return found


def find_birth_date(text: str, *, today: dt.date | None = None) -> BirthDateFound | None:
    """The first birth date written in ``text`` with its spans in ``text``, or None.

    ``today`` bounds the result (a plausible past date) and resolves two-digit years; it defaults to
    ``sangdam.config.today()``.
    """
    norm = normalize(text)
    found = _candidates(norm.text, _today(today))
    if not found:
        return None
    date, spans = min(found, key=lambda f: (f[1][0][0], -(f[1][-1][1] - f[1][0][0])))
    return BirthDateFound(date=date, spans=tuple(norm.to_original(s, e) for s, e in spans))


def extract_birth_date(text: str, *, today: dt.date | None = None) -> dt.date | None:
    """The first birth date written in ``text`` (several Korean formats and spoken digits), or None."""
    found = find_birth_date(text, today=today)
    return found.date if found else None


@dataclass(frozen=True)
class PartialBirthDate:
    """Part of a birth date said on its own: the year ("98년생") or the month and day ("12월 4일"), with the
    spans of the original text that spell it."""

    year: int | None
    month_day: tuple[int, int] | None
    spans: tuple[Span, ...]


def find_partial_birth_date(text: str, *, today: dt.date | None = None) -> PartialBirthDate | None:
    """The year of birth ("98년생", "1998년도생") and/or a month and day ("12월 4일", "유월 이십일일") in an
    utterance that holds no whole birth date; None when neither. The identity flow completes one with the
    other, said in another message, and corrects a held birth date with it ("아 11월 3일이요")."""
    today = _today(today)
    norm = normalize(text)
    year = month_day = None
    spans: list[Span] = []
    if (m := _YEAR_OF_BIRTH.search(norm.text)) and (y := _number(m.group("y"))) is not None:
        full = _full_year(y, today)
        if 1900 <= full <= today.year - MIN_AGE_YEARS:
            year = full
            spans.append((m.start(), m.end()))
    if (m := _MONTH_DAY.search(norm.text)) is not None:
        month, day = _month(m.group("m")), _number(m.group("d"))
        if month and day and _plausible(2000, month, day, today):  # 2000 is a leap year: 2월 29일 is a day
            month_day = (month, day)
            spans.append((m.start(), m.end()))
    if not spans:
        return None
    original = tuple(norm.to_original(s, e) for s, e in sorted(spans))
    return PartialBirthDate(year=year, month_day=month_day, spans=original)


def find_local_mobile(text: str) -> tuple[str, Span] | None:
    """A mobile number said without its 010 ("9000-0001", "구천 공공공일"), as ``010-XXXX-XXXX`` with its span.

    Only meaningful as the answer to "휴대폰 번호를 말씀해 주세요": elsewhere eight digits are many things. Both
    halves are four digits apart by a space, dash or dot; the first does not start with 0 or 1 (no 1588-…)."""
    norm = normalize(text)
    m = _LOCAL_MOBILE.search(norm.text)
    if m is None:
        return None
    return f"010-{m.group(1)}-{m.group(2)}", norm.to_original(m.start(), m.end())


def canonical_phone(value: str) -> str | None:
    """A Korean phone number as ``010-1234-5678`` / ``02-123-4567`` (from any separator, +82 or spoken
    form), or None when ``value`` is not one."""
    norm = normalize(value).text.strip()
    digits = digits_of(norm)
    if norm.startswith("+82"):
        digits = digits[2:] if digits[2:].startswith("0") else "0" + digits[2:]
    m = _PHONE_DIGITS.fullmatch(digits)
    if m is None:
        return None
    return "-".join(m.groups())


def extract_phone(text: str) -> str | None:
    """The first phone number in ``text`` (as found by the PII detector), canonical, or None."""
    from sangdam.korean.pii import PiiType, detect

    for ent in detect(text):
        if ent.type is PiiType.PHONE:
            return canonical_phone(text[ent.start : ent.end])
    return None


def canonical_digits(value: str) -> str:
    """Digits of a spoken or written number (``공일공 1234`` → ``0101234``)."""
    return digits_of(normalize(value).text)
