"""``search_documents``: the operator's documents (terms, plans, guides) as a read the LLM agent may call.

It is Sangdam's own knowledge base, not an operator system, so it is not a registry tool: the agent offers it next
to the allow-listed tools. Its passages reach the model fenced as data (a passage that tells the model what to do is
just text), and each passage becomes a cited fact of the turn: a number the answer takes from it passes the
verifier, as in the knowledge agent's answers.
"""

from __future__ import annotations

from typing import Any

DOCUMENTS_TOOL = "search_documents"
MAX_PASSAGES = 3
MAX_PASSAGE_CHARS = 700


def describe_line(lang: str) -> str:
    text = ("운영사의 약관, 요금제, 이용 안내 문서에서 관련 구절을 찾습니다(출처 포함)." if lang == "ko"
            else "Find passages of the operator's terms, plans and guides (with their source).")
    return f"- {DOCUMENTS_TOOL}(query) [read] {text}"


def schema_option() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"action": {"const": "call"}, "tool": {"const": DOCUMENTS_TOOL},
                       "args": {"type": "object", "properties": {"query": {"type": "string"}},
                                "required": ["query"], "additionalProperties": False}},
        "required": ["action", "tool", "args"],
        "additionalProperties": False,
    }


def search(query: str, kb: str) -> dict[str, Any]:
    """The relevant passages for ``query`` (the knowledge agent's relevance rule); none when the KB is not built."""
    from sangdam.knowledge.answer import is_relevant, vocabulary_coverage
    from sangdam.knowledge.retrieval import load_kb
    from sangdam.knowledge.store import KnowledgeBaseError

    try:
        base = load_kb(kb)
    except KnowledgeBaseError:
        return {"passages": [], "note": "no documents are indexed on this installation"}
    hits = base.search(query, k=5)
    coverage = vocabulary_coverage(query, base)
    relevant = [h for h in hits if is_relevant(h, coverage)][:MAX_PASSAGES]
    return {"passages": [{"source": h.source, "heading": h.heading, "text": h.text[:MAX_PASSAGE_CHARS]}
                         for h in relevant]}
