"""Pydantic models at the knowledge base's boundaries: chunks, search hits, citations, answers, ingest reports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Block(BaseModel):
    """One structural unit read from a document, before chunking: a paragraph, a list item or a table row."""

    kind: Literal["paragraph", "list_item", "table_row"]
    text: str
    headings: list[str] = Field(default_factory=list, description="Heading path, outermost first.")


class Chunk(BaseModel):
    """A retrievable passage. ``source`` is the path relative to the ingested directory (POSIX separators)."""

    id: str
    source: str
    heading: str = Field(description="Heading path joined with ' > '.")
    text: str
    ordinal: int = Field(description="Position of the chunk within its document (natural order).")
    kind: Literal["paragraph", "list_item", "table_row", "mixed"] = "paragraph"

    def passage_text(self) -> str:
        """What is embedded and indexed: the heading path gives short chunks their context."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


class SearchHit(BaseModel):
    """One search result (the ``kb search --json`` contract plus diagnostics kept out of the JSON)."""

    source: str
    heading: str
    text: str
    score: float
    chunk_id: str = ""
    ordinal: int = 0
    dense: float = Field(default=0.0, description="Cosine similarity of query and passage.")
    bm25: float = Field(default=0.0, description="BM25 score over kiwi morphemes.")

    def public(self) -> dict:
        """The JSON shape promised by the CLI contract."""
        return {"source": self.source, "heading": self.heading, "text": self.text, "score": round(self.score, 6)}


class Citation(BaseModel):
    """Where a sentence of an answer comes from."""

    source: str
    heading: str
    quote: str


class Answer(BaseModel):
    """A cited answer; ``grounded`` is False when nothing relevant was found and ``answer`` is the refusal."""

    answer: str
    citations: list[Citation] = Field(default_factory=list)
    grounded: bool = True

    def public(self) -> dict:
        """The JSON shape promised by the CLI contract."""
        return {"answer": self.answer, "citations": [c.model_dump() for c in self.citations]}


class SkippedFile(BaseModel):
    """A file that ingestion did not index, and why (``unsupported type``, ``empty``, ``unreadable: ...``)."""

    source: str
    reason: str


class IngestReport(BaseModel):
    """Counts printed by ``kb ingest``."""

    kb: str
    files_seen: int = 0
    files_indexed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    chunks_total: int = 0
    chunks_embedded: int = 0
    skipped: list[SkippedFile] = Field(default_factory=list)
