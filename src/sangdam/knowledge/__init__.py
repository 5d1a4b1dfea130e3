"""Knowledge base: ingestion (Markdown/HTML/text/PDF), structural chunking, hybrid retrieval (kiwi BM25 + e5
dense, RRF), and cited answers. See docs/knowledge.md.

Public API::

    from sangdam.knowledge import answer, load_kb, ingest_directory, build_demo
    kb = load_kb("default")                      # cached per process
    kb.search("일본 로밍 패스", k=5)               # -> list[SearchHit]
    answer("약정 중 해지하면 위약금은?", kb)        # -> Answer(answer, citations, grounded)
"""

from sangdam.knowledge.answer import AnswerWriter, Passage, WrittenSentence, answer, is_relevant
from sangdam.knowledge.demo import build_demo, stage_demo_documents
from sangdam.knowledge.models import Answer, Chunk, Citation, IngestReport, SearchHit, SkippedFile
from sangdam.knowledge.retrieval import KnowledgeBase, load_kb
from sangdam.knowledge.store import KnowledgeBaseError, ingest_directory

__all__ = [
    "Answer", "AnswerWriter", "Chunk", "Citation", "IngestReport", "KnowledgeBase", "KnowledgeBaseError",
    "Passage", "SearchHit", "SkippedFile", "WrittenSentence", "answer", "build_demo", "ingest_directory",
    "is_relevant", "load_kb", "stage_demo_documents",
]
