"""Korean particles after a variable word: 으로/로, 이/가, 을/를, 은/는, 과/와 chosen from how the word ends.

Templates write a particle that depends on a value in the usual Korean double notation, "{plan}(으)로",
"{name}은(는)", "{device}을(를)"; :func:`resolve` (run on every rendered template) keeps the one form that
fits the text before it: "5G 스탠다드로", "5G 슬림으로", "5G 스탠다드(월 69,000원)로", "이메일로". The choice
follows the last *pronounced* sound:

- a Hangul syllable: its final consonant (받침); 으로 becomes 로 after ㄹ (``서울로``);
- a bracketed aside at the end is skipped (``5G 스탠다드(월 69,000원)`` is read as ``5G 스탠다드``);
- digits as read in Korean: 0 영, 1 일, 3 삼, 6 육, 7 칠, 8 팔 and 10/100/1,000/10,000 (십 백 천 만) end in a
  consonant, 2 이, 4 사, 5 오, 9 구 do not; 1, 7, 8 end in ㄹ;
- Latin letters: an acronym or a single letter by the letter's Korean name (L 엘, M 엠, N 엔, R 알 end in a
  consonant), a word by spelling (…m, …n, …ng, …l, …k, …p, …t, …b, a silent final e after one of those:
  ``phone`` 폰); ``GB``/``MB``/``KB`` are read as 기가바이트 etc., ``kbps``/``Mbps`` as …피에스.

Deterministic and dependency-free: the words joined here are plan, pass, channel and device names, amounts and
ids, whose pronunciation these rules cover; a morphological analyser adds nothing for them.
"""

from __future__ import annotations

import re
from typing import Literal

Ending = Literal["vowel", "consonant", "rieul"]

# particle (either form as written in a template) → (after a consonant, after a vowel)
_PAIRS: dict[str, tuple[str, str]] = {}
for _with, _without in (("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"), ("으로", "로"), ("이나", "나"),
                        ("이라고", "라고"), ("이에요", "예요"), ("이며", "며"), ("이고", "고"), ("이라", "라"),
                        ("으로는", "로는"), ("으로도", "로도"), ("이랑", "랑"), ("아", "야")):
    _PAIRS[_with] = _PAIRS[_without] = (_with, _without)

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL = 8  # index of ㄹ among the 28 final-consonant slots
_DIGIT_ENDING: dict[str, Ending] = {
    "0": "consonant", "1": "rieul", "2": "vowel", "3": "consonant", "4": "vowel",
    "5": "vowel", "6": "consonant", "7": "rieul", "8": "rieul", "9": "vowel",
}
_LETTER_CONSONANT = {"l": "rieul", "r": "rieul", "m": "consonant", "n": "consonant"}
_UNIT_ENDING: dict[str, Ending] = {"gb": "vowel", "mb": "vowel", "kb": "vowel", "tb": "vowel",
                                   "kbps": "vowel", "mbps": "vowel", "gbps": "vowel"}
_ASIDE = re.compile(r"\s*(\([^()]*\)|\[[^\[\]]*\])\s*$")
_TRAILING = re.compile(r"[\s\"'”’」』.,·…~!?]+$")


def ending(word: str) -> Ending | None:
    """How ``word`` ends when read aloud; None when it cannot be told (no letters, digits or syllables)."""
    word = _TRAILING.sub("", word)
    while True:  # "5G 스탠다드(월 69,000원)" → "5G 스탠다드"
        stripped = _ASIDE.sub("", word)
        if stripped == word or not stripped:
            break
        word = _TRAILING.sub("", stripped)
    if not word:
        return None
    last = word[-1]
    if _HANGUL_FIRST <= ord(last) <= _HANGUL_LAST:
        final = (ord(last) - _HANGUL_FIRST) % 28
        return "vowel" if final == 0 else "rieul" if final == _RIEUL else "consonant"
    if last.isdigit():
        digits = re.search(r"[\d,]*\d$", word).group().replace(",", "")  # type: ignore[union-attr]
        if last == "0" and digits.strip("0"):  # 10 십, 100 백, 1000 천, 10000 만, …: all end in a consonant
            return "consonant"
        return _DIGIT_ENDING[last]
    if last == "%":
        return "vowel"  # 퍼센트
    match = re.search(r"[A-Za-z]+$", word)
    if match:
        return _latin_ending(match.group())
    return None


def _latin_ending(token: str) -> Ending:
    lower = token.lower()
    if lower in _UNIT_ENDING:
        return _UNIT_ENDING[lower]
    if len(token) == 1 or token.isupper():  # read letter by letter: "5G" 지, "LTE" 이, "MMS" 에스, "HTML" 엘
        return _LETTER_CONSONANT.get(lower[-1], "vowel")  # type: ignore[return-value]
    if lower.endswith("ng") or lower[-1] in "mnkptb":
        return "consonant"
    if lower.endswith("l"):
        return "rieul"
    if len(lower) >= 3 and lower.endswith("e") and lower[-2] in "mnlkpt" and lower[-3] in "aeiouy":  # phone, line
        return "rieul" if lower[-2] == "l" else "consonant"
    return "vowel"


def particle(word: str, wanted: str) -> str:
    """The form of particle ``wanted`` (either form: "으로" or "로") that follows ``word``."""
    with_final, without = _PAIRS[wanted]
    end = ending(word)
    if end is None:
        return wanted
    if end == "vowel":
        return without
    if end == "rieul" and with_final.startswith("으로"):
        return without  # 서울로, 일로, "엘로"
    return with_final


def attach(word: str, wanted: str) -> str:
    """``word`` followed by the right form of particle ``wanted``: attach("5G 스탠다드", "으로") → "5G 스탠다드로"."""
    return word + particle(word, wanted)


# the double notation as written in templates: "(으)로", "을(를)", "(이)나", …
_NOTATION = re.compile(r"\(으\)로|([은는이가을를과와])\(([은는이가을를과와])\)|\(이\)(나|라고|라|며|고|랑|에요)")


def _resolve_one(match: re.Match[str]) -> str:
    before = match.string[:match.start()]
    if match.group(0) == "(으)로":
        wanted = "으로"
    elif match.group(1):
        wanted = match.group(1)
    else:
        wanted = "이" + match.group(3)
    if wanted not in _PAIRS:  # "을(가)": not a pair, left as written
        return match.group(0)
    return particle(before, wanted) if ending(before) is not None else _PAIRS[wanted][0]


def resolve(text: str) -> str:
    """Replace each double notation ("(으)로", "은(는)", …) by the form that fits the word before it."""
    if "(" not in text:
        return text
    return _NOTATION.sub(_resolve_one, text)
