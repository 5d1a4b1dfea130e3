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


def is_relevant(hit: SearchHit) -> bool:
    """Whether a retrieved passage is relevant enough to answer from (see thresholds above)."""
    return hit.dense >= DENSE_STRONG or (hit.dense >= DENSE_MIN and hit.bm25 >= BM25_MIN)


def answer(question: str, kb: KnowledgeBase | str = "default", writer: AnswerWriter | None = None,
           k: int = 5) -> Answer:
    """A cited answer to ``question`` from ``kb`` (a loaded KB or a KB name), or the refusal."""
    if not question.strip():
        return Answer(answer=message("empty_question"), citations=[], grounded=False)
    base = load_kb(kb) if isinstance(kb, str) else kb
    hits = base.search(question, k=k)
    relevant = [h for h in hits if is_relevant(h)][:MAX_PASSAGES]
    if not relevant:
        return Answer(answer=message("no_answer"), citations=[], grounded=False)
    if writer is not None:
        written = _written_answer(question, relevant, writer, base)
        if written is not None:
            return written
    return _extractive_answer(question, relevant, base)


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


def _extractive_answer(question: str, hits: list[SearchHit], base: KnowledgeBase) -> Answer:
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
    chosen = _with_table_siblings(chosen, hits, base)
    # Natural order: documents in retrieval order; within a document, chunk order, then sentence order.
    doc_rank: dict[str, int] = {}
    for rank, hit in enumerate(hits):
        doc_rank.setdefault(hit.source, rank)
    chosen.sort(key=lambda s: (doc_rank[hits[s[1]].source], hits[s[1]].ordinal, s[2]))
    text = " ".join(_as_sentence(_trim(s[3])) for s in chosen)
    quotes: dict[tuple[str, str], list[str]] = {}  # one citation per (source, heading), in answer order
    for _, rank, _, sentence in chosen:
        quotes.setdefault((hits[rank].source, hits[rank].heading), []).append(_trim(sentence))
    return Answer(
        answer=text,
        citations=[Citation(source=src, heading=head, quote=" ".join(q)) for (src, head), q in quotes.items()],
    )


MAX_TABLE_ROWS = 6
_ROW_HEADERS = re.compile(r"(?:^|\s\|\s)([^:|]{1,30}):")


def _row_headers(sentence: str) -> tuple[str, ...] | None:
    """The column headers of a table row rendered as "헤더: 값 | 헤더: 값", or None for prose."""
    if " | " not in sentence:
        return None
    headers = tuple(h.strip() for h in _ROW_HEADERS.findall(sentence))
    return headers if len(headers) >= 2 else None


def _with_table_siblings(
    chosen: list[tuple[float, int, int, str]], hits: list[SearchHit], base: KnowledgeBase
) -> list[tuple[float, int, int, str]]:
    """A chosen table row brings the other rows of its (small) table: one row of a schedule — "6개월 이하:
    100%" — answers only part of "how is it computed"; the whole table answers it. Rows are separate chunks
    (each keeps its header), so siblings are the chunks of the same document section with the same headers;
    rows that were not retrieved are appended to ``hits`` so that they are cited like any passage."""
    out = list(chosen)
    for score, rank, _pos, sentence in chosen:
        headers = _row_headers(sentence)
        if headers is None:
            continue
        hit = hits[rank]
        rows = [c for c in base.chunks if c.source == hit.source and c.heading == hit.heading
                and _row_headers(c.text) == headers]
        if len(rows) > MAX_TABLE_ROWS:
            continue
        present = {hits[r].chunk_id for _, r, _, _ in out}
        for chunk in rows:
            if chunk.id in present:
                continue
            index = next((i for i, h in enumerate(hits) if h.chunk_id == chunk.id), None)
            if index is None:
                hits.append(SearchHit(source=chunk.source, heading=chunk.heading, text=chunk.text, score=0.0,
                                      chunk_id=chunk.id, ordinal=chunk.ordinal))
                index = len(hits) - 1
            out.append((score, index, 0, chunk.text))
            present.add(chunk.id)
    return out


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
