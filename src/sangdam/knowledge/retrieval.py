"""Hybrid retrieval over a stored knowledge base: BM25 over kiwi morphemes + e5 dense vectors, fused by
score (dense cosine plus a small, max-normalised BM25 bonus). A loaded KB is cached per process and reloaded
when its manifest changes.

Why score fusion and not reciprocal-rank fusion: e5 is the stronger retriever here, and rank fusion gives a
weak BM25 hit as much say as a strong dense one, so on a 10k-chunk corpus it pushed good dense hits out
(recall@1 0.69 vs 0.83 for dense alone). Adding ``BM25_WEIGHT * bm25 / max(bm25)`` to the cosine lets BM25
break near-ties (exact plan names, numbers) without overruling a clear dense winner; the weight was tuned on a
dev split of ``bench/retrieval`` and checked on the held-out split and at 100k chunks (docs/knowledge.md).

Speed: one float32 matrix-vector product over all chunks, ``argpartition`` for the top k, and bm25s scoring
only the query's tokens; e5 query encoding (~20 ms) dominates up to 100k chunks.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sangdam.knowledge.models import Chunk, SearchHit
from sangdam.knowledge.store import KnowledgeBaseError, kb_path, read_chunks, read_manifest

Mode = Literal["hybrid", "bm25", "dense"]
# Tuned on the dev half of bench/retrieval's questions (demo KB and 10k chunks); see docs/knowledge.md.
BM25_WEIGHT = 0.03
RRF_K = 60


class KnowledgeBase:
    """A loaded, searchable knowledge base."""

    def __init__(self, name: str, path: Path, chunks: list[Chunk], vectors: np.ndarray, bm25) -> None:  # noqa: ANN001
        self.name = name
        self.path = path
        self.chunks = chunks
        self.vectors = vectors
        self.bm25 = bm25

    @classmethod
    def open(cls, path: Path, name: str | None = None) -> KnowledgeBase:
        """Load the KB stored at ``path`` (no caching; see ``load_kb``)."""
        import bm25s

        if read_manifest(path) is None:
            raise KnowledgeBaseError(
                f"knowledge base {name or path.name!r} not found at {path}; run `sangdam kb ingest DIR --kb {name or path.name}`"
            )
        chunks = read_chunks(path)
        vectors = np.ascontiguousarray(np.load(path / "dense.npy"), np.float32) if chunks else np.zeros((0, 384), np.float32)
        bm25 = bm25s.BM25.load(str(path / "bm25"), show_progress=False) if chunks else None
        return cls(name or path.name, path, chunks, vectors, bm25)

    # --- retrievers ---------------------------------------------------------------------------------------

    def bm25_scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for ``query`` (kiwi morphemes; zeros when no query term is indexed)."""
        from sangdam.korean.analyzer import tokenize_for_search

        scores = np.zeros(len(self.chunks), dtype=np.float32)
        if self.bm25 is None:
            return scores
        ids = self.bm25.get_tokens_ids(tokenize_for_search(query))
        if ids:
            scores = np.asarray(self.bm25.get_scores_from_ids(ids), dtype=np.float32)
        return scores

    def dense_scores(self, query: str) -> np.ndarray:
        """Cosine similarity of every chunk to ``query``."""
        from sangdam.knowledge.embedding import embed_query

        if not self.chunks:
            return np.zeros(0, dtype=np.float32)
        vector = embed_query(query)
        with single_threaded_blas():
            return self.vectors @ vector

    def search(self, query: str, k: int = 5, mode: Mode = "hybrid") -> list[SearchHit]:
        """The ``k`` best chunks for ``query``; ``score`` is the fused score (hybrid) or the retriever's own."""
        if not self.chunks or not query.strip():
            return []
        zeros = np.zeros(len(self.chunks), np.float32)
        bm25 = self.bm25_scores(query) if mode in ("hybrid", "bm25") else zeros
        dense = self.dense_scores(query) if mode in ("hybrid", "dense") else zeros
        if mode == "bm25":
            fused = bm25
            order = [i for i in _top(bm25, k) if bm25[i] > 0]
        elif mode == "dense":
            fused = dense
            order = _top(dense, k)
        else:
            fused = fuse(dense, bm25)
            order = _top(fused, k)
        return [self._hit(i, float(fused[i]), float(dense[i]), float(bm25[i])) for i in order]

    def _hit(self, i: int, score: float, dense: float, bm25: float) -> SearchHit:
        c = self.chunks[i]
        return SearchHit(source=c.source, heading=c.heading, text=c.text, score=score, chunk_id=c.id,
                         ordinal=c.ordinal, dense=dense, bm25=bm25)


def _top(scores: np.ndarray, k: int) -> list[int]:
    k = min(k, len(scores))
    if k <= 0:
        return []
    idx = np.argpartition(-scores, k - 1)[:k]
    return [int(i) for i in idx[np.argsort(-scores[idx], kind="stable")]]


def fuse(dense: np.ndarray, bm25: np.ndarray, weight: float = BM25_WEIGHT) -> np.ndarray:
    """Hybrid score: cosine + ``weight`` × BM25 normalised by its best score (no bonus without a BM25 hit).

    Score-aware: a chunk BM25 barely matches gets a bonus close to 0, so it cannot overtake a clearly better
    dense hit; only near-ties (within ``weight`` in cosine) are decided by BM25.
    """
    top = float(bm25.max()) if len(bm25) else 0.0
    if top <= 0.0 or weight == 0.0:
        return dense
    return dense + (weight / top) * bm25


def rrf(rankings: list[list[int]], n: int, k: int = RRF_K) -> np.ndarray:
    """Reciprocal-rank fusion: sum over rankings of 1 / (k + rank)."""
    fused = np.zeros(n, dtype=np.float32)
    for ranking in rankings:
        for rank, idx in enumerate(ranking, start=1):
            fused[idx] += 1.0 / (k + rank)
    return fused


_cache: dict[str, tuple[int, KnowledgeBase]] = {}
_cache_lock = threading.Lock()


def load_kb(name: str = "default") -> KnowledgeBase:
    """The KB ``name`` under SANGDAM_HOME, loaded once per process (reloaded after a re-ingest)."""
    path = kb_path(name)
    manifest = path / "manifest.json"
    stamp = manifest.stat().st_mtime_ns if manifest.exists() else -1
    key = str(path)
    with _cache_lock:
        cached = _cache.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
        kb = KnowledgeBase.open(path, name)
        _cache[key] = (stamp, kb)
        return kb


_blas: Any = None


def single_threaded_blas() -> Any:
    """One BLAS thread for the similarity product: it takes well under a millisecond on one core even at 10k
    chunks, while waking OpenBLAS's pool on two shared cores, next to the embedder's OpenMP threads, made the
    product cost tens of milliseconds (measured: hybrid p50 85 ms vs 11 ms at 10k; docs/benchmarks.md)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")
