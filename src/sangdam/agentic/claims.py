"""Claim-level check of the LLM agent's answers: a real number attached to the wrong thing, a state the records deny.

The verifier only asks whether each number of an answer appears *somewhere* in this turn's facts; a small model
passes it with "현재의 할부금은 69000원입니다." (69,000 is a plan's price) or "평균 데이터 사용량은 12GB입니다." (12 is
the plan's allowance), and no number check catches "9월과 10월의 요금은 모두 냈습니다." to a customer whose September
bill is overdue. ``check_claims`` adds two rules, table-driven by ``resources/lexicons/claims.ko.yaml``:

1. **Numbers bound to their concept.** Each money amount (원, 만원) or data size (GB, 기가) of a sentence is read with
   the words around it, up to the neighbouring numbers or clause breaks (nouns before it, verbs after it: "할부금은
   69,000원", "4.5GB 사용하셨습니다"). When those words name concepts (할부, 사용량, 제공량 …), at least one fact
   holding that value must belong to one of them: by its key path (``device_installment_left_krw``,
   ``last_months.data_gb``), by its record's name (a bill item "데이터 충전"), by its record's state (an unpaid
   bill's amount is an overdue amount), or, for a number written in a text fact, by the words around it there.
   A sentence that names no concept passes as before; so does an amount said in a comparison ("9월보다 6,200원 더
   나왔습니다": it may be computed), a value no fact holds (the verifier's business), and a fact field no concept
   knows supports any claim of its unit.
2. **States.** A clause that says a bill was paid (or is unpaid, overdue), that roaming is on (off), that a line is
   suspended (in use) is unsupported when the records of that kind in the facts — those of the months it names, of
   the line whose last four digits it names — exist and none is in that state.

It errs towards passing: a false rejection costs a regeneration and maybe the safe "could not verify" reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sangdam.orchestrator.blackboard import RECORD_ID, Blackboard
from sangdam.orchestrator.resources import load_resource
from sangdam.orchestrator.verifier import _to_float

LEXICON = "lexicons/claims.ko.yaml"

# A money amount: "69,000원", "69000 원", "6만 9천원", "6만 9,000원", "5만 원", "6.9만원", "3천원".
_KRW = re.compile(r"(?<![\d.,A-Za-z])(\d[\d,]*(?:\.\d+)?)(?:\s*(만)(?:\s*(\d[\d,]*)\s*(천)?)?|\s*(천))?\s*원")
# A data size: "12GB", "4.5 GB", "12기가".
_GB = re.compile(r"(?<![\d.,A-Za-z])(\d[\d,]*(?:\.\d+)?)\s*(?:GB|Gb|gb|기가(?:바이트)?)(?![A-Za-z])")
_SENTENCE = re.compile(r"(?<=[.!?。])\s+|\n+")
_MONTH = re.compile(r"(?<![\d.])(\d{1,2})\s*월(?!\s*정액)")
_LAST4 = re.compile(r"끝자리\s*(\d{4})|(?<!\d)(\d{4})\s*(?:번\s*)?회선")
_KRW_KEY = re.compile(r"krw|price|fee|amount|charge|cost|payback|won", re.I)
_GB_KEY = re.compile(r"(?:^|_)gb$|_gb_|data_gb", re.I)


# -- the lexicon ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Concept:
    name: str
    label: str
    unit: str  # krw | gb | any
    keys: tuple[re.Pattern[str], ...]
    when: dict[str, frozenset[Any]]
    lenient: bool = False  # naming it leaves the amount unchecked (comparisons, savings)

    def applies(self, unit: str) -> bool:
        return self.unit in ("any", unit)


@dataclass(frozen=True)
class Word:
    concept: str
    kind: str  # noun (said before its number) | verb (said after it)
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class StateClaim:
    name: str
    label: str
    patterns: tuple[re.Pattern[str], ...]
    negations: tuple[re.Pattern[str], ...]
    values: frozenset[Any]


@dataclass(frozen=True)
class StateKind:
    name: str
    has: tuple[str, ...]
    any_of: tuple[str, ...]
    implicit: dict[str, Any]
    field: str
    months: bool
    claims: tuple[StateClaim, ...]


@dataclass(frozen=True)
class Lexicon:
    concepts: dict[str, Concept]
    words: tuple[Word, ...]
    breaks: re.Pattern[str]
    states: tuple[StateKind, ...]
    not_claims: re.Pattern[str]
    every: re.Pattern[str]


def _word(text: str) -> re.Pattern[str]:
    """A lexicon word as written, any spacing where it has a space; never right after a digit ("10월 요금" is no
    "월 요금")."""
    return re.compile(r"(?<!\d)" + r"\s*".join(re.escape(part) for part in text.split()))


def _any(patterns: Iterable[str]) -> re.Pattern[str]:
    patterns = list(patterns)
    return re.compile("|".join(f"(?:{p})" for p in patterns) if patterns else r"(?!x)x")


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    data = load_resource(LEXICON)
    concepts: dict[str, Concept] = {}
    words: list[Word] = []
    for name, spec in data["concepts"].items():
        concepts[name] = Concept(
            name=name, label=spec["label"], unit=spec.get("unit", "any"),
            keys=tuple(re.compile(k) for k in spec.get("keys", [])),
            when={k: frozenset(v) for k, v in (spec.get("when") or {}).items()}, lenient=bool(spec.get("lenient")))
        for kind in ("nouns", "verbs"):
            words += [Word(name, kind[:-1], _word(w)) for w in spec.get(kind) or []]
    states = []
    for name, spec in data["states"].items():
        claims = tuple(
            StateClaim(name=c_name, label=c["label"], patterns=tuple(re.compile(p) for p in c["patterns"]),
                       negations=tuple(re.compile(p) for p in c.get("negations") or []),
                       values=frozenset(c["values"]))
            for c_name, c in spec["claims"].items())
        states.append(StateKind(name=name, has=tuple(spec["records"].get("has", [])),
                                any_of=tuple(spec["records"].get("any_of", [])), implicit=spec.get("implicit") or {},
                                field=spec["field"], months=bool(spec.get("months")), claims=claims))
    return Lexicon(concepts=concepts, words=tuple(words), breaks=_any(data["clause_breaks"]), states=tuple(states),
                   not_claims=_any(data["not_claims"]), every=_any(data["every"]))


# -- numbers and the concepts named around them --------------------------------------------------------------------
@dataclass
class Claimed:
    raw: str  # the number as written, without its unit ("69,000", "6만 9천")
    value: float
    unit: str  # krw | gb
    start: int
    end: int  # after its unit
    named: set[str] = field(default_factory=set)


def _value(m: re.Match[str]) -> float | None:
    try:
        base = _to_float(m.group(1))  # the verifier's reading of a number: "69,000" → 69000.0
        if m.group(2):  # 만
            rest = _to_float(m.group(3)) if m.group(3) else 0.0
            return base * 10000 + rest * (1000 if m.group(4) else 1)
        if m.group(5):  # 천
            return base * 1000
    except ValueError:
        return None
    return base


def _amounts(text: str) -> list[Claimed]:
    found = []
    for m in _KRW.finditer(text):
        value = _value(m)
        if value is not None:
            found.append(Claimed(m.group(0)[:-1].strip(), value, "krw", m.start(), m.end()))
    for m in _GB.finditer(text):
        try:
            found.append(Claimed(m.group(1), _to_float(m.group(1)), "gb", m.start(), m.end()))
        except ValueError:
            continue
    found.sort(key=lambda c: c.start)
    return found


def _named(text: str, kinds: tuple[str, ...]) -> set[str]:
    """Concepts named in ``text`` by words of these kinds (overlapping matches: the longest wins; one word may name
    several concepts: "요금" a bill or a plan's price)."""
    lex = lexicon()
    hits = [(m.start(), m.end(), w) for w in lex.words for m in w.pattern.finditer(text)]
    hits.sort(key=lambda h: (h[0] - h[1], h[0]))
    taken: list[tuple[int, int]] = []
    out: set[str] = set()
    for start, end, word in hits:
        if any(start < e and s < end and (s, e) != (start, end) for s, e in taken):
            continue
        taken.append((start, end))
        if word.kind in kinds:
            out.add(word.concept)
    return out


def _scoped(sentence: str) -> list[Claimed]:
    """The sentence's amounts, each with the concepts named in its clause around it: from the previous clause break
    or amount to the next. Text between two amounts with no break between them is shared: its nouns name the
    amount after it, its verbs the amount before it."""
    amounts = _amounts(sentence)
    breaks = [(m.start(), m.end()) for m in lexicon().breaks.finditer(sentence)]
    for i, c in enumerate(amounts):
        prev_end = amounts[i - 1].end if i else 0
        next_start = amounts[i + 1].start if i + 1 < len(amounts) else len(sentence)
        before_breaks = [e for s, e in breaks if s >= prev_end and e <= c.start]
        after_breaks = [s for s, e in breaks if s >= c.end and e <= next_start]
        if before_breaks or i == 0:
            c.named |= _named(sentence[max(before_breaks, default=prev_end):c.start], ("noun", "verb"))
        else:
            c.named |= _named(sentence[prev_end:c.start], ("noun",))
        if after_breaks or i + 1 == len(amounts):
            c.named |= _named(sentence[c.end:min(after_breaks, default=next_start)], ("noun", "verb"))
        else:
            c.named |= _named(sentence[c.end:next_start], ("verb",))
    return amounts


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


# -- the facts -----------------------------------------------------------------------------------------------------
@dataclass
class Leaf:
    path: str  # keys joined with ".", list indexes left out
    value: float
    unit: str | None  # krw | gb | None (a count, a day, an id part …)
    concepts: set[str]


def _unit_of(key: str) -> str | None:
    if key.lower().endswith("krw"):  # refill_price_per_gb_krw: money
        return "krw"
    if _GB_KEY.search(key):
        return "gb"
    if _KRW_KEY.search(key):
        return "krw"
    return None


def _path_concepts(path: str) -> set[str]:
    return {c.name for c in lexicon().concepts.values() if any(k.search(path) for k in c.keys)}


def _record_concepts(record: dict[str, Any]) -> set[str]:
    """Concepts a record's values belong to by its name ("데이터 충전") or its state (an overdue bill)."""
    out: set[str] = set()
    name = record.get("name")
    if isinstance(name, str):
        out |= _named(name, ("noun", "verb"))
    for concept in lexicon().concepts.values():
        if any(record.get(k) in v for k, v in concept.when.items() if isinstance(record.get(k), (str, int, bool))):
            out.add(concept.name)
    return out


def _leaves(node: Any, path: str = "", inherited: frozenset[str] = frozenset()) -> Iterator[Leaf]:
    if isinstance(node, bool) or node is None:
        return
    if isinstance(node, (int, float)):
        concepts = _path_concepts(path) | inherited
        key = path.rsplit(".", 1)[-1]
        yield Leaf(path, float(node), _unit_of(key), concepts)
        return
    if isinstance(node, str):
        text = RECORD_ID.sub(" ", node)
        for sentence in _sentences(text):
            for c in _scoped(sentence):
                yield Leaf(path, c.value, c.unit, _path_concepts(path) | inherited | c.named)
        return
    if isinstance(node, dict):
        record = frozenset(_record_concepts(node))
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k), record)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _leaves(v, path, inherited)


def _same(claimed: float, fact: float) -> bool:
    forms = {fact, abs(fact), round(fact, 1), round(fact, 2), round(abs(fact), 1)}
    return claimed in forms or round(claimed, 1) in forms


def _supports(leaf: Leaf, c: Claimed, named: set[str]) -> bool:
    if leaf.unit is not None and leaf.unit != c.unit:
        return False
    if leaf.concepts & named:
        return True
    return not leaf.concepts and leaf.unit == c.unit  # a field no concept knows: when in doubt, pass


def _names_with_digits(facts: list[Any]) -> list[str]:
    """Names in the facts that hold digits ("5G 슬림", "일본 3일"): part of a name, not an amount."""
    out: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, str) and k.endswith("name") and any(ch.isdigit() for ch in v):
                    out.add(v)
                else:
                    walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)

    walk(facts)
    return sorted(out, key=len, reverse=True)


# -- states --------------------------------------------------------------------------------------------------------
def _records(node: Any, kind: StateKind, path: str = "") -> Iterator[tuple[dict[str, Any], Any]]:
    """(record, state) of each record of ``kind`` in the facts."""
    if isinstance(node, dict):
        implicit = next((v for k, v in kind.implicit.items() if path.endswith(k)), None)
        has_fields = all(k in node for k in kind.has if k != kind.field)
        if has_fields and (not kind.any_of or any(k in node for k in kind.any_of)):
            if kind.field in node:
                yield node, node[kind.field]
            elif implicit is not None:
                yield node, implicit
        for k, v in node.items():
            yield from _records(v, kind, f"{path}.{k}" if path else k)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _records(v, kind, path)


def _last4_map(facts: list[Any]) -> dict[str, str]:
    """Line id → the last four digits of its number."""
    out: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            number = node.get("number") or node.get("line_number")
            line = node.get("id") if "number" in node else node.get("line_id")
            if isinstance(number, str) and isinstance(line, str):
                digits = "".join(ch for ch in number if ch.isdigit())
                if len(digits) >= 4:
                    out[line] = digits[-4:]
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)

    walk(facts)
    return out


def _record_last4(record: dict[str, Any], lines: dict[str, str]) -> str | None:
    number = record.get("number") or record.get("line_number")
    if isinstance(number, str):
        digits = "".join(ch for ch in number if ch.isdigit())
        if len(digits) >= 4:
            return digits[-4:]
    for key in ("line_id", "id"):
        if isinstance(record.get(key), str) and record[key] in lines:
            return lines[record[key]]
    return None


def _month(record: dict[str, Any]) -> int | None:
    m = re.match(r"^\d{4}-(\d{1,2})", str(record.get("period") or ""))
    return int(m.group(1)) if m else None


def _state_claims(clause: str, sentence: str, facts: list[Any], lines: dict[str, str]) -> list[str]:
    lex = lexicon()
    out: list[str] = []
    # the line it is about: named in the clause, else in the sentence ("끝자리 4444 회선은 …, 로밍이 켜져 있습니다")
    last4 = {a or b for a, b in _LAST4.findall(clause)} or {a or b for a, b in _LAST4.findall(sentence)}
    for kind in lex.states:
        claim = next((c for c in kind.claims if any(p.search(clause) for p in c.patterns)
                      and not any(n.search(clause) for n in c.negations)), None)
        # a clause that only negates the first claim ("미납 요금은 없습니다") claims nothing of this kind
        if claim is None:
            continue
        records = list(_records(facts, kind))
        if len(last4) == 1:
            (digits,) = last4
            records = [(r, s) for r, s in records if _record_last4(r, lines) in (digits, None)]
        if not records:
            continue
        every = kind.months and bool(lex.every.search(clause))
        months = sorted({int(m) for m in _MONTH.findall(clause) if 1 <= int(m) <= 12}) if kind.months else []
        for month in months or [None]:
            of_month = [(r, s) for r, s in records if month is None or _month(r) == month]
            wrong = _untrue(of_month, claim, every)
            if wrong:
                when = f"{month}월 " if month is not None else ""
                out.append(f"{when}{claim.label} ({kind.name} {kind.field}: {'/'.join(wrong)})")
    return out


def _untrue(records: list[tuple[dict[str, Any], Any]], claim: StateClaim, every: bool) -> list[str]:
    """The states that contradict ``claim`` (empty: supported, or no record to judge by): none of the records is in
    a true state — or, when the claim is about ``every`` record, one of them is not (a bill read twice, before and
    after its payment, counts once: any of its reads in a true state will do)."""
    if not records:
        return []
    by_record: dict[Any, list[Any]] = {}
    for record, state in records:
        key = record.get("id") or record.get("bill_id") or (record.get("line_id"), record.get("period"))
        by_record.setdefault(str(key), []).append(state)
    untrue = [states for states in by_record.values() if not any(s in claim.values for s in states)]
    if (every and untrue) or len(untrue) == len(by_record):
        return sorted({str(s).lower() for states in untrue for s in states})
    return []


# -- the check -----------------------------------------------------------------------------------------------------
def facts_of(blackboard: Blackboard) -> list[Any]:
    """Every fact of the turn: tool results (the agent's context reads included), their arguments, produced results,
    error details and cited passages."""
    seen: set[int] = set()
    out = []
    for value in [*blackboard.entries.values(), *blackboard.extra_facts]:
        if id(value) not in seen:
            seen.add(id(value))
            out.append(value)
    return out


def check_claims(text: str, facts: list[Any] | Blackboard) -> list[str]:
    """The claims of ``text`` that the facts do not support ("69000 (할부)", "9월 납부 완료 (bill status:
    overdue)"); empty when none."""
    if isinstance(facts, Blackboard):
        facts = facts_of(facts)
    if not text.strip():
        return []
    lex = lexicon()
    scrubbed = RECORD_ID.sub(" ", text)
    for name in _names_with_digits(facts):
        scrubbed = scrubbed.replace(name, " " * len(name))
    leaves: list[Leaf] | None = None
    lines = _last4_map(facts)
    out: list[str] = []
    for sentence in _sentences(scrubbed):
        for c in _scoped(sentence):
            named = {n for n in c.named if lex.concepts[n].applies(c.unit)}
            if not named or any(lex.concepts[n].lenient for n in named):
                continue
            if leaves is None:
                leaves = list(_leaves(facts))
            holding = [leaf for leaf in leaves if _same(c.value, leaf.value)]
            if holding and not any(_supports(leaf, c, named) for leaf in holding):
                labels = "/".join(lex.concepts[n].label for n in sorted(named))
                out.append(f"{c.raw} ({labels})")
        if lex.not_claims.search(sentence):
            continue
        for clause in lex.breaks.split(sentence):
            if clause and clause.strip():
                out += _state_claims(clause, sentence, facts, lines)
    return list(dict.fromkeys(out))
