"""Offset-preserving normalisation of Korean utterances.

Detection runs on a cleaned-up copy of the text (half-width forms, one kind of dash, collapsed spaces and
punctuation, spoken digits written as digits), but masking must cut the *original* text. Every character of
the normalised text therefore remembers the span of the original it came from, so a match found in the
normalised text maps back exactly (``Normalized.to_original``).

Spoken digits: callers read numbers out digit by digit, in Sino-Korean (공/영 일 이 삼 사 오 육 칠 팔 구) or
native Korean (하나 둘 셋 넷 다섯 여섯 일곱 여덟 아홉). "공일공 일이삼사 오육칠팔" becomes "010 1234 5678".
Because 이/사/오/일 are also ordinary words and particles, only runs that spell at least
``MIN_SPOKEN_RUN_DIGITS`` digits (or ``MIN_SPOKEN_ONLY_DIGITS`` spoken ones) are rewritten, and a spoken group
glued to a neighbouring word is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sangdam.korean.numbers import PLACE_VALUE_PATTERN, SINO_DIGITS, place_value_digits

# Shortest digit run (spoken and written digits together) that is rewritten. Phone numbers have >= 7 digits
# without the area code; shorter runs are far more likely to be words (이 사 오 ...).
MIN_SPOKEN_RUN_DIGITS = 7
# ... or one unbroken group of at least this many spoken digits (a birth date or RRN front half read out: 구공공사일이). No common word
# is five digit syllables long.
MIN_SPOKEN_ONLY_DIGITS = 5

_SPOKEN_DIGITS: dict[str, str] = {
    **SINO_DIGITS,
    "하나": "1", "둘": "2", "셋": "3", "넷": "4", "다섯": "5", "여섯": "6", "일곱": "7", "여덟": "8", "아홉": "9",
}  # fmt: skip
# A group said with place values ("구천" for 9000, "이천이백이십이"), tried first; then single digits, longest
# first so that 일곱 wins over 일.
_SPOKEN_ALT = "|".join([PLACE_VALUE_PATTERN, *sorted(_SPOKEN_DIGITS, key=len, reverse=True)])
_SPOKEN_GROUP = rf"(?:{_SPOKEN_ALT})+"
_DIGIT_GROUP = r"[0-9]+"
# Between groups: spaces, a dash, or the spoken "에" pause ("공일공에 일이삼사에 오육칠팔").
_GROUP_SEP = r"(?:\s*-\s*|에\s+|\s+)"
_RUN_RE = re.compile(
    rf"(?:{_SPOKEN_GROUP}|{_DIGIT_GROUP})(?:{_GROUP_SEP}(?:{_SPOKEN_GROUP}|{_DIGIT_GROUP}))*"
)
_TOKEN_RE = re.compile(rf"{_SPOKEN_ALT}|[0-9]|\s+|-|에")
# A spoken group may not touch written digits or other Hangul directly (그 "이" in "5678이" is a particle).
_HANGUL = re.compile(r"[가-힣]")
# Syllables with a final consonant: after them a trailing 이 is usually the subject particle or copula
# ("오육칠팔이에요"), not the digit 2.
# Units after a number word that make it part of a date ("팔이년", "유월"), read by the date parser instead.
_DATE_UNITS = frozenset("년월")
_BATCHIM_DIGITS = frozenset("공영빵땡일삼육륙칠팔셋넷둘곱덟천백")

# Particles and endings that attach to a number read out ("...오칠오요", "...팔로", "...삼입니다").
_ENDING_RE = re.compile(r"(?:요|입니다|이에요|예요|이고|고요|로|으로|에요|이랑|랑|하고|까지|인데|이죠|죠|는|은|를|을|가|도|만)")

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\ufe58\ufe63\uff0d"
_SPACES = "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t\r\n\f\v"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_NEEDS_CHAR_PASS = re.compile(f"[\uff01-\uff5e{_DASHES}{_SPACES}{_ZERO_WIDTH}]|  ")
_REPEATED_PUNCT = re.compile(r"([!?~.,;:])\1+")


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalised text plus, for each of its characters, the original span ``[starts[i], ends[i])``."""

    original: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the half-open span ``[start, end)`` of ``text`` to the covering span of ``original``."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"span ({start}, {end}) outside normalised text of length {len(self.text)}")
        return self.starts[start], self.ends[end - 1]


class _Builder:
    """Accumulates output characters with their original spans."""

    __slots__ = ("chars", "starts", "ends")

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    @classmethod
    def identity(cls, text: str) -> _Builder:
        """Every character maps to itself."""
        b = cls()
        b.chars = list(text)
        b.starts = list(range(len(text)))
        b.ends = list(range(1, len(text) + 1))
        return b

    def copy(self, src: _Builder, i: int, j: int) -> None:
        """Append ``src``'s characters ``[i, j)`` with their spans."""
        self.chars.extend(src.chars[i:j])
        self.starts.extend(src.starts[i:j])
        self.ends.extend(src.ends[i:j])

    def add(self, chars: str, start: int, end: int) -> None:
        for ch in chars:
            self.chars.append(ch)
            self.starts.append(start)
            self.ends.append(end)


def _char_pass(text: str) -> _Builder:
    """Width, dash and space folding (one char in, at most one out), whitespace collapsing."""
    if not _NEEDS_CHAR_PASS.search(text):
        return _Builder.identity(text)  # the common case: nothing to fold
    out = _Builder()
    for i, ch in enumerate(text):
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII block
            ch = chr(code - 0xFEE0)
        if ch in _ZERO_WIDTH:
            continue
        if ch in _DASHES:
            ch = "-"
        elif ch in _SPACES:
            ch = " "
        if ch == " " and out.chars and out.chars[-1] == " ":
            out.ends[-1] = i + 1  # the one space now stands for the whole run
            continue
        out.add(ch, i, i + 1)
    return out


def _collapse_punctuation(b: _Builder) -> _Builder:
    """"!!!" → "!", "???" → "?" and so on; "..." (three or more) stays "..." as an ellipsis."""
    text = "".join(b.chars)
    if not _REPEATED_PUNCT.search(text):
        return b
    out = _Builder()
    pos = 0
    for m in _REPEATED_PUNCT.finditer(text):
        out.copy(b, pos, m.start())
        keep = "..." if m.group(1) == "." and len(m.group(0)) >= 3 else m.group(1)
        out.add(keep, b.starts[m.start()], b.ends[m.end() - 1])
        pos = m.end()
    out.copy(b, pos, len(text))
    return out


_PART_RE = re.compile(rf"(?P<spoken>{_SPOKEN_GROUP})|(?P<digits>{_DIGIT_GROUP})|(?P<sep>{_GROUP_SEP})")


def _is_word_char(ch: str) -> bool:
    """Hangul that is not itself a spoken digit (a spoken group touching it is part of a word)."""
    return bool(_HANGUL.match(ch))


def _trim_run(text: str, s: int, e: int) -> list[tuple[str, int, int]]:
    """Split the run ``text[s:e]`` into parts (kind, start, end), dropping spoken groups that are really
    words or particles at its edges."""
    parts = [(m.lastgroup or "", s + m.start(), s + m.end()) for m in _PART_RE.finditer(text[s:e])]
    # Leading spoken group glued to a preceding word ("구입" → not 9 + 입).
    while parts and parts[0][0] == "spoken" and parts[0][1] > 0 and _is_word_char(text[parts[0][1] - 1]):
        parts = parts[1:]
        while parts and parts[0][0] == "sep":
            parts = parts[1:]
    while parts:
        kind, ps, pe = parts[-1]
        if kind == "sep":
            parts.pop()
            continue
        if kind != "spoken":
            break
        after = text[pe:pe + 2]
        glued = bool(after) and _is_word_char(after[0])
        spaced_word = len(after) == 2 and after[0] == " " and _is_word_char(after[1])
        # Trailing 이 after a syllable with a final consonant, followed by more words: a particle or copula
        # ("오육칠팔이에요", "팔이 맞아요") -- unless a copula follows it ("일이예요", "삼이입니다") or the group
        # is only as long as the one before it with the 이 ("오구공팔 삼공일이요": four and four).
        vowel_copula = glued and after[0] in "예야여입"
        if glued and after[0] in _DATE_UNITS:  # "… 팔이년 팔월": a year or month said in words, not digits
            parts.pop()
            continue
        prev = [p for p in parts[:-1] if p[0] != "sep"]
        same_length = bool(prev) and _n_digits(text, prev[-1][1], prev[-1][2]) == _n_digits(text, ps, pe)
        if (
            text[pe - 1] == "이"
            and pe - ps >= 2
            and text[pe - 2] in _BATCHIM_DIGITS
            and (glued or spaced_word)
            and not vowel_copula
            and not same_length
        ):
            parts[-1] = (kind, ps, pe - 1)
            break
        # A lone spoken syllable before another word is a word itself ("… 7547 이 카드로").
        if spaced_word and _n_digits(text, ps, pe) == 1:
            parts.pop()
            continue
        if glued and text[pe - 1] == "이" and pe - ps >= 2 and _ENDING_RE.match(text, pe - 1):
            parts[-1] = (kind, ps, pe - 1)  # "팔팔공이일사이고": the copula 이 and an ending, not a digit
            break
        if glued and not vowel_copula and not _ENDING_RE.match(text, pe):
            # "사용", "다섯개": the last group is part of a word
            parts.pop()
            continue
        break
    return parts


def _spoken_value(token: str) -> str:
    """Digits of one spoken token: a digit word ("공", "다섯") or a place-value group ("구천" → "9000")."""
    return _SPOKEN_DIGITS.get(token) or place_value_digits(token) or ""


def _n_digits(text: str, start: int, end: int) -> int:
    """Digits spelled (in words or figures) by ``text[start:end]``."""
    return sum(len(_spoken_value(t)) if not t.isdigit() else 1 for t in _TOKEN_RE.findall(text[start:end]))


def _convert_parts(text: str, parts: list[tuple[str, int, int]]) -> list[tuple[str, int, int]] | None:
    """(replacement, start, end) per output unit, or None when the run is not a spoken number."""
    pieces: list[tuple[str, int, int]] = []
    n_digits = n_spoken = longest_spoken = 0
    for kind, ps, pe in parts:
        if kind == "spoken":
            longest_spoken = max(longest_spoken, len(_TOKEN_RE.findall(text, ps, pe)))
            for m in _TOKEN_RE.finditer(text, ps, pe):
                value = _spoken_value(m.group(0))
                pieces.append((value, m.start(), m.end()))
                n_digits += len(value)
                n_spoken += len(value)
        elif kind == "digits":
            for k in range(ps, pe):
                pieces.append((text[k], k, k + 1))
            n_digits += pe - ps
        else:
            sep = text[ps:pe]
            pieces.append(("-" if "-" in sep else " " if sep.strip() != sep or not sep.strip() else "", ps, pe))
    if n_spoken == 0 or (n_digits < MIN_SPOKEN_RUN_DIGITS and longest_spoken < MIN_SPOKEN_ONLY_DIGITS):
        return None
    if longest_spoken == 1 and all(kind != "digits" for kind, _, _ in parts):
        # Read one digit at a time ("공 일 공 일 이 …"): the pauses are not group separators.
        pieces = [p if p[0] not in (" ", "-") else ("", p[1], p[2]) for p in pieces]
    return pieces


def _spoken_pass(b: _Builder) -> _Builder:
    text = "".join(b.chars)
    out = _Builder()
    pos = 0
    for m in _RUN_RE.finditer(text):
        # Cheap rejections first: written digits only, or too short to spell a number.
        if m.end() - m.start() < MIN_SPOKEN_ONLY_DIGITS or m.group(0).isascii():
            continue
        parts = _trim_run(text, m.start(), m.end())
        pieces = _convert_parts(text, parts) if parts else None
        if pieces is None:
            continue
        s, e = parts[0][1], parts[-1][2]
        out.copy(b, pos, s)
        for rep, ps, pe in pieces:
            if rep:
                out.add(rep, b.starts[ps], b.ends[pe - 1])
        pos = e
    if pos == 0:
        return b  # no spoken number in the text
    out.copy(b, pos, len(text))
    return out


def normalize(text: str, *, spoken_digits: bool = True) -> Normalized:
    """Normalise ``text`` for detection and search, keeping a map back to ``text``.

    Full-width ASCII → half-width, every dash → "-", every space (NBSP, ideographic, tabs, newlines) → one
    ASCII space, zero-width characters dropped, repeated punctuation collapsed, and (optionally) digit-by-digit
    spoken numbers written as digits.
    """
    b = _collapse_punctuation(_char_pass(text))
    if spoken_digits:
        b = _spoken_pass(b)
    return Normalized(original=text, text="".join(b.chars), starts=tuple(b.starts), ends=tuple(b.ends))


def normalize_text(text: str, *, spoken_digits: bool = False) -> str:
    """Only the normalised string (for search and display); see ``normalize``."""
    return normalize(text, spoken_digits=spoken_digits).text
