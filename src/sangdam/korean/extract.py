"""Values the identity flow needs from a customer's words: a phone number and a birth date.

Birth dates are not masked as PII (dates must stay readable), but ``verify_identity`` needs them parsed from
whatever the customer typed or said: 1990-04-12, 1990.4.12, 90년 4월 12일, 900412, 19900412, 구공공사일이,
or the front of a registration number (900412-1).
"""

from __future__ import annotations

import datetime as dt
import re

from sangdam.korean.normalize import normalize
from sangdam.korean.pii.validators import digits_of, rrn_birth_date

_B = r"(?<![0-9])"
_E = r"(?![0-9])"
_RRN_FRONT = re.compile(_B + r"(\d{6}) ?- ?([1-8])")
_FULL = re.compile(_B + r"((?:19|20)\d{2}) ?(?:년|[-./]) ?(\d{1,2}) ?(?:월|[-./]) ?(\d{1,2})" + _E)
_SHORT_WORDS = re.compile(_B + r"(\d{2}) ?년 ?(\d{1,2}) ?월 ?(\d{1,2}) ?일?")
_COMPACT8 = re.compile(_B + r"((?:19|20)\d{2})(\d{2})(\d{2})" + _E)
_COMPACT6 = re.compile(_B + r"(\d{2})(\d{2})(\d{2})" + _E)
_PHONE_DIGITS = re.compile(r"(01[016789]|02|0[3-6][1-5]|070|050[2-8])(\d{3,4})(\d{4})")


def _date(year: int, month: int, day: int, today: dt.date) -> dt.date | None:
    try:
        d = dt.date(year, month, day)
    except ValueError:
        return None
    return d if dt.date(1900, 1, 1) <= d <= today else None


def _two_digit_year(yy: int, today: dt.date) -> int:
    # The most recent year ending in yy that is not in the future.
    return 2000 + yy if 2000 + yy <= today.year else 1900 + yy


def extract_birth_date(text: str, *, today: dt.date | None = None) -> dt.date | None:
    """The first birth date written in ``text`` (several Korean formats and spoken digits), or None.

    ``today`` bounds the result (no future dates) and resolves two-digit years; it defaults to
    ``sangdam.config.today()``.
    """
    if today is None:
        from sangdam.config import today as config_today

        today = config_today()
    norm = normalize(text).text
    found: list[tuple[int, dt.date]] = []
    for m in _RRN_FRONT.finditer(norm):
        d = rrn_birth_date(m.group(1), m.group(2))
        if d is not None and d <= today:
            found.append((m.start(), d))
    for regex in (_FULL, _COMPACT8):
        for m in regex.finditer(norm):
            d = _date(int(m.group(1)), int(m.group(2)), int(m.group(3)), today)
            if d is not None:
                found.append((m.start(), d))
    for regex in (_SHORT_WORDS, _COMPACT6):
        for m in regex.finditer(norm):
            yy = int(m.group(1))
            d = _date(_two_digit_year(yy, today), int(m.group(2)), int(m.group(3)), today)
            if d is not None:
                found.append((m.start(), d))
    return min(found)[1] if found else None


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
