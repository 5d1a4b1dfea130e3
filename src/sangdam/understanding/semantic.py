"""Semantic intent evidence: a nearest-neighbour vote over multilingual-e5 vectors of the training utterances.

The router's n-gram classifier (``orchestrator.router_training``) knows the words it was trained on; a message
that says the same thing in other words, in English, or half in English ("how much is my bill", "roaming
꺼줘") can miss every trained n-gram. e5 (``sangdam.knowledge.embedding``, 4-bit multilingual-e5-small,
bundled) places such paraphrases near the training utterances that mean the same. ``SemanticIndex`` keeps the
normalised vectors of every training utterance (computed once at training time and cached with the router's
model) and turns the ``k`` most similar ones into class probabilities: each neighbour votes for its intent
with weight ``exp((similarity - best) / temperature)``.

The vote is combined with the n-gram probabilities in ``orchestrator.router_model.HybridIntentClassifier``
(a calibrated log-linear blend, fitted on out-of-fold predictions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Embed = Callable[[list[str]], np.ndarray]
"""Texts → ``(n, dim)`` L2-normalised float32 vectors (default: ``knowledge.embedding.embed_queries``)."""

DEFAULT_K = 5
DEFAULT_TEMPERATURE = 0.02
HEAD_C = 0.3  # inverse regularisation of the linear head on standardised vectors (chosen on the training data's
# cross-validation: out-of-fold log-loss of the blend 0.198 against 0.204 for C = 100 on raw vectors, 4x faster)
SMOOTHING = 1e-3  # every class keeps a little mass, so a log-linear blend never sees log(0)


def default_embed(texts: list[str]) -> np.ndarray:
    """e5 vectors in the symmetric "query: " form (one call for the whole batch)."""
    from sangdam.knowledge.embedding import embed_queries

    return embed_queries(list(texts))


def embedder_id() -> str:
    """Identity of the embedding model (part of the router's cache key)."""
    from sangdam.knowledge.embedding import EMBEDDER_ID

    return EMBEDDER_ID


def vote(sims: np.ndarray, labels: np.ndarray, n_classes: int, k: int, temperature: float) -> np.ndarray:
    """Class probabilities from a ``(m, n)`` similarity matrix against items labelled ``labels`` (n,)."""
    m, n = sims.shape
    k = max(1, min(k, n))
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (m, 1))
    top_sims = np.take_along_axis(sims, top, axis=1)
    weights = np.exp((top_sims - top_sims.max(axis=1, keepdims=True)) / temperature)
    votes = np.zeros((m, n_classes), dtype=np.float64)
    np.add.at(votes, (np.repeat(np.arange(m), k), labels[top].ravel()), weights.ravel())
    votes /= votes.sum(axis=1, keepdims=True)
    votes += SMOOTHING
    return votes / votes.sum(axis=1, keepdims=True)


@dataclass
class SemanticIndex:
    """Vectors of the training utterances and their intents; ``knn_proba`` votes over the nearest ones."""

    classes: tuple[str, ...]
    vectors: np.ndarray  # (n, dim) float32, L2-normalised
    labels: np.ndarray  # (n,) int: column in ``classes``
    k: int = DEFAULT_K
    temperature: float = DEFAULT_TEMPERATURE
    embedder: str = ""
    head_weights: np.ndarray | None = None  # (dim, n_classes): a linear softmax head over the vectors
    head_bias: np.ndarray | None = None  # (n_classes,)

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        classes: Sequence[str],
        *,
        vectors: np.ndarray | None = None,
        embed: Embed | None = None,
        k: int = DEFAULT_K,
        temperature: float = DEFAULT_TEMPERATURE,
    ) -> SemanticIndex:
        """Index ``texts`` (embedded in one call unless ``vectors`` are given) under their ``labels``."""
        column = {c: j for j, c in enumerate(classes)}
        if vectors is None:
            vectors = (embed or default_embed)(list(texts))
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(vectors) != len(labels):
            raise ValueError("one vector per training utterance is needed")
        return cls(
            classes=tuple(classes),
            vectors=vectors,
            labels=np.asarray([column[y] for y in labels], dtype=np.int64),
            k=k,
            temperature=temperature,
            embedder=embedder_id() if embed is None else "custom",
        )

    def knn_proba(self, query_vectors: np.ndarray) -> np.ndarray:
        """Probabilities ``(m, len(classes))`` for ``(m, dim)`` query vectors."""
        sims = np.asarray(query_vectors, dtype=np.float32) @ self.vectors.T
        return vote(sims, self.labels, len(self.classes), self.k, self.temperature)

    def fit_head(self, c: float = HEAD_C) -> SemanticIndex:
        """Fit the linear head (multinomial logistic regression on the vectors; deterministic)."""
        self.head_weights, self.head_bias = fit_linear_head(self.vectors, self.labels, len(self.classes), c)
        return self

    def head_proba(self, query_vectors: np.ndarray) -> np.ndarray:
        """The linear head's probabilities ``(m, len(classes))`` (``fit_head`` first)."""
        if self.head_weights is None or self.head_bias is None:
            raise ValueError("the linear head is not fitted")
        return softmax(np.asarray(query_vectors, dtype=np.float64) @ self.head_weights + self.head_bias)

    def predict_proba(self, texts: Sequence[str], embed: Embed | None = None) -> np.ndarray:
        """``knn_proba`` of ``texts``, all embedded in one call."""
        if not texts:
            return np.zeros((0, len(self.classes)))
        return self.knn_proba((embed or default_embed)(list(texts)))

    def out_of_fold_proba(self, folds: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Cross-validated votes: each test fold searched only among the other folds' utterances."""
        out = np.zeros((len(self.labels), len(self.classes)))
        for train_idx, test_idx in folds:
            sims = self.vectors[test_idx] @ self.vectors[train_idx].T
            out[test_idx] = vote(sims, self.labels[train_idx], len(self.classes), self.k, self.temperature)
        return out

    def out_of_fold_head_proba(self, folds: Sequence[tuple[np.ndarray, np.ndarray]], c: float = HEAD_C) -> np.ndarray:
        """Cross-validated probabilities of the linear head (fitted on the other folds each time)."""
        out = np.zeros((len(self.labels), len(self.classes)))
        for train_idx, test_idx in folds:
            w, b = fit_linear_head(self.vectors[train_idx], self.labels[train_idx], len(self.classes), c)
            out[test_idx] = softmax(self.vectors[test_idx].astype(np.float64) @ w + b)
        return out


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_linear_head(vectors: np.ndarray, labels: np.ndarray, n_classes: int, c: float = HEAD_C) -> tuple:
    """(weights (dim, n_classes), bias (n_classes,)) of a multinomial logistic regression (scikit-learn, lbfgs).

    A learned prototype per intent: on the training data's cross-validation it is more accurate than the
    nearest-neighbour vote (docs/routing.md). Classes absent from ``labels`` get a very low bias.
    """
    from sklearn.linear_model import LogisticRegression

    present = np.unique(labels)
    # standardised inputs: the unit vectors' coordinates are ~0.05, and an unscaled fit needs C ~ 100 and 4x the
    # time to converge (8 s per fit on this machine); the scaling is folded back into the weights below
    x = np.asarray(vectors, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / scale, labels)
    weights = np.zeros((vectors.shape[1], n_classes))
    bias = np.full(n_classes, -1e3)
    if len(present) == 1:  # degenerate: everything is that class
        bias[present[0]] = 0.0
        return weights, bias
    coef, intercept = model.coef_, model.intercept_
    if len(present) == 2:  # binary LogisticRegression keeps one row: the second class's log-odds
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    coef = coef / scale  # w·(x − mean)/scale + b  =  (w/scale)·x + (b − (w/scale)·mean)
    intercept = intercept - coef @ mean
    for row, cls in enumerate(model.classes_):
        weights[:, cls] = coef[row]
        bias[cls] = intercept[row]
    return weights, bias
