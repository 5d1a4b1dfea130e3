"""One shared, lazily loaded Kiwi analyser: morpheme tokens for search and sentence splitting.

Loading Kiwi takes about a second and ~100 MB, so it happens once per process, on first use.
"""

from __future__ import annotations

import threading
from functools import lru_cache

_lock = threading.Lock()
_kiwi = None

# Part-of-speech tags kept as search terms: nouns, verbs/adjective stems, adverbs, foreign words, numbers,
# hanja, roots. Particles (J*), endings (E*) and punctuation carry no topic.
_SEARCH_TAGS = ("NN", "NR", "NP", "VV", "VA", "XR", "SL", "SN", "SH", "MAG", "W_")


def get_kiwi():  # noqa: ANN201 - kiwipiepy.Kiwi, imported lazily
    """The process-wide ``kiwipiepy.Kiwi`` instance (thread-safe lazy initialisation)."""
    global _kiwi
    if _kiwi is None:
        with _lock:
            if _kiwi is None:
                from kiwipiepy import Kiwi

                _kiwi = Kiwi(num_workers=-1)  # no worker threads: calls are short and per-request
    return _kiwi


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for tok in get_kiwi().tokenize(text):
        if tok.tag.startswith(_SEARCH_TAGS):
            form = tok.form.lower()
            # Verb/adjective stems are indexed in their dictionary form ("켜" -> "켜다") for stable matching.
            if tok.tag in ("VV", "VA"):
                form += "다"
            out.append(form)
    return tuple(out)


def tokenize_for_search(text: str) -> list[str]:
    """Content morphemes of ``text`` for indexing and querying (로밍은/로밍을/로밍이 → 로밍)."""
    return list(_tokens(text))


def split_sentences(text: str) -> list[str]:
    """Korean-aware sentence split (handles missing punctuation and quotes)."""
    return [s.text.strip() for s in get_kiwi().split_into_sents(text) if s.text.strip()]
