"""A fitted intent classifier reduced to arrays, for millisecond inference.

scikit-learn's ``predict_proba`` spends tens of milliseconds per call in input validation for a handful of
short texts; routing must cost a few. ``CompactIntentClassifier`` copies what the fitted pipeline computes —
TF-IDF over morphemes and over character n-grams (sublinear tf, L2-normalised, concatenated), a linear SVM,
and per-class Platt sigmoids normalised over classes — into plain dicts and numpy arrays. A test checks that
it returns the same probabilities as the pipeline it was built from.
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
