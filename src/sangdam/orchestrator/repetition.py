"""One fact once per reply: the responder leaves out what the same reply has already said.

Several parts of one reply can state the same thing: the tech agent finds the line suspended for an unpaid bill,
the resume request is refused for the same bill (the tool's message), a proactive notice recalls it. Sentence by
sentence, in order:

- a sentence said before in the reply (ignoring a leading "참고로") is left out;
- a sentence that states only account facts already stated (``resources/templates/facts.yaml``: overdue bill,
  data used up, data low, contract ending) and no new value (amount, data size, speed, date) is left out;
- when the first sentence of a message is left out, the rest of that message goes with it unless it carries a
  new value ("납부를 원하시면 말씀해 주세요" means nothing without the sentence it follows).

List items ("- …") and headers ("청구 항목:") are structure, never merged: two bills may share an item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from sangdam.orchestrator.resources import load_resource

# values whose repetition makes a restatement: amounts, data sizes, speeds, dates and months
_VALUE = re.compile(r"\d[\d,]*원|\d+(?:\.\d+)?GB|\d+(?:Mbps|kbps)|\d{4}년 \d{1,2}월(?: \d{1,2}일)?|\d+일 후")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?!\()")  # "…입니다. (납부 완료)": the aside belongs to its sentence
_LEAD_IN = re.compile(r"^참고로\s+")


@lru_cache(maxsize=1)
def _fact_patterns() -> dict[str, list[re.Pattern[str]]]:
    return {kind: [re.compile(p) for p in patterns] for kind, patterns in load_resource("templates/facts.yaml").items()}


def stated_facts(text: str) -> set[str]:
    """The account facts (``facts.yaml`` kinds) that ``text`` states."""
    return {kind for kind, patterns in _fact_patterns().items() if any(p.search(text) for p in patterns)}


@dataclass
class _Said:
    sentences: set[str] = field(default_factory=set)
    facts: set[str] = field(default_factory=set)
    values: set[str] = field(default_factory=set)

    def repeats(self, sentence: str) -> bool:
        if _normal(sentence) in self.sentences:
            return True
        facts = stated_facts(sentence)
        return bool(facts) and facts <= self.facts and set(_VALUE.findall(sentence)) <= self.values

    def has_new_value(self, sentence: str) -> bool:
        return bool(set(_VALUE.findall(sentence)) - self.values)

    def add(self, sentence: str) -> None:
        self.sentences.add(_normal(sentence))
        self.facts |= stated_facts(sentence)
        self.values |= set(_VALUE.findall(sentence))


def one_fact_once(messages: list[str]) -> list[str]:
    """``messages`` without sentences that repeat what an earlier part of the same reply said."""
    said = _Said()
    out: list[str] = []
    for message in messages:
        kept_lines: list[str] = []
        lead_dropped: bool | None = None
        for line in message.split("\n"):
            if _is_structure(line):
                kept_lines.append(line)
                continue
            kept: list[str] = []
            for sentence in _SENTENCE_END.split(line):
                if not sentence:
                    continue
                first = lead_dropped is None
                drop = said.repeats(sentence) or (bool(lead_dropped) and not said.has_new_value(sentence))
                if first:
                    lead_dropped = drop
                if not drop:
                    said.add(sentence)
                    kept.append(sentence)
            if kept:
                kept_lines.append(" ".join(kept))
        if kept_lines:
            out.append("\n".join(kept_lines))
    return out


def without_restated(text: str, stated: list[str]) -> str:
    """Free text (a catalogue description) without the clauses that restate one of the ``stated`` values:
    "넉넉한 5G. 기본 데이터 110GB, 소진 후 최대 5Mbps." after a sentence that gives 110GB and 5Mbps → "넉넉한 5G."."""
    sentences = []
    for sentence in re.split(r"\.(?:\s+|$)", text.strip()):  # not inside "1.5GB"
        clauses = [c for c in re.split(r",\s*", sentence) if c.strip() and not any(v and v in c for v in stated)]
        if clauses:
            sentences.append(", ".join(clauses) + ".")
    return " ".join(sentences)


def _is_structure(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith(("-", "•", "※")) or stripped.endswith(":")


def _normal(sentence: str) -> str:
    return " ".join(_LEAD_IN.sub("", sentence.strip()).split())
