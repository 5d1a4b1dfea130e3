"""Numbers given in pieces: oddly spaced digits, a card number with its last digits said apart, and the rest
of a number in the customer's next turn.

Single utterances: ``spaced_numbers`` joins digit groups of any spacing ("9 0 0 1 0 1 - 1 2 3 …",
"010 12 34 56 78") and keeps the run when the digits form a strong shape (a mobile number, a registration number
with its context word, a Luhn-valid card with its context word); ``split_cards`` finds "카드번호 4111 1111 1111
… 마지막 1111": a 10- or 12-digit card head and, a few words later, the digits that complete it.

Across turns: ``open_pieces`` says which number the customer left unfinished at the end of an utterance (a
registration number's front half, a card head, a mobile prefix, the first groups of an account after a bank
name); ``complete`` finds, in the *next* utterance, the digits that finish it. The vault masks them as the same
type and links them to the first piece (``PiiVault.mask_utterance``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sangdam.korean.normalize import normalize
from sangdam.korean.pii.lexicon import Lexicon, get_lexicon
from sangdam.korean.pii.models import Entity, PiiType
from sangdam.korean.pii.recognizers import _LB, _RB, Candidate, Context, _clip
from sangdam.korean.pii.validators import digits_of, luhn_ok, rrn_birth_date

# Digit groups of one to four digits separated by spaces or a dash with spaces around it.
_SPACED = re.compile(_LB + r"\d{1,4}(?:(?: ?- ?| )\d{1,4}){2,}" + _RB)
_CARD_HEAD = re.compile(_LB + r"(?:\d{4}(?P<s>[ \-])\d{4}(?P=s)\d{4}|\d{4}[ \-]\d{6})" + _RB)
# A number (digit groups) that is not an amount, a count, a date part or a length ("4자리", "3개월", "69,000원").
_NUMBER = re.compile(r"(?<![0-9,.])\d+(?:[ \-]\d+)*(?![0-9]|[,.]\d| ?(?:자리|원|개|월|일|년|시|분|초|살|세|번째|기가|%|GB|MB))")
# Words that say "the rest of the number" between two pieces.
_REST_WORDS = re.compile(r"마지막|나머지|뒷|뒤|끝|다음|이어서")
_MOBILE_HEAD = re.compile(r"(?<![0-9])01[016789](?:[ \-]?\d{3,4})?$")
_TAIL_WINDOW = 24


def spaced_numbers(ctx: Context) -> Iterator[Candidate]:
    """Phones, registration numbers and cards written with odd spacing ("0 1 0 1 2 3 4 …")."""
    lex = ctx.lex
    for m in _SPACED.finditer(ctx.text):
        number, span = digits_of(m.group(0)), (m.start(), m.end())
        if len(number) == 11 and re.match(r"01[016789]", number):
            yield Candidate(PiiType.PHONE, *span, _clip(0.85 + ctx.adjust(PiiType.PHONE, *span, 0.05, 0.4)))
        elif len(number) == 13 and rrn_birth_date(number[:6], number[6]) is not None:
            kind = PiiType.FOREIGNER_RRN if number[6] in "5678" else PiiType.RRN
            if ctx.near(lex.positive[PiiType.RRN], *span) or ctx.near(lex.positive[PiiType.FOREIGNER_RRN], *span):
                yield Candidate(kind, *span, 0.85)
        elif 13 <= len(number) <= 19 and luhn_ok(number) and ctx.near(lex.positive[PiiType.CARD], *span):
            yield Candidate(PiiType.CARD, *span, 0.9)


def _tail_after(text: str, pos: int, head: str) -> re.Match[str] | None:
    """The first number within ``_TAIL_WINDOW`` characters after ``pos`` that completes the card ``head``."""
    for m in _NUMBER.finditer(text, pos, min(len(text), pos + _TAIL_WINDOW + 8)):
        if m.start() - pos > _TAIL_WINDOW:
            return None
        number = head + digits_of(m.group(0))
        rest_word = _REST_WORDS.search(text, pos, m.start()) is not None
        if 13 <= len(number) <= 19 and (luhn_ok(number) or rest_word):
            return m
        return None
    return None


def split_cards(ctx: Context) -> Iterator[Candidate]:
    """A card number's head (10 or 12 digits) next to a card word, and its last digits said a few words later.
    A head alone is masked too: it is most of a card number."""
    for m in _CARD_HEAD.finditer(ctx.text):
        if not ctx.near(ctx.lex.positive[PiiType.CARD], m.start(), m.end()):
            continue
        yield Candidate(PiiType.CARD, m.start(), m.end(), 0.75)
        tail = _tail_after(ctx.text, m.end(), digits_of(m.group(0)))
        if tail is not None:
            yield Candidate(PiiType.CARD, m.start(), m.end(), 0.9)
            yield Candidate(PiiType.CARD, tail.start(), tail.end(), 0.9)


@dataclass(frozen=True, slots=True)
class OpenPiece:
    """The start of a number an utterance left unfinished: ``span`` (in that utterance) when it was masked there,
    and ``ref``, its vault reference."""

    type: PiiType
    digits: str
    span: tuple[int, int] | None = None
    ref: str | None = None


def open_pieces(text: str, entities: Sequence[Entity]) -> list[OpenPiece]:
    """Unfinished numbers at the end of ``text`` (whose detected entities are ``entities``): a registration
    number's front half or a card head that was masked, a mobile prefix after a phone word, or an account's
    first groups after a bank name. At most one: the last number of the utterance."""
    lex = get_lexicon()
    norm = normalize(text)
    numbers = list(_NUMBER.finditer(norm.text))
    if not numbers:
        return []
    last = numbers[-1]
    start, end = norm.to_original(last.start(), last.end())
    digits = digits_of(last.group(0))
    for ent in entities:
        if (ent.start, ent.end) == (start, end):
            if ent.type in (PiiType.RRN, PiiType.FOREIGNER_RRN) and len(digits) == 6:
                return [OpenPiece(ent.type, digits, span=(start, end))]
            if ent.type is PiiType.CARD and 8 <= len(digits) <= 15:
                return [OpenPiece(PiiType.CARD, digits, span=(start, end))]
        if ent.start < end and start < ent.end:
            return []
    ctx = Context(norm.text, lex)
    if _MOBILE_HEAD.search(last.group(0)) and ctx.near(lex.positive[PiiType.PHONE], last.start(), last.end()):
        return [OpenPiece(PiiType.PHONE, digits)]
    if 3 <= len(digits) <= 9 and (
        ctx.near(lex.bank, last.start(), last.end()) or ctx.near(lex.positive[PiiType.ACCOUNT], last.start(), last.end())
    ):
        return [OpenPiece(PiiType.ACCOUNT, digits)]
    return []


def _completes(piece: OpenPiece, digits: str, rest_word: bool) -> PiiType | None:
    """The type of the whole number when ``digits`` finish ``piece``, else None."""
    whole = piece.digits + digits
    if piece.type in (PiiType.RRN, PiiType.FOREIGNER_RRN):
        if len(digits) == 7 and rrn_birth_date(piece.digits, digits[0]) is not None:
            return PiiType.FOREIGNER_RRN if digits[0] in "5678" or piece.type is PiiType.FOREIGNER_RRN else PiiType.RRN
        return None
    if piece.type is PiiType.CARD:
        return PiiType.CARD if 13 <= len(whole) <= 19 and (luhn_ok(whole) or rest_word) else None
    if piece.type is PiiType.PHONE:
        return PiiType.PHONE if len(whole) == 11 else None
    return PiiType.ACCOUNT if 10 <= len(whole) <= 14 else None


def complete(text: str, pieces: Sequence[OpenPiece], lex: Lexicon | None = None) -> list[tuple[Entity, OpenPiece]]:
    """In ``text`` (the next utterance), the number that finishes one of ``pieces``: its first number, unless
    a negative word (주문번호, 접수 …) introduces it."""
    if not pieces:
        return []
    lex = lex or get_lexicon()
    norm = normalize(text)
    m = _NUMBER.search(norm.text)
    if m is None or Context(norm.text, lex).near(lex.negative, m.start(), m.end()):
        return []
    rest_word = _REST_WORDS.search(norm.text, 0, m.start()) is not None
    for piece in pieces:
        kind = _completes(piece, digits_of(m.group(0)), rest_word)
        if kind is not None:
            start, end = norm.to_original(m.start(), m.end())
            return [(Entity(type=kind, start=start, end=end, score=0.8), piece)]
    return []


PIECE_RECOGNIZERS = (spaced_numbers, split_cards)
