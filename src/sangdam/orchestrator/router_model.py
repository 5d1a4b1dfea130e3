"""A fitted intent classifier reduced to arrays, for millisecond inference, and its blend with e5 evidence.

scikit-learn's ``predict_proba`` spends tens of milliseconds per call in input validation for a handful of
short texts; routing must cost a few. ``CompactIntentClassifier`` copies what the fitted pipeline computes —
TF-IDF over morphemes and over character n-grams (sublinear tf, L2-normalised, concatenated), a linear SVM,
and per-class Platt sigmoids normalised over classes — into plain dicts and numpy arrays. A test checks that
it returns the same probabilities as the pipeline it was built from. ``HybridIntentClassifier`` combines those
probabilities with ``understanding.semantic`` (multilingual-e5 vectors) where the n-grams are unsure.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np


class CharNgrams:
    """Character n-grams of the unspaced text, exactly as ``TfidfVectorizer(analyzer="char")`` makes them."""

    def __init__(self, min_n: int, max_n: int) -> None:
        self.min_n, self.max_n = min_n, max_n

    def __call__(self, text: str) -> list[str]:
        from sangdam.orchestrator.router_training import unspaced

        doc = unspaced(text)
        return [doc[i : i + n] for n in range(self.min_n, min(self.max_n, len(doc)) + 1) for i in range(len(doc) - n + 1)]


def morpheme_analyzer(text: str) -> list[str]:
    """Morpheme features (see ``router_training.morpheme_features``)."""
    from sangdam.orchestrator.router_training import morpheme_features

    return list(morpheme_features(text))


class _Vectorizer:
    """One fitted ``TfidfVectorizer`` (sublinear tf, l2 norm) as a vocabulary and an idf array."""

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray, offset: int, analyze: Callable) -> None:
        self.vocabulary = vocabulary
        self.idf = idf
        self.offset = offset  # column of this block inside the concatenated feature vector
        self.analyze = analyze

    def features(self, text: str) -> tuple[list[int], list[float]]:
        counts = Counter(t for t in self.analyze(text) if t in self.vocabulary)
        cols = [self.vocabulary[t] for t in counts]
        vals = [(1.0 + math.log(c)) * float(self.idf[j]) for j, c in zip(cols, counts.values(), strict=True)]
        norm = math.sqrt(sum(v * v for v in vals)) or 1.0
        return [j + self.offset for j in cols], [v / norm for v in vals]


class CompactIntentClassifier:
    """Calibrated class probabilities from the fitted pipeline's parameters (same numbers, ~100× faster)."""

    def __init__(self, pipeline: object) -> None:
        features = pipeline.named_steps["features"]  # type: ignore[attr-defined]
        calibrated = pipeline.named_steps["clf"]  # type: ignore[attr-defined]
        if len(calibrated.calibrated_classifiers_) != 1 or calibrated.method != "sigmoid":
            raise ValueError("compact inference needs CalibratedClassifierCV(method='sigmoid', ensemble=False)")
        inner = calibrated.calibrated_classifiers_[0]
        svm = inner.estimator
        self.classes: tuple[str, ...] = tuple(str(c) for c in svm.classes_)
        self.weights = np.ascontiguousarray(svm.coef_.T, dtype=np.float64)  # (n_features, n_classes)
        self.intercept = np.asarray(svm.intercept_, dtype=np.float64)
        self.sig_a = np.array([c.a_ for c in inner.calibrators], dtype=np.float64)
        self.sig_b = np.array([c.b_ for c in inner.calibrators], dtype=np.float64)
        # analyzers are re-implemented here (not sklearn closures) so that unpickling needs no sklearn import
        analyzers = {"morph": morpheme_analyzer, "chars": CharNgrams(*features.transformer_list[1][1].ngram_range)}
        self.vectorizers: list[_Vectorizer] = []
        offset = 0
        for name, vec in features.transformer_list:
            self.vectorizers.append(_Vectorizer(dict(vec.vocabulary_), np.asarray(vec.idf_), offset, analyzers[name]))
            offset += len(vec.vocabulary_)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, shape ``(len(texts), len(classes))``, columns in ``classes`` order."""
        scores = np.tile(self.intercept, (len(texts), 1))
        for row, text in enumerate(texts):
            for vec in self.vectorizers:
                cols, vals = vec.features(text)
                if cols:
                    scores[row] += np.asarray(vals) @ self.weights[cols]
        proba = 1.0 / (1.0 + np.exp(self.sig_a * scores + self.sig_b))  # Platt: expit(-(a·d + b))
        total = proba.sum(axis=1, keepdims=True)
        uniform = np.full_like(proba, 1.0 / proba.shape[1])
        return np.divide(proba, total, out=uniform, where=total != 0)


BLEND_FLOOR = 1e-6  # n-gram / head probabilities are floored before the log-linear blend


def blend(parts: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Log-linear combination ``softmax(Σ w_i · log p_i)`` of probability matrices with the same columns."""
    z = sum(w * np.log(np.maximum(p, BLEND_FLOOR)) for p, w in zip(parts, weights, strict=True) if w)
    z = np.asarray(z, dtype=np.float64)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _one_clause(i: int, texts: Sequence[str]) -> bool:
    """Whether ``texts[i]`` stands alone in the call: it is no part of another text of the call (a clause of a
    message) and no other text is part of it (a message sent with its clauses)."""
    mine = texts[i]
    return not any(
        len(other) != len(mine) and (mine in other or other in mine) for j, other in enumerate(texts) if j != i
    )


class HybridIntentClassifier:
    """n-gram probabilities, combined with e5 evidence where the n-grams are unsure.

    ``weights`` = (n-gram, e5 linear head, e5 nearest-neighbour vote) of a log-linear blend fitted on
    out-of-fold predictions (``router_training.fit_blend``), so the result stays a calibrated distribution.
    A piece gets e5 evidence when its n-gram confidence is below ``gate`` and (``whole_only``) it stands alone
    in the call: the router sends a one-clause message alone and a longer one together with its clauses, so
    only one-clause messages are embedded (~10 ms), never clauses or the message they come from. On clause
    fragments ("해외 유학 가서", "전화하고") the e5 head is confidently wrong more often than the n-grams, and a
    message of several clauses mixes topics in one vector ("부가서비스 요금은 잘 모르겠네요. 상담사랑 통화하고
    싶어요" read as billing); the clause rules decide those (docs/routing.md). All embedded pieces go in one
    call; the others keep their n-gram probabilities (``gate > 1``: every eligible piece is embedded). If
    embedding fails (the embedder cannot load) the n-gram probabilities are returned and a warning is logged
    once.
    """

    whole_only = True  # class defaults, so a model pickled before an attribute existed still loads
    embed: Callable[[list[str]], np.ndarray] | None = None
    _warned = False

    def __init__(
        self,
        ngram: CompactIntentClassifier,
        semantic,  # noqa: ANN001 - understanding.semantic.SemanticIndex (imported lazily)
        weights: Sequence[float],
        gate: float,
        whole_only: bool = True,
    ) -> None:
        if tuple(semantic.classes) != tuple(ngram.classes):
            raise ValueError("the semantic index and the n-gram classifier must share the class order")
        self.ngram = ngram
        self.semantic = semantic
        self.weights = tuple(float(w) for w in weights)
        self.gate = float(gate)
        self.whole_only = whole_only
        self.embed: Callable[[list[str]], np.ndarray] | None = None  # None: the bundled e5 (set by tests/benches)
        self._warned = False

    @property
    def classes(self) -> tuple[str, ...]:
        return self.ngram.classes

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["embed"], state["_warned"] = None, False
        return state

    def _vectors(self, texts: list[str]) -> np.ndarray | None:
        from sangdam.understanding.semantic import default_embed

        try:
            return (self.embed or default_embed)(texts)
        except Exception as exc:  # an embedder that cannot load must not break routing
            if not self._warned:
                import logging

                logging.getLogger(__name__).warning("semantic routing disabled, n-grams only: %s", exc)
                self._warned = True
            return None

    def parts(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Every component's probabilities for every text (benchmarks): ngram, head, knn, combined."""
        ngram = self.ngram.predict_proba(texts)
        vectors = self._vectors(list(texts))
        if vectors is None:
            return {"ngram": ngram}
        head, knn = self.semantic.head_proba(vectors), self.semantic.knn_proba(vectors)
        return {"ngram": ngram, "head": head, "knn": knn, "combined": blend([ngram, head, knn], self.weights)}

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, shape ``(len(texts), len(classes))``, columns in ``classes`` order."""
        proba = self.ngram.predict_proba(texts)
        conf = proba.max(axis=1)
        unsure = conf < self.gate
        if self.whole_only:
            unsure &= np.asarray([_one_clause(i, texts) for i in range(len(texts))], dtype=bool)
        rows = np.flatnonzero(unsure)
        if len(rows) == 0:
            return proba
        vectors = self._vectors([texts[i] for i in rows])  # one embedding call per message
        if vectors is None:
            return proba
        head = self.semantic.head_proba(vectors)
        knn = self.semantic.knn_proba(vectors) if self.weights[2] else head  # a zero weight ignores it
        proba[rows] = blend([proba[rows], head, knn], self.weights)
        return proba
