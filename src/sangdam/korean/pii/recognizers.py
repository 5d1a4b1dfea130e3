"""Candidate generators: one regex per shape, scored by validators (checksums, dates) and context words.

Every recogniser works on the *normalised* text (see ``sangdam.korean.normalize``) and yields candidates in
its coordinates; the detector maps them back to the original and resolves overlaps by score. Scores are
deliberately simple and additive so they can be reasoned about: a strong shape or a valid checksum alone
clears the masking threshold; weak shapes (a bare run of digits, a letter and eight digits) need a context
word, and a nearer "negative" word (주문번호, 접수번호, 사업자 …) pulls them below it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from sangdam.korean.pii.lexicon import Lexicon
from sangdam.korean.pii.models import PiiType
from sangdam.korean.pii.validators import (
    digits_of,
    foreigner_checksum_ok,
    luhn_ok,
    rrn_birth_date,
    rrn_checksum_ok,
)

# Not preceded by something that would make the match the tail of a longer identifier (B-2026-10-001234,
# SM-S928N, a URL, a masked "*").
_LB = r"(?<![0-9A-Za-z\-_./@+#*])"
# Not followed by more identifier characters; a trailing sentence "." or "-" is fine unless a digit follows.
_RB = r"(?![0-9A-Za-z_@*]|[-.,][0-9])"
# The same, but a Latin letter may touch the number ("phone01012345678", "계좌ABC110-…"): numbers with a strong
# shape or checksum are still found there, at a lower score (``GLUED_PENALTY``), so that order numbers and model
# codes (ORD…, SN…) need a context word they do not have.
_LBG = r"(?<![0-9\-_./@+#*])"
_RBG = r"(?![0-9_@*]|[-.,][0-9])"
GLUED_PENALTY = 0.3
_HEX_ID = re.compile(r"[0-9a-fA-F]+")

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9\-])")
_PHONE = re.compile(
    _LBG + r"\(?(?:\+82[ \-]?(?:\(0\)|0)?|0)"
    r"(?P<code>1[016789]|2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|50[2-8])\)?"
    r"[ \-.]?(?P<mid>\d{3,4})[ \-.]?(?P<last>\d{4})" + _RBG
)
_RRN = re.compile(_LBG + r"(?P<front>\d{6})(?P<sep> ?- ?| )?(?P<back>\d{7}|[0-8][*xX●•○]{6})" + _RBG.replace("*", ""))
_RRN_GENDER_ONLY = re.compile(_LB + r"(?P<front>\d{6}) ?- ?(?P<g>[1-8])(?![0-9*●•○xX])")
_SIX = re.compile(_LB + r"(?P<front>\d{6})" + r"(?![0-9A-Za-z_@*]|[-.,]?[0-9])")
_SEVEN = re.compile(_LB + r"(?P<back>[1-8]\d{6}|[1-8][*●•○xX]{6})" + _RB.replace("*", ""))
_CARD_GROUPED = re.compile(
    _LBG + r"(?:\d{4}(?P<s>[ \-])\d{4}(?P=s)\d{4}(?P=s)\d{4}(?:(?P=s)\d{1,3})?|\d{4}(?P<t>[ \-])\d{6}(?P=t)\d{4,5})"
    + _RBG
)
_LONG_DIGITS = re.compile(_LBG + r"\d{12,19}" + _RBG)
_IMEI_GROUPED = re.compile(_LBG + r"\d{2}(?P<s>[ \-])\d{6}(?P=s)\d{6}(?P=s)\d" + _RBG)
_ACCOUNT = re.compile(_LBG + r"(?:\d{2,6}(?:[ \-]\d{2,8}){1,4}(?:-\d)?|\d{10,14})" + _RBG)
_REGIONS = "서울|부산|경기|강원|충북|충남|전북|전남|경북|경남|제주|대구|인천|광주|대전|울산|세종"
_DRIVER = re.compile(
    r"(?:(?<![가-힣])(?P<region>" + _REGIONS + r") ?|" + _LB + r"(?P<rc>\d{2})[ \-])\d{2}[ \-]\d{6}[ \-]\d{2}" + _RB
)
_PASSPORT = re.compile(_LB + r"[A-Za-z](?:\d{8}|\d{3}[A-Za-z]\d{4})" + _RB)
_YEAR_LIKE = re.compile(r"(?:19|20)\d\d$")
# Card security data: MM/YY, MM/YYYY or MMYY; a 3–4 digit security code (letters may touch: "CVC123").
_EXPIRY = re.compile(
    r"(?<![0-9\-./])(?P<mm>0[1-9]|1[0-2])(?:(?P<slash> ?/ ?)(?:20)?\d\d|\d\d)(?![0-9]|[-./][0-9])"
)
_CVC = re.compile(r"(?<![0-9\-./])\d{3,4}(?![0-9]|[-./][0-9])")
_ANY_CARD_DIGITS = re.compile(r"\d(?:[ \-]?\d){12,18}")
# Most characters between the two halves of a registration number said in one breath ("… 이고요 뒤에는 …").
_HALVES_GAP = 16
_WHOLE_REST = re.compile(r"(?: ?- ?| )[0-8](?:\d{6}|[*●•○xX]{6})(?!\d)")
# Where a security code may be: its word at most this many characters before it.
_CVC_WINDOW = 16

THRESHOLD = 0.5
_KOREAN_PASSPORT_LETTERS = frozenset("MSRGDO")


@dataclass(slots=True)
class Candidate:
    """A possible entity in normalised-text coordinates."""

    type: PiiType
    start: int
    end: int
    score: float


class Context:
    """Context-word look-ups around a span of one normalised utterance."""

    def __init__(self, text: str, lex: Lexicon) -> None:
        self.text = text
        self.lower = text.lower()
        self.lex = lex

    def _nearest(self, pattern: re.Pattern[str], start: int, end: int, before: int, after: int) -> int | None:
        """Distance from the span to the nearest match of ``pattern`` in the window, or None."""
        best: int | None = None
        lo = max(0, start - before)
        for m in pattern.finditer(self.lower, lo, start):
            best = start - m.end()  # later matches are nearer
        for m in pattern.finditer(self.lower, end, min(len(self.lower), end + after)):
            d = m.start() - end
            best = d if best is None else min(best, d)
            break
        return best

    def glued(self, start: int, end: int) -> float:
        """``GLUED_PENALTY`` when a Latin letter touches ``[start, end)`` ("phone01012345678"), else 0; 1 (never
        personal data) inside a hexadecimal identifier such as a record id ("TR-63daf06370234416")."""
        before = self.text[start - 1] if start > 0 else ""
        after = self.text[end] if end < len(self.text) else ""
        if not ((before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha())):
            return 0.0
        return 1.0 if self._in_hex_id(start, end) else GLUED_PENALTY

    def _in_hex_id(self, start: int, end: int) -> bool:
        lo, hi = start, end
        while lo > 0 and self.text[lo - 1].isascii() and self.text[lo - 1].isalnum():
            lo -= 1
        while hi < len(self.text) and self.text[hi].isascii() and self.text[hi].isalnum():
            hi += 1
        token = self.text[lo:hi]
        return len(token) >= 12 and bool(_HEX_ID.fullmatch(token)) and sum(ch.isalpha() for ch in token) >= 2

    def anywhere(self, pattern: re.Pattern[str]) -> bool:
        """Whether ``pattern`` occurs anywhere in the utterance."""
        return pattern.search(self.lower) is not None

    def near(self, pattern: re.Pattern[str], start: int, end: int, before: int | None = None) -> bool:
        """Whether ``pattern`` occurs in the window around ``[start, end)``."""
        b = self.lex.window_before if before is None else before
        return self._nearest(pattern, start, end, b, self.lex.window_after) is not None

    def adjust(self, pii_type: PiiType, start: int, end: int, boost: float, penalty: float) -> float:
        """``+boost`` when a positive word for the type is the nearest context, ``-penalty`` when a negative
        word (order number, ticket, business id …) is nearer than any positive one, else 0."""
        wb, wa = self.lex.window_before, self.lex.window_after
        pos = self._nearest(self.lex.positive[pii_type], start, end, wb, wa)
        if pii_type is PiiType.ACCOUNT:
            bank = self._nearest(self.lex.bank, start, end, wb, wa)
            pos = bank if pos is None else (pos if bank is None else min(pos, bank))
        neg = self._nearest(self.lex.negative, start, end, wb, 0)
        if pos is not None and (neg is None or pos <= neg):
            return boost
        if neg is not None:
            return -penalty
        return 0.0


def _clip(score: float) -> float:
    return round(max(0.0, min(0.99, score)), 6)  # rounded: 0.85 - 0.35 must not fall a hair below 0.5


def emails(ctx: Context) -> Iterator[Candidate]:
    for m in _EMAIL.finditer(ctx.text):
        yield Candidate(PiiType.EMAIL, m.start(), m.end(), 0.95)


def phones(ctx: Context) -> Iterator[Candidate]:
    for m in _PHONE.finditer(ctx.text):
        code = m.group("code")
        mobile = code.startswith("1")
        if mobile and code == "10" and len(m.group("mid")) != 4:
            continue  # 010 numbers always have a 4-digit middle part
        score = 0.92 if mobile else 0.82
        context, glued = ctx.adjust(PiiType.PHONE, m.start(), m.end(), 0.05, 0.1), ctx.glued(m.start(), m.end())
        if glued and context < 0:
            continue  # "주문번호 ORD01012345678": an identifier that only contains a number
        score += context - glued
        yield Candidate(PiiType.PHONE, m.start(), m.end(), _clip(score))


def _registration_type(gender_digit: str, ctx: Context, start: int, end: int) -> PiiType:
    if gender_digit in "5678" or ctx.near(ctx.lex.positive[PiiType.FOREIGNER_RRN], start, end):
        return PiiType.FOREIGNER_RRN
    return PiiType.RRN


def registration_numbers(ctx: Context) -> Iterator[Candidate]:
    """Whole (13-digit or back-masked) resident and foreigner registration numbers, and "900101-1"."""
    for m in _RRN.finditer(ctx.text):
        front, back = m.group("front"), m.group("back")
        if rrn_birth_date(front, back[0]) is None:
            continue
        kind = _registration_type(back[0], ctx, m.start(), m.end())
        if not back.isdigit():
            score = 0.9  # "900101-1******": shape alone is unmistakable
        else:
            number = front + back
            check = foreigner_checksum_ok if kind is PiiType.FOREIGNER_RRN else rrn_checksum_ok
            # Numbers issued since October 2020 carry no check digit, so a failed check only lowers the score.
            if check(number) or rrn_checksum_ok(number):
                score = 0.95
            elif m.group("sep") and "-" in m.group("sep"):
                score = 0.8
            else:
                score = 0.45
        score += ctx.adjust(kind, m.start(), m.end(), 0.3, 0.4) - ctx.glued(m.start(), m.end())
        yield Candidate(kind, m.start(), m.end(), _clip(score))
    for m in _RRN_GENDER_ONLY.finditer(ctx.text):
        if rrn_birth_date(m.group("front"), m.group("g")) is None:
            continue
        kind = _registration_type(m.group("g"), ctx, m.start(), m.end())
        score = 0.6 + ctx.adjust(kind, m.start(), m.end(), 0.3, 0.4)
        yield Candidate(kind, m.start(), m.end(), _clip(score))


def _registration_words(ctx: Context) -> re.Pattern[str]:
    return ctx.lex.positive[PiiType.RRN] if not ctx.anywhere(ctx.lex.positive[PiiType.FOREIGNER_RRN]) else (
        ctx.lex.positive[PiiType.FOREIGNER_RRN]
    )


def split_registration_numbers(ctx: Context) -> Iterator[Candidate]:
    """The halves of a registration number given separately: "앞자리 900101 … 뒷자리 1234567", "주민번호는
    880214 이고요 뒤에는 1234567", and the front half alone after its name ("주민번호 앞자리는 900101")."""
    lex = ctx.lex
    foreigner_talk = ctx.anywhere(lex.positive[PiiType.FOREIGNER_RRN])
    rrn_talk = foreigner_talk or ctx.anywhere(lex.positive[PiiType.RRN])
    words = _registration_words(ctx)
    fronts = []
    for m in _SIX.finditer(ctx.text):
        front = m.group("front")
        if rrn_birth_date(front, "1") is None and rrn_birth_date(front, "3") is None:
            continue
        if _WHOLE_REST.match(ctx.text, m.end()):
            continue  # "150820 3456789": one number with a space, the whole-number recogniser's
        # Introduced as a front half, or right after the registration number's own name.
        if ctx.near(lex.rrn_front, m.start(), m.end(), before=12) or ctx.near(words, m.start(), m.end(), before=16):
            fronts.append(m)
    backs = []
    for m in _SEVEN.finditer(ctx.text):
        named = ctx.near(lex.rrn_back, m.start(), m.end(), before=12)
        # "주민번호 930303 다시 1345678": a back half a few words after a front half of the same number.
        after_front = rrn_talk and any(0 < m.start() - f.end() <= _HALVES_GAP for f in fronts)
        if named or after_front:
            backs.append(m)
            kind = _registration_type(m.group("back")[0], ctx, m.start(), m.end())
            yield Candidate(kind, m.start(), m.end(), 0.85 if rrn_talk else 0.7)
    foreign_back = any(m.group("back")[0] in "5678" for m in backs)
    for m in fronts:
        if rrn_talk or backs or ctx.anywhere(lex.rrn_back):
            kind = PiiType.FOREIGNER_RRN if foreigner_talk or foreign_back else PiiType.RRN
            yield Candidate(kind, m.start(), m.end(), 0.8)


def cards_and_imeis(ctx: Context) -> Iterator[Candidate]:
    """Payment cards (Luhn) and IMEIs (15 digits, Luhn), told apart by context and prefix."""
    seen: set[tuple[int, int]] = set()
    for regex in (_CARD_GROUPED, _IMEI_GROUPED, _LONG_DIGITS):
        for m in regex.finditer(ctx.text):
            span = (m.start(), m.end())
            if span in seen:
                continue
            seen.add(span)
            number = digits_of(m.group(0))
            if not 13 <= len(number) <= 19:
                continue
            valid = luhn_ok(number)
            grouped = regex is _CARD_GROUPED
            card_ctx = ctx.near(ctx.lex.positive[PiiType.CARD], *span)
            imei_ctx = ctx.near(ctx.lex.positive[PiiType.IMEI], *span)
            amex = number[:2] in ("34", "37")
            # Card score.
            if valid:
                card = 0.95 if grouped else 0.85 if len(number) == 16 else 0.8 if amex and len(number) == 15 else 0.55
            else:
                card = 0.7 if card_ctx else 0.35 if grouped else 0.0
            if imei_ctx:
                card -= 0.4
            glued = ctx.glued(*span)
            card += ctx.adjust(PiiType.CARD, *span, 0.1, 0.4) - glued
            if card > 0:
                yield Candidate(PiiType.CARD, *span, _clip(card))
            # IMEI score (15 digits only).
            if len(number) == 15 and not grouped:
                if imei_ctx:
                    imei = 0.95 if valid else 0.7
                else:
                    imei = 0.6 if valid and not amex and not card_ctx else 0.2
                imei += ctx.adjust(PiiType.IMEI, *span, 0.0, 0.4) - glued
                yield Candidate(PiiType.IMEI, *span, _clip(imei))


def accounts(ctx: Context) -> Iterator[Candidate]:
    """Bank account numbers: 10–14 digits, strong with a bank name or account word, weak without."""
    for m in _ACCOUNT.finditer(ctx.text):
        raw = m.group(0)
        number = digits_of(raw)
        if not 10 <= len(number) <= 14:
            continue
        groups = re.split(r"[ \-]", raw)
        if any(len(g) == 0 for g in groups):
            continue
        hyphenated = "-" in raw and " " not in raw
        # 080-123-4567, 0505-123-4567: shaped like a (business) phone number, not an account.
        phone_shaped = groups[0].startswith("0") and len(groups[0]) <= 4 and len(groups) == 3 and len(groups[2]) == 4
        if hyphenated and len(groups) >= 3 and not _YEAR_LIKE.match(groups[0]) and not phone_shaped:
            score = 0.6
        else:
            score = 0.3
        score += ctx.adjust(PiiType.ACCOUNT, m.start(), m.end(), 0.3 if score < 0.5 else 0.25, 0.4)
        score -= ctx.glued(m.start(), m.end())
        yield Candidate(PiiType.ACCOUNT, m.start(), m.end(), _clip(score))


def driver_licenses(ctx: Context) -> Iterator[Candidate]:
    """Driver's licence numbers: "11-12-345678-90" (region code 11–28) or "서울 12-345678-90"."""
    for m in _DRIVER.finditer(ctx.text):
        rc = m.group("rc")
        if rc is not None and not 11 <= int(rc) <= 28:
            continue
        score = 0.9 + ctx.adjust(PiiType.DRIVER_LICENSE, m.start(), m.end(), 0.07, 0.3)
        yield Candidate(PiiType.DRIVER_LICENSE, m.start(), m.end(), _clip(score))
    for m in _LONG_DIGITS.finditer(ctx.text):
        if len(m.group(0)) == 12 and 11 <= int(m.group(0)[:2]) <= 28 and ctx.near(
            ctx.lex.positive[PiiType.DRIVER_LICENSE], m.start(), m.end()
        ):
            yield Candidate(PiiType.DRIVER_LICENSE, m.start(), m.end(), _clip(0.9 - ctx.glued(m.start(), m.end())))


def passports(ctx: Context) -> Iterator[Candidate]:
    """Passport numbers: a letter and eight digits (M12345678) or the 2021 form M123A4567."""
    for m in _PASSPORT.finditer(ctx.text):
        letter = m.group(0)[0]
        score = 0.6 if letter in _KOREAN_PASSPORT_LETTERS else 0.3
        score += ctx.adjust(PiiType.PASSPORT, m.start(), m.end(), 0.35, 0.4)
        yield Candidate(PiiType.PASSPORT, m.start(), m.end(), _clip(score))


def card_security(ctx: Context) -> Iterator[Candidate]:
    """Card expiry (MM/YY, MM/YYYY, MMYY) next to an expiry word in an utterance about a card, and a 3–4 digit
    security code right after CVC/CVV/보안코드. Dates and short numbers elsewhere stay readable."""
    lex = ctx.lex
    cvc_word = lex.positive[PiiType.CARD_CVC]
    about_card = (
        ctx.anywhere(lex.positive[PiiType.CARD]) or ctx.anywhere(cvc_word) or _ANY_CARD_DIGITS.search(ctx.text)
    )
    expiry_spans: list[tuple[int, int]] = []
    if about_card:
        for m in _EXPIRY.finditer(ctx.text):
            if ctx.near(lex.positive[PiiType.CARD_EXPIRY], m.start(), m.end()):
                expiry_spans.append((m.start(), m.end()))
                yield Candidate(PiiType.CARD_EXPIRY, m.start(), m.end(), 0.9)
    for m in _CVC.finditer(ctx.text):
        if (m.start(), m.end()) in expiry_spans:
            continue
        lo = max(0, m.start() - _CVC_WINDOW)
        if cvc_word.search(ctx.lower, lo, m.start()):
            yield Candidate(PiiType.CARD_CVC, m.start(), m.end(), 0.85)


RECOGNIZERS = (
    emails,
    phones,
    registration_numbers,
    split_registration_numbers,
    cards_and_imeis,
    accounts,
    driver_licenses,
    passports,
    card_security,
)
