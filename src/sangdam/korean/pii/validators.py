"""Checksums and structural checks for Korean identifiers."""

from __future__ import annotations

import datetime as dt

_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
# Gender/century digit of a resident (1-4) or foreigner (5-8) registration number → century.
_CENTURY = {"1": 1900, "2": 1900, "3": 2000, "4": 2000, "5": 1900, "6": 1900, "7": 2000, "8": 2000,
            "9": 1800, "0": 1800}  # fmt: skip


def digits_of(text: str) -> str:
    """Only the ASCII digits of ``text``."""
    return "".join(ch for ch in text if "0" <= ch <= "9")


def luhn_ok(number: str) -> bool:
    """Luhn (mod 10) check used by payment cards and IMEIs; ``number`` is digits only."""
    if not number.isdigit() or len(number) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def rrn_birth_date(front: str, gender_digit: str) -> dt.date | None:
    """The birth date encoded by a registration number's first 6 digits and its 7th digit, if it exists."""
    if len(front) != 6 or not front.isdigit() or gender_digit not in _CENTURY:
        return None
    try:
        return dt.date(_CENTURY[gender_digit] + int(front[:2]), int(front[2:4]), int(front[4:6]))
    except ValueError:
        return None


def _rrn_sum(number: str) -> int:
    return sum(int(d) * w for d, w in zip(number[:12], _RRN_WEIGHTS, strict=True))


def rrn_checksum_ok(number: str) -> bool:
    """Check digit of a resident registration number issued before October 2020 (13 digits)."""
    return len(number) == 13 and number.isdigit() and (11 - _rrn_sum(number) % 11) % 10 == int(number[12])


def foreigner_checksum_ok(number: str) -> bool:
    """Check digit of a foreigner registration number issued before October 2020 (offset by 2)."""
    return len(number) == 13 and number.isdigit() and (13 - _rrn_sum(number) % 11) % 10 == int(number[12])
