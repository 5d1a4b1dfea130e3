"""Korean dialogue cues: yes/no, slot values (GB, plan, pass, country, line, reason) from an utterance.

Rules, not a model: these decide what gets executed, so they must be predictable and testable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sangdam.orchestrator.resources import load_resource


@lru_cache(maxsize=1)
def lexicon() -> dict[str, Any]:
    return load_resource("dialogue/lexicon.yaml")


def needs_reasoning(text: str) -> bool:
    """A read request that compares, ranks or asks why over figures ("회선 중에 데이터 제일 많이 쓰는 게 어디예요?",
    "지난달보다 왜 더 나왔어요?", "compare my last bills"): lexicon ``reasoning``."""
    cues = lexicon()["reasoning"]
    flat = compact(text)
    if any(cue in flat for cue in cues["cues"]):
        return True
    lowered = text.lower()
    return any(re.search(rf"(?<![a-z]){word}(?![a-z])", lowered) for word in cues["english"])


def _reports_state(verb: str) -> bool:
    """"안 돼요", "안 켜져요", "안 터져요", "안 걸려요": what the line does, not what the customer will do."""
    return verb in ("되", "걸리", "보이", "들리", "열리", "잡히", "오", "가") or verb.endswith("지")


def declines_doing(text: str) -> bool:
    """The customer says *not* to do something ("해지 안 할게요", "충전은 안 해도 돼요", "로밍 켜지 마세요",
    "해지는 하지 않을게요", "충전 필요 없어요"), not as a question: a request for nothing. "안 돼요" reports a fault
    and "안내" is a noun; neither is a refusal."""
    from sangdam.korean.analyzer import get_kiwi

    if "?" in text:
        return False
    toks = get_kiwi().tokenize(text)
    for k, tok in enumerate(toks):
        nxt = toks[k + 1] if k + 1 < len(toks) else None
        passive = [t.form for t in toks[k + 2:k + 4]] in (["어", "지"], ["아", "지"])  # "안 켜져요": 켜 + 어지
        if tok.form == "안" and tok.tag == "MAG" and nxt is not None and nxt.tag.startswith("V") \
                and not _reports_state(nxt.form) and not passive:
            return True
        if tok.tag == "VX" and (tok.form == "않" or (tok.form == "말" and k > 0 and toks[k - 1].form == "지")):
            return True
        if tok.form == "필요" and nxt is not None and nxt.form == "없":
            return True
    return False


def asks_for_change(text: str) -> bool:
    """Whether the message asks for a change to be made ("요금 내줘", "1기가만 넣어줘", "10월분 정산 진행해 주세요",
    "데이터 1기가 충전"), not only to be shown or told something ("현황을 표로 정리해 주세요", "정체를 짚어 주세요",
    "왜 더 나왔어요?"); a refusal ("해지 안 할게요") asks for none. Lexicon ``change_request``."""
    from sangdam.korean.analyzer import get_kiwi

    if declines_doing(text):
        return False
    cues = lexicon()["change_request"]
    reads, changes = set(cues["read_verbs"]), set(cues["change_nouns"])
    toks = get_kiwi().tokenize(text)
    if any(t.tag.startswith("NN") and t.form in changes for t in toks):
        return True
    intents = set(cues["intent_endings"])
    for k, tok in enumerate(toks):
        asked = (tok.tag == "VX" and tok.form == "주") or (tok.tag == "NNG" and tok.form == "부탁") \
            or (tok.tag == "EF" and tok.form in intents)  # "맞출래요", "정산할게요", "진행하자"
        if not asked or k < 1:
            continue
        verb = next((t for t in reversed(toks[:k]) if t.tag in ("VV", "XSV", "NNG")), None)
        if verb is None:
            continue
        head = verb.form
        if verb.tag == "XSV":  # "정리하다", "진행하다": the noun before 하 is the verb's meaning
            at = toks.index(verb)
            head = toks[at - 1].form if at > 0 else head
        if head not in reads:
            return True
    return False


def compact(text: str) -> str:
    """Lower-cased text without whitespace, for cue matching that ignores Korean spacing variants."""
    return re.sub(r"\s+", "", text).lower()


def _has_any(text: str, cues: Iterable[str]) -> bool:
    c = compact(text)
    return any(compact(cue) in c for cue in cues)


# "안 돼요" is left out: on a telecom line it mostly reports a symptom ("해 봤는데 안 돼요"), not a refusal.
_NEG_OVERRIDE = re.compile(r"(안\s*(해|할)|하지\s*마|취소|아니|싫|됐어|그만|필요\s*없)")
# Words that answer yes by themselves; inside a sentence these syllables mean other things.
_YES = r"(네+|넵|넹|예|응+|어+|웅|ㅇㅇ|ㅇㅋ|ㄱㄱ|고고|ok|okay|yes|yep|yeah|sure|좋아요?|좋습니다|그래요?|맞아요?|맞습니다|콜)"
# A leading short answer ("네", "네, 그걸로요", "응 해줘").
_SHORT_YES = re.compile(rf"^{_YES}(?=$|[\s.,!~?요])", re.I)


def is_negative(text: str) -> bool:
    """The customer declines ("아니요", "취소할게요", "안 할래요")."""
    return bool(_NEG_OVERRIDE.search(text)) or _has_any(text, lexicon()["negative"])


def is_affirmative(text: str) -> bool:
    """The customer agrees ("네", "네 해주세요", "좋아요 진행해 주세요"); a decline always wins."""
    return leads_with_yes(text) or (not is_negative(text) and _has_any(text, lexicon()["affirmative"]))


def leads_with_yes(text: str) -> bool:
    """The message opens with a plain yes ("네, 아시아 5일짜리로 해주세요"), and declines nothing.

    A request verb alone ("아시아 5일로 해주세요", what a choice button sends) is a choice, not an agreement.
    """
    return not is_negative(text) and bool(_SHORT_YES.match(text.strip()))


# Whole answers, yes or no ("알겠어요", "아니요", "취소", "안 할래요"): nothing but the answer.
_YES_NO = (rf"({_YES}|알겠어요|알겠습니다|알았어요?|아니요?|아니오|아뇨|괜찮아요|괜찮습니다|됐어요?|됐습니다|no|nope|싫어요?"
           r"|싫습니다|취소|그만|안\s*할래요?|안\s*할게요|안\s*해요?|필요\s*없어요?)")
_GENERIC_TAIL = (r"[\s.,!~?]*(진행|해|신청|변경|충전|연결|부탁|취소)?\s*(해\s*)?"
                 r"(주세요|줘요?|주십시오|드려요|드릴게요|할게요|할께요|합니다|드립니다|요)?[\s.,!~?]*$")


# "지금 바로", "빨리", "그냥": urging, no content of its own ("지금 바로 해주세요" is an answer, not a request).
_URGE = r"(지금|바로|당장|즉시|얼른|빨리|어서|그냥|다|전부|모두|전부\s*다)"  # "다 취소해 주세요": all of it
_GAP = r"[\s.,!~?]*"
# An interjection before the answer ("아 취소", "음 네"): no content of its own.
_LEAD = r"((아|앗|음|흠|헐|에이|아이고)[\s.,!~?]+)?"


@lru_cache(maxsize=1)
def _short_answer() -> re.Pattern[str]:
    anaphora = "|".join(re.escape(compact(a)) for a in sorted(lexicon()["anaphora"], key=len, reverse=True))
    return re.compile(rf"^{_GAP}(({_YES_NO}|{_URGE}){_GAP}){{0,4}}({anaphora})?{_GAP}({_URGE}{_GAP}){{0,3}}{_GENERIC_TAIL}", re.I)


_LEADING = re.compile(rf"^{_LEAD}")


_BARE_YES_NO = re.compile(rf"^{_GAP}{_YES_NO}{_GAP}{_YES_NO}?{_GENERIC_TAIL}", re.I)


def is_short_answer(text: str) -> bool:
    """A bare yes/no or a pointer at the proposal with a generic verb ("네 진행해 주세요", "좋아요 해줘",
    "그걸로 해주세요"): nothing in it but the answer."""
    text = _LEADING.sub("", text.strip(), count=1)
    return len(text) <= 20 and bool(_short_answer().match(compact(text)))


_THEN = re.compile(r"^\s*(그럼|그러면|그렇다면|그럼요|then|ok\s*then)[\s,.]*", re.I)


def takes_up(text: str) -> bool:
    """The customer takes up what was just offered ("네", "그럼 그걸로 해 주세요", "네 진행해 주세요"), nothing else."""
    rest = _THEN.sub("", text, count=1)
    return bool(rest.strip()) and is_short_answer(rest) and not is_negative(rest)


def names_nothing(text: str) -> bool:
    """A request with no object of its own ("그럼 바꿔줘", "그럼 충전해 주세요", "켜 주세요"): only a verb (a
    predicate noun with 하다 counts as the verb), so it can only mean the action just talked about."""
    from sangdam.korean.analyzer import get_kiwi

    rest = _THEN.sub("", text, count=1)
    toks = get_kiwi().tokenize(rest)
    for k, tok in enumerate(toks):
        nxt = toks[k + 1] if k + 1 < len(toks) else None
        if tok.tag in ("NNG", "NNP", "SN", "SL", "SH", "NR") and not (nxt is not None and nxt.tag == "XSV"):
            return False
    return bool(toks)


def is_bare_yes_no(text: str) -> bool:
    """Only "네" or "아니요" (with a generic verb at most): an answer, whether or not anything was asked."""
    text = _LEADING.sub("", text.strip(), count=1)
    return len(text) <= 20 and bool(_BARE_YES_NO.match(text))


def is_question(text: str) -> bool:
    """A question ("얼마예요?", "언제 적용되나요") — about a proposal it is never a yes."""
    return _has_any(text, lexicon()["question"])


def mentions_proposal(text: str) -> bool:
    """Words that point at the proposed action ("충전하면", "이거", "적용")."""
    return _has_any(text, lexicon()["about_proposal"])


def asks_to_wait(text: str) -> bool:
    """"잠깐만요", "생각 좀 해 볼게요": the proposal stays pending."""
    return _has_any(text, lexicon()["hold"])


@lru_cache(maxsize=1)
def _correction_marker() -> re.Pattern[str]:
    markers = sorted(lexicon()["correction_markers"], key=len, reverse=True)
    return re.compile("|".join(re.escape(m) for m in markers))


def after_correction(text: str) -> tuple[bool, str]:
    """(whether the message takes something back, the part that says what instead).

    "2기가 말고 3기가로 해주세요" → (True, " 3기가로 해주세요"); "3기가로 해주세요" → (False, the whole text).
    """
    hits = list(_correction_marker().finditer(text))
    if not hits:
        return False, text
    return True, text[hits[-1].end():]


_WAIVER = re.compile(r"^.*?(됐고|됐구요|됐고요|필요\s*없고)\s*[,.]?")


def after_waiver(text: str) -> str:
    """The message after what it lets go ("충전은 됐고 로밍 켜줘" → "로밍 켜줘"); the whole text without one."""
    return _WAIVER.sub("", text, count=1)


_ALL = re.compile(r"(^|\s)(다|전부|모두|둘\s*다|전부\s*다)\s*(취소|안\s*할|안\s*해|필요\s*없|그만|됐)")


def declines_all(text: str) -> bool:
    """A no to everything that is open ("다 취소해 주세요", "둘 다 안 할게요")."""
    return bool(_ALL.search(text))


def changes_payment_method(text: str) -> bool:
    """A change of how bills are paid ("자동이체 카드 바꾸고 싶어요", "결제 수단 변경"), which is not paying one."""
    c = compact(text)
    cues = lexicon()["payment_method"]
    return any(compact(w) in c for w in cues["what"]) and any(compact(w) in c for w in cues["change"])


def names_cancellation(text: str) -> bool:
    """The customer says in words that they want the line ended ("해지", "해약", "끊을게요"): an irreversible
    request is never started from a message that does not name it."""
    return _has_any(text, lexicon()["cancellation"])


def wants_immediate(text: str) -> bool:
    return _has_any(text, lexicon()["immediate"]) and not _has_any(text, lexicon()["next_cycle"])


def wants_next_cycle(text: str) -> bool:
    return _has_any(text, lexicon()["next_cycle"])


def suspend_reason(text: str) -> str | None:
    for reason, cues in lexicon()["suspend_reasons"].items():
        if _has_any(text, cues):
            return reason
    return None


def says_not_resolved(text: str) -> bool:
    """Troubleshooting: the customer reports the step did not help ("그래도 안 돼요", "해봤는데 그대로예요")."""
    return _has_any(text, lexicon()["not_resolved"])


def says_resolved(text: str) -> bool:
    """Troubleshooting: the customer reports the problem is gone."""
    return not says_not_resolved(text) and _has_any(text, lexicon()["resolved"])


_GB = re.compile(r"(\d+(?:\.\d+)?)\s*(?:gb|기가|지비|기가바이트)", re.I)  # never bare "G": 5G is a network
_GB_WORD = re.compile(r"(한|하나|두|둘|세|셋|네|넷|다섯|여섯|일곱|여덟|아홉|열)\s*(?:기가|gb|지비)", re.I)


def extract_gb(text: str) -> float | None:
    """A data amount in GB ("2기가", "3GB", "두 기가"), or None."""
    m = _GB.search(text)
    if m:
        return float(m.group(1))
    m = _GB_WORD.search(text)
    if m:
        return float(lexicon()["korean_counts"][m.group(1)])
    return None


_MONTH = re.compile(r"(?<!\d)(1[0-2]|[1-9])\s*월")
_LAST_MONTH = re.compile(r"(지난\s*달|저번\s*달|전\s*달|지난달)")


def mentioned_period(text: str, today: Any) -> str | None:
    """The billing period (YYYY-MM) a customer names: "9월" (the latest such month not after today),
    "지난달"; None when no month is named."""
    m = _MONTH.search(text)
    if m:
        month = int(m.group(1))
        year = today.year if month <= today.month else today.year - 1
        return f"{year:04d}-{month:02d}"
    if _LAST_MONTH.search(text):
        first = today.replace(day=1)
        prev = first.replace(year=first.year - 1, month=12) if first.month == 1 else first.replace(month=first.month - 1)
        return f"{prev.year:04d}-{prev.month:02d}"
    return None


def _norm_name(name: str) -> str:
    return compact(name).replace("요금제", "")


def match_by_name(text: str, items: Sequence[Any], attr: str = "name") -> list[Any]:
    """Items whose name (or a distinctive part of it) appears in ``text``, longest match first.

    "5G 슬림" matches "5g슬림으로", "슬림 요금제"; "아시아 5일" matches "아시아5일짜리".
    """
    c = compact(text)
    exact = [it for it in items if _norm_name(_get(it, attr)) in c]
    if exact:
        return sorted(exact, key=lambda it: -len(_norm_name(_get(it, attr))))
    # Distinctive tail ("슬림", "프리미엄"): the last word of the name, when it is unique among items.
    tails: dict[str, list[Any]] = {}
    for it in items:
        tail = compact(_get(it, attr).split()[-1])
        tails.setdefault(tail, []).append(it)
    return [group[0] for tail, group in tails.items() if len(group) == 1 and len(tail) >= 2 and tail in c]


def _get(item: Any, attr: str) -> str:
    return item[attr] if isinstance(item, dict) else getattr(item, attr)


_ORDINAL = {"첫": 0, "두": 1, "세": 2, "네": 3, "다섯": 4,
            "first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "1st": 0, "2nd": 1, "3rd": 2}
_ORDINAL_RE = re.compile(r"(첫|두|세|네|다섯)\s*(?:번째|번\s*째)|(?<!\d)([1-5])\s*번"
                         r"|(?<![a-z])(first|second|third|fourth|fifth|1st|2nd|3rd)(?![a-z])", re.I)
_CHEAPEST = re.compile(r"(제일|가장|젤)\s*(싼|저렴)|(?<![a-z])cheapest(?![a-z])", re.I)
_LAST_ONE = re.compile(r"(마지막|맨\s*끝|맨\s*아래)|(?<![a-z])last(?![a-z])", re.I)


def asks_cheapest(text: str) -> bool:
    """"제일 싼 걸로", "가장 저렴한 거", "cheapest"."""
    return bool(_CHEAPEST.search(text))


def listed_position(text: str, count: int) -> int | None:
    """Index of the option a customer points at in a list shown cheapest first ("두 번째", "2번", "제일 싼 거",
    "마지막 거", "the second one", "cheapest")."""
    m = _ORDINAL_RE.search(text)
    if m:
        word = m.group(1) or (m.group(3) or "").lower()
        idx = _ORDINAL[word] if word else int(m.group(2)) - 1
        return idx if idx < count else None
    if _CHEAPEST.search(text) and count:
        return 0
    if _LAST_ONE.search(text) and count:
        return count - 1
    return None


_LAST4_REF = re.compile(r"(?:끝\s*자리|뒷\s*자리|뒷\s*번호|끝\s*번호)\s*(?:가|는|이|번호)?\s*(\d{4})(?!\d)|(?<!\d)(\d{4})\s*(?:번\s*)?(?:회선|번호|폰)")


def named_last4(text: str) -> str | None:
    """Four digits the customer names a line by ("끝자리 3333", "0013 회선"), or None."""
    m = _LAST4_REF.search(text)
    return (m.group(1) or m.group(2)) if m else None


@lru_cache(maxsize=1)
def _other_person() -> re.Pattern[str]:
    people = "|".join(re.escape(p) for p in sorted(lexicon()["other_person"], key=len, reverse=True))
    things = "|".join(re.escape(t) for t in sorted(lexicon()["line_things"], key=len, reverse=True))
    return re.compile(rf"({people})\s*(?:의|네|님)?\s*(?:{things})|({people})\s*(?:이|가|님이)\s*(?:쓰는|사용하는|쓰고)")


def names_other_person(text: str) -> bool:
    """Another person's line, phone or bill ("아들 회선", "엄마 폰", "딸이 쓰는 번호")."""
    return bool(_other_person().search(text))


_LAST4 = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def match_line(text: str, lines: Sequence[Any]) -> Any | None:
    """The line whose number ends with four digits mentioned in ``text`` ("끝자리 3333")."""
    for m in _LAST4.finditer(text):
        hits = [ln for ln in lines if re.sub(r"\D", "", _get(ln, "number")).endswith(m.group(1))]
        if len(hits) == 1:
            return hits[0]
    return None


def asks_what_if(text: str) -> bool:
    """A question about what an action would do, not a request to do it ("요금제 바꾸면 언제부터 적용돼요?",
    "지금 해지하면 위약금 나와요?"); "바꾸면 좋겠어요, 바꿔 주세요" asks to do it."""
    from sangdam.korean.analyzer import get_kiwi

    cues = lexicon()["what_if"]
    tokens = get_kiwi().tokenize(text)
    conditional = any(t.tag == "EC" and t.form in cues["conditional_endings"] for t in tokens)
    if not conditional:
        return False
    doing = any(t.form in cues["doing_morphemes"] and (t.tag.startswith(("VX", "VV", "VA"))
                                                      or (t.tag == "NNG" and t.form in ("부탁", "요청")))
                for t in tokens)  # "이번 달" is not "해 달라"
    asking = "?" in text or any(t.tag == "EF" and t.form in cues["question_endings"] for t in tokens) or is_question(text)
    return asking and not doing


def asks_figure(text: str) -> bool:
    """The question asks for an amount or a date ("얼마", "몇", "언제")."""
    return _has_any(text, lexicon()["what_if"]["figure_words"])


def find_country(text: str) -> str | None:
    """ISO code of a country named in ``text`` ("일본", "미국 출장", "Japan"), or None."""
    from sangdam.tools.messages import country_codes

    c = compact(text)
    lowered = text.lower()
    best: tuple[int, str] | None = None
    for name, code in country_codes().items():
        key = compact(name)
        if key.isascii():  # English names as whole words only ("japan"), never codes inside words ("pin")
            found = len(key) >= 3 and re.search(rf"(?<![a-z]){re.escape(name.lower())}(?![a-z])", lowered)
        else:
            found = len(key) >= 2 and key in c
        if found and (best is None or len(key) > best[0]):
            best = (len(key), code)
    return best[1] if best else None
