"""Cited answers from the knowledge base.

``answer(question)`` retrieves passages, decides whether any is relevant enough (thresholds calibrated on
``bench/retrieval``: in-domain vs. out-of-domain questions), and then either

* lets an optional ``AnswerWriter`` (e.g. an LLM, passed in by the orchestrator) write sentences that each cite
  retrieved passages — rejected and replaced by the extractive answer if any sentence cites nothing valid; or
* extracts the best supporting sentences (natural order, trimmed) — the default, no model needed.

When nothing relevant is found the answer is the Korean refusal from resources, offering a human agent.
"""

from __future__ import annotations

import math
import re
from typing import Protocol

from pydantic import BaseModel, Field

from sangdam.knowledge.messages import message
from sangdam.knowledge.models import Answer, Citation, SearchHit
from sangdam.knowledge.retrieval import KnowledgeBase, load_kb

# Calibrated on bench/retrieval (docs/knowledge.md): a top passage is relevant when its cosine reaches
# DENSE_STRONG, or when it reaches DENSE_MIN and the query's indexed morphemes carry enough BM25 evidence.
DENSE_STRONG = 0.875
DENSE_MIN = 0.82
BM25_MIN = 4.0
MAX_PASSAGES = 3
MAX_SENTENCES = 3
MAX_CHARS = 320


class Passage(BaseModel):
    """A retrieved passage handed to an ``AnswerWriter``; ``id`` is what its sentences cite."""

    id: int
    source: str
    heading: str
    text: str


class WrittenSentence(BaseModel):
    """One sentence written by an ``AnswerWriter`` and the passages (by ``Passage.id``) that support it."""

    text: str
    passage_ids: list[int] = Field(default_factory=list)


class AnswerWriter(Protocol):
    """Writes an answer only from ``passages``; every sentence must cite at least one passage id."""

    def __call__(self, question: str, passages: list[Passage]) -> list[WrittenSentence]: ...


# Refusal, second evidence (calibrated on both operators' sets, docs/knowledge.md): the share of the question's
# content morphemes that the KB's vocabulary knows. An out-of-domain question names things no document
# mentions (넷플릭스, 주식, 날씨) even when e5 finds a passage "close"; an in-domain one whose passage e5 rates
# modestly (0.855–0.875) still speaks the documents' words.
DENSE_COVERED = 0.855
COVERAGE_MIN = 1.0
# Words of asking, not of the topic: they say nothing about whether the KB covers the question.
_ASKING_WORDS = frozenset({"어떻게", "하다", "방법", "뭐", "법", "있다", "되다", "알리다", "궁금하다", "얼마",
                           "언제", "거", "것", "좀", "수", "나오다", "어떻다", "무엇", "왜"})


def is_relevant(hit: SearchHit, coverage: float = 1.0) -> bool:
    """Whether a retrieved passage is relevant enough to answer from (see thresholds above); ``coverage`` is
    the share of the question's topic morphemes known to the KB (``vocabulary_coverage``)."""
    if hit.dense >= DENSE_MIN and hit.bm25 >= BM25_MIN:
        return True
    if hit.dense >= DENSE_STRONG:
        return True
    return coverage >= COVERAGE_MIN and hit.dense >= DENSE_COVERED


def vocabulary_coverage(question: str, base: KnowledgeBase) -> float:
    """Share of the question's topic morphemes that occur in the KB (a compound counts when it contains a
    known morpheme of 2+ syllables: 보험금 ⊃ 보험). 1.0 when the question has no topic morpheme."""
    from sangdam.korean.analyzer import tokenize_for_search

    idf = _idf(base)
    if not idf:
        return 1.0
    terms = {t for t in tokenize_for_search(question) if t not in _ASKING_WORDS}
    if not terms:
        return 1.0
    known = sum(1 for t in terms if t in idf or any(len(k) >= 2 and k in t for k in _long_vocab(base)))
    return known / len(terms)


def _long_vocab(base: KnowledgeBase) -> list[str]:
    cached = getattr(base, "_long_vocab_cache", None)
    if cached is None:
        cached = [t for t in _idf(base) if len(t) >= 2 and not t.isascii()]
        base._long_vocab_cache = cached  # noqa: SLF001 - per-KB memo
    return cached


def answer(question: str, kb: KnowledgeBase | str = "default", writer: AnswerWriter | None = None,
           k: int = 5) -> Answer:
    """A cited answer to ``question`` from ``kb`` (a loaded KB or a KB name), or the refusal."""
    if not question.strip():
        return Answer(answer=message("empty_question"), citations=[], grounded=False)
    base = load_kb(kb) if isinstance(kb, str) else kb
    hits = base.search(question, k=k)
    coverage = vocabulary_coverage(question, base)
    relevant = [h for h in hits if is_relevant(h, coverage)][:MAX_PASSAGES]
    if not relevant:
        return Answer(answer=message("no_answer"), citations=[], grounded=False)
    if writer is not None:
        written = _written_answer(question, relevant, writer, base)
        if written is not None:
            return written
    return _extractive_answer(question, relevant, base, hits)


# --- extractive --------------------------------------------------------------------------------------------

def _sentences(text: str) -> list[str]:
    from sangdam.korean.analyzer import split_sentences

    out: list[str] = []
    # FAQ entries ("Q. …? A. …") are split at their markers first.
    for line in re.split(r"\n|\s(?=[QA]\.\s)", text):
        # Table rows and list items are one statement each; paragraphs are split into sentences.
        out.extend(split_sentences(line) if len(line) > 80 else [line.strip()])
    # A question restated in an FAQ is not evidence; "A." markers are layout, not content.
    return [re.sub(r"^A\.\s*", "", s) for s in out
            if s and not s.rstrip().endswith("?") and not s.startswith("Q.")]


def _idf(base: KnowledgeBase) -> dict[str, float]:
    cached = getattr(base, "_idf_cache", None)
    if cached is None:
        cached = {}
        if base.bm25 is not None:
            indptr = base.bm25.scores["indptr"]
            n = len(base.chunks)
            for token, j in base.bm25.vocab_dict.items():
                df = int(indptr[j + 1] - indptr[j]) if j + 1 < len(indptr) else 0
                cached[token] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        base._idf_cache = cached  # noqa: SLF001 - per-KB memo
    return cached


def _overlap(query_terms: dict[str, float], sentence: str) -> float:
    from sangdam.korean.analyzer import tokenize_for_search

    terms = set(tokenize_for_search(sentence))
    total = sum(query_terms.values()) or 1.0
    return sum(w for t, w in query_terms.items() if t in terms) / total


def _query_terms(question: str, base: KnowledgeBase) -> dict[str, float]:
    from sangdam.korean.analyzer import tokenize_for_search

    idf = _idf(base)
    return {t: idf.get(t, 0.0) for t in set(tokenize_for_search(question)) if idf.get(t, 0.0) > 0}


def _extractive_answer(question: str, hits: list[SearchHit], base: KnowledgeBase,
                       retrieved: list[SearchHit] | None = None) -> Answer:
    terms = _query_terms(question, base)
    scored: list[tuple[float, int, int, str]] = []  # (score, hit rank, sentence index, sentence)
    for rank, hit in enumerate(hits):
        for pos, sentence in enumerate(_sentences(hit.text)):
            # Lexical support for the question, with a prior for better-ranked passages and earlier sentences.
            score = _overlap(terms, sentence) + 0.3 / (1 + rank) + 0.05 / (1 + pos)
            scored.append((score, rank, pos, sentence))
    scored.sort(key=lambda s: -s[0])
    chosen: list[tuple[float, int, int, str]] = []
    length = 0
    for item in scored:
        if len(chosen) >= MAX_SENTENCES:
            break
        if chosen and (item[0] < 0.5 * chosen[0][0] or length + len(item[3]) > MAX_CHARS):
            continue
        if any(_similar(item[3], other[3]) for other in chosen):
            continue  # the same fact stated in another document adds nothing
        chosen.append(item)
        length += len(item[3])
    hits, chosen = _with_close_sections(hits, chosen, retrieved or hits)
    hits, chosen = _with_definition(question, hits, chosen, base)
    lead = [item for item in chosen if hits[item[1]].heading == hits[chosen[0][1]].heading]
    if chosen and not _has_support(question, [item[3] for item in lead], [hits[item[1]] for item in lead]):
        return Answer(answer=message("no_answer"), citations=[], grounded=False)
    groups = _whole_rules(question, chosen, hits, base)
    text = " ".join(_as_sentence(_trim(item, RULE_ITEM_CHARS)) for _, items in groups for item in items)
    return Answer(
        answer=text,
        citations=[Citation(source=src, heading=head, quote=" ".join(_trim(i, RULE_ITEM_CHARS) for i in items))
                   for (src, head), items in groups],
    )


# Sections of the answering document whose passages e5 rates within this margin of its best one are not
# told apart by the retriever: quoting only one of them risks the wrong sibling (청소년 → the 시니어 section,
# 미납 → 정지 해제 instead of the stages table), so they are all shown (each as a whole rule, within length).
SIBLING_MARGIN = 0.02


def _with_close_sections(hits: list[SearchHit], chosen: list[tuple[float, int, int, str]],
                         retrieved: list[SearchHit]) -> tuple[list[SearchHit], list[tuple[float, int, int, str]]]:
    """``chosen`` plus the first statement of every retrieved section of the leading document that e5 rates
    as close as the document's best passage; ``hits`` extended with their passages."""
    if not chosen:
        return hits, chosen
    lead = hits[chosen[0][1]]
    best = max(h.dense for h in retrieved if h.source == lead.source)
    shown = {(hits[item[1]].source, hits[item[1]].heading) for item in chosen}
    hits, chosen = list(hits), list(chosen)
    for hit in retrieved:
        key = (hit.source, hit.heading)
        if hit.source != lead.source or key in shown or hit.dense < best - SIBLING_MARGIN:
            continue
        sentences = _sentences(hit.text)
        if not sentences:
            continue
        shown.add(key)
        hits.append(hit)
        chosen.append((0.0, len(hits) - 1, 0, sentences[0]))
    return hits, chosen


_DEFINITION_QUESTION = re.compile(
    r"^\s*(?P<term>[가-힣A-Za-z0-9 ]+?)\s*(?:이란|란|이|가|은|는)?\s*"
    r"(?:뭐예요|뭐에요|뭔가요|뭐야|뭐죠|뭡니까|무엇인가요|무엇입니까|무슨 뜻|뜻이|의미가)")
_DEFINING = re.compile(r"(?:이?라고\s*(?:합니다|부릅니다|해요)|[을를]\s*말합니다|[을를]\s*뜻합니다|[을를]\s*의미합니다)")


def _with_definition(question: str, hits: list[SearchHit], chosen: list[tuple[float, int, int, str]],
                     base: KnowledgeBase) -> tuple[list[SearchHit], list[tuple[float, int, int, str]]]:
    """For "X이 뭐예요?", the sentence of a retrieved document that defines X ("이를 X이라고 합니다") leads:
    a schedule that mentions X does not say what X is."""
    match = _DEFINITION_QUESTION.match(question)
    if not match:
        return hits, chosen
    term = re.sub(r"\s", "", match.group("term"))
    if len(term) < 2:
        return hits, chosen
    for source in dict.fromkeys(h.source for h in hits):
        for chunk in sorted((c for c in base.chunks if c.source == source), key=lambda c: c.ordinal):
            for sentence in _sentences(chunk.text):
                if term in re.sub(r"\s", "", sentence) and _DEFINING.search(sentence):
                    hit = SearchHit(source=chunk.source, heading=chunk.heading, text=chunk.text, score=1.0,
                                    dense=1.0, bm25=0.0)
                    hits = [*hits, hit]
                    return hits, [(1.0, len(hits) - 1, 0, sentence), *chosen]
    return hits, chosen


def _has_support(question: str, statements: list[str], hits: list[SearchHit]) -> bool:
    """Whether a statement of the leading section, or that section's last heading, contains a topic morpheme of the
    question (a compound counts when one contains the other's 2+ syllable morpheme: 보험금 ⊃ 보험). A passage that e5 found "close" but that shares
    no topic word with the question (보험금 언제 → 가입 조건) is a guess; a refusal is better than a wrong
    answer with a citation."""
    from sangdam.korean.analyzer import tokenize_for_search

    topic = {t for t in tokenize_for_search(question) if t not in _ASKING_WORDS}
    if not topic:
        return True
    leaves = {h.heading.split(" > ")[-1] for h in hits}
    words = {t for s in [*statements, *leaves] for t in tokenize_for_search(s)}
    return any(t in words or any(len(w) >= 2 and (w in t or t in w) for w in words if len(t) >= 2)
               for t in topic)


MAX_ANSWER_CHARS = 900
RULE_ITEM_CHARS = 400


def _whole_rules(question: str, chosen: list[tuple[float, int, int, str]], hits: list[SearchHit],
                 base: KnowledgeBase) -> list[tuple[tuple[str, str], list[str]]]:
    """The answer as whole rules (``rules.py``): each chosen statement brings its section when the section is
    short (every item, the matching one first), else its table siblings, else itself. Groups follow the
    statements' scores (the best first); a later group that would make the answer too long is left out whole
    rather than cut."""
    from sangdam.knowledge.rules import lead_with_condition, whole_rule

    groups: dict[tuple[str, str], list[str]] = {}
    length = 0
    for _score, rank, _pos, sentence in chosen:
        hit = hits[rank]
        key = (hit.source, hit.heading)
        if key in groups:
            if not _rule_sections(base, key):
                groups[key].append(sentence)  # a long section: its statements one by one
                length += len(sentence)
            continue
        rule = whole_rule(base.chunks, hit.source, hit.heading)
        if rule is not None:
            items = [" ".join(_sentences(i.text)) or i.text for i in lead_with_condition(rule, question)]
            items = [i for i in items if i]
        else:
            items = _table_rows(sentence, hit, base, question) or [sentence]
        size = sum(len(i) for i in items)
        if groups and length + size > MAX_ANSWER_CHARS:
            continue
        groups[key] = items
        length += size
    return list(groups.items())


def _rule_sections(base: KnowledgeBase, key: tuple[str, str]) -> bool:
    from sangdam.knowledge.rules import whole_rule

    return whole_rule(base.chunks, *key) is not None


def _table_rows(sentence: str, hit: SearchHit, base: KnowledgeBase, question: str) -> list[str] | None:
    """All rows of the (small) table a chosen row belongs to, in a section too long to quote whole: one row of
    a schedule — "6개월 이하: 100%" — answers only part of "how is it computed"."""
    from sangdam.knowledge.rules import RuleItem, lead_with_condition

    headers = _row_headers(sentence)
    if headers is None:
        return None
    rows = [c for c in base.chunks if c.source == hit.source and c.heading == hit.heading
            and _row_headers(c.text) == headers]
    if len(rows) > MAX_TABLE_ROWS:
        return None
    rows.sort(key=lambda c: c.ordinal)
    return [i.text for i in lead_with_condition([RuleItem(c, 0, c.text) for c in rows], question)]


MAX_TABLE_ROWS = 12
_ROW_HEADERS = re.compile(r"(?:^|\s\|\s)([^:|]{1,30}):")


def _row_headers(sentence: str) -> tuple[str, ...] | None:
    """The column headers of a table row rendered as "헤더: 값 | 헤더: 값", or None for prose."""
    if " | " not in sentence:
        return None
    headers = tuple(h.strip() for h in _ROW_HEADERS.findall(sentence))
    return headers if len(headers) >= 2 else None


def _similar(a: str, b: str) -> bool:
    from sangdam.korean.analyzer import tokenize_for_search

    if re.findall(r"\d[\d,.]*", a) != re.findall(r"\d[\d,.]*", b):
        return False  # rows of one table share words but differ in their numbers: both are informative
    ta, tb = set(tokenize_for_search(a)), set(tokenize_for_search(b))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= 0.6


def _as_sentence(text: str) -> str:
    """Table rows and list items carry no final punctuation; joined into prose they need it."""
    return text if re.search(r"[.!?…)]$", text) else f"{text}."


def _trim(sentence: str, limit: int = 200) -> str:
    sentence = re.sub(r"\s+", " ", sentence).strip()
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


# --- writer (LLM) ------------------------------------------------------------------------------------------

def _written_answer(question: str, hits: list[SearchHit], writer: AnswerWriter,
                    base: KnowledgeBase) -> Answer | None:
    passages = [Passage(id=i + 1, source=h.source, heading=h.heading, text=h.text) for i, h in enumerate(hits)]
    try:
        sentences = writer(question, passages)
    except Exception:  # noqa: BLE001 - a failing writer must not lose the answer; extractive takes over
        return None
    by_id = {p.id: p for p in passages}
    if not sentences or any(not s.text.strip() or not s.passage_ids or any(i not in by_id for i in s.passage_ids)
                            for s in sentences):
        return None  # a sentence without a valid citation: never answer beyond the passages
    citations: list[Citation] = []
    for s in sentences:
        terms = _query_terms(s.text, base)
        for pid in s.passage_ids:
            p = by_id[pid]
            quote = max(_sentences(p.text), key=lambda sent: _overlap(terms, sent))
            citation = Citation(source=p.source, heading=p.heading, quote=_trim(quote))
            if citation not in citations:
                citations.append(citation)
    return Answer(answer=" ".join(s.text.strip() for s in sentences), citations=citations)
