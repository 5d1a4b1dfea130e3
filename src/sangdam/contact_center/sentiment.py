"""Korean sentiment of one customer message, offline: a cue lexicon combined with a small trained model.

Labels: ``positive`` | ``neutral`` | ``negative`` (unhappy, let down, worried) | ``angry`` (hostile, insulting,
threatening, shouting). Two sources, added in log space:

- the model: TF-IDF over character 1–3-grams of the unspaced text and a multinomial logistic regression, trained
  at first use from ``resources/sentiment/train.yaml`` and cached under ``SANGDAM_HOME/models`` (keyed by the
  training data and the lexicon, like the intent router). Inference runs on the fitted arrays, not sklearn, so a
  turn pays well under a millisecond;
- the lexicon (``resources/sentiment/lexicon.yaml``): anger cues ("짜증", "장난해", "몇 번을 말해", "ㅡㅡ"),
  negative and positive cues, intensifiers ("진짜", "너무") and negation ("좋지 않아요" counts as negative).

``score`` is the expected value of the combined distribution with positive +1, neutral 0, negative −0.5 and
angry −1: −1 … +1. Measured on a held-out set in another style: bench/sentiment/run.py, docs/sentiment.md.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sangdam.orchestrator.resources import load_resource

log = logging.getLogger(__name__)

LABELS: tuple[str, ...] = ("positive", "neutral", "negative", "angry")
SCORE_OF: dict[str, float] = {"positive": 1.0, "neutral": 0.0, "negative": -0.5, "angry": -1.0}
CUE_WEIGHT = 1.0  # log-odds added per unit of cue weight
# A feeling no cue supports needs the model to be this sure: on short replies ("네", a name) the small model's
# guesses are near uniform, and a false "angry" would offer a human agent for nothing.
MODEL_ALONE_MIN = 0.6
ANGRY_MODEL_ALONE_MIN = 0.85  # "angry" offers a human agent: without an anger cue the model must be near certain
_SUPPORT = {"positive": ("positive",), "negative": ("negative", "angry"), "angry": ("angry",)}
NGRAM_RANGE = (1, 3)
_MODEL_VERSION = "1"


def unspaced(text: str) -> str:
    """Lower-cased text without whitespace: "짜증 나" and "짜증나" are the same cue and the same n-grams."""
    return "".join(text.lower().split())


def char_ngrams(text: str) -> list[str]:
    """Character n-grams (``NGRAM_RANGE``) of the unspaced text; the model's only features."""
    doc = unspaced(text)
    lo, hi = NGRAM_RANGE
    return [doc[i : i + n] for n in range(lo, min(hi, len(doc)) + 1) for i in range(len(doc) - n + 1)]


@dataclass(frozen=True)
class Sentiment:
    """The sentiment of one message: label, score (−1 … +1), the combined probabilities and the cues found."""

    label: str
    score: float
    probabilities: dict[str, float]
    cues: tuple[str, ...] = ()


# -- lexicon ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CueLexicon:
    """Weighted cues per label, intensifiers and negations (see lexicon.yaml for the matching rules)."""

    cues: dict[str, dict[str, float]]
    intensifiers: dict[str, float]
    negations_after: tuple[str, ...]
    negations_before: tuple[str, ...]
    window: int

    @classmethod
    def load(cls) -> CueLexicon:
        data = load_resource("sentiment/lexicon.yaml")
        cues = {label: {unspaced(str(k)): float(v) for k, v in (data.get(label) or {}).items()}
                for label in ("angry", "negative", "positive")}
        return cls(cues, {unspaced(k): float(v) for k, v in data["intensifiers"].items()},
                   tuple(data["negations_after"]), tuple(data["negations_before"]), int(data["window"]))

    def scores(self, text: str) -> tuple[dict[str, float], list[str]]:
        """Cue weight per label found in ``text`` and the cues (a cue inside a longer matched cue counts once)."""
        doc = unspaced(text)
        totals = dict.fromkeys(LABELS, 0.0)
        found: list[str] = []
        taken: set[int] = set()
        matches = [(start, cue, label, weight) for label, cs in self.cues.items() for cue, weight in cs.items()
                   for start in _occurrences(doc, cue)]
        for start, cue, label, weight in sorted(matches, key=lambda m: (-len(m[1]), m[0])):
            span = set(range(start, start + len(cue)))  # longest first, then leftmost: "불편하" is 불편, not 편하
            if not span & taken:
                taken |= span
                target, w = self._apply_context(doc, start, cue, label, weight)
                if target:
                    totals[target] += w
                    found.append(cue if target == label else f"{cue}(부정)")
        return totals, found

    def _apply_context(self, doc: str, start: int, cue: str, label: str, weight: float) -> tuple[str | None, float]:
        before, after = doc[max(0, start - self.window) : start], doc[start + len(cue) : start + len(cue) + self.window]
        boost = max((f for word, f in self.intensifiers.items() if word in before), default=1.0)
        negated = any(after.startswith(n) or n in after[: len(n) + 2] for n in self.negations_after) or any(
            doc[max(0, start - 2) : start].endswith(n) for n in self.negations_before
        )
        if not negated:
            return label, weight * boost
        if label == "positive":  # "좋지 않아요", "안 친절": a complaint
            return "negative", weight * boost
        return None, 0.0  # "나쁘지 않아요", "안 불편해요": no complaint


def _occurrences(doc: str, cue: str) -> list[int]:
    starts, at = [], doc.find(cue)
    while at >= 0:
        starts.append(at)
        at = doc.find(cue, at + 1)
    return starts


# -- model ------------------------------------------------------------------------------------------------------
@dataclass
class SentimentModel:
    """A fitted TF-IDF + multinomial logistic regression, reduced to a vocabulary and arrays."""

    classes: tuple[str, ...]
    vocabulary: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray  # (n_features, n_classes)
    intercept: np.ndarray
    cache_key: str = ""

    def log_proba(self, text: str) -> np.ndarray:
        """Log probabilities in ``classes`` order (exactly what the fitted sklearn pipeline computes)."""
        counts = Counter(t for t in char_ngrams(text) if t in self.vocabulary)
        logits = self.intercept.copy()
        if counts:
            cols = [self.vocabulary[t] for t in counts]
            vals = np.array([(1.0 + math.log(c)) * self.idf[j] for j, c in zip(cols, counts.values(), strict=True)])
            logits += (vals / (np.linalg.norm(vals) or 1.0)) @ self.coef[cols]
        logits -= logits.max()
        return logits - math.log(float(np.exp(logits).sum()))


def load_training_lines() -> list[tuple[str, str]]:
    """(label, text) pairs of the shipped training file."""
    data = load_resource("sentiment/train.yaml")
    return [(label, str(text)) for label in LABELS for text in data.get(label) or []]


def fit_pipeline(lines: list[tuple[str, str]]) -> Any:
    """The sklearn pipeline the compact model is copied from (kept separate so a test can compare the two)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    pipeline = Pipeline([
        ("tfidf", TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True)),
        ("clf", LogisticRegression(C=10.0, max_iter=2000)),
    ])
    pipeline.fit([t for _, t in lines], [label for label, _ in lines])
    return pipeline


def train_model(lines: list[tuple[str, str]], cache_key: str = "") -> SentimentModel:
    """Fit on ``lines`` and keep only the arrays inference needs."""
    return compact(fit_pipeline(lines), cache_key)


def compact(pipeline: Any, cache_key: str = "") -> SentimentModel:
    """The arrays of a fitted :func:`fit_pipeline` pipeline (no sklearn needed to load or run them)."""
    vec, clf = pipeline.named_steps["tfidf"], pipeline.named_steps["clf"]
    return SentimentModel(
        classes=tuple(str(c) for c in clf.classes_),
        vocabulary={str(k): int(v) for k, v in vec.vocabulary_.items()},
        idf=np.asarray(vec.idf_, dtype=np.float64),
        coef=np.ascontiguousarray(clf.coef_.T, dtype=np.float64),
        intercept=np.asarray(clf.intercept_, dtype=np.float64),
        cache_key=cache_key,
    )


def training_cache_key() -> str:
    """Changes whenever the training data, the lexicon or the model's recipe changes."""
    digest = hashlib.sha256(_MODEL_VERSION.encode())
    for name in ("train.yaml", "lexicon.yaml"):
        digest.update((Path(__file__).parents[1] / "resources" / "sentiment" / name).read_bytes())
    return digest.hexdigest()[:16]


def load_or_train(cache_dir: Path | None = None) -> SentimentModel:
    """The cached model for the current training data, trained and cached first if needed (an unwritable cache
    only costs a retrain per process)."""
    from sangdam.config import get_settings
    from sangdam.model_cache import load_or_train as cached

    key = training_cache_key()
    return cached(cache_dir or get_settings().models_dir, "sentiment-model", key, SentimentModel,
                  lambda: train_model(load_training_lines(), cache_key=key))


# -- classifier -------------------------------------------------------------------------------------------------
@dataclass
class SentimentClassifier:
    """Model log-probabilities plus ``CUE_WEIGHT`` × lexicon cue weight per label, normalised; the most likely
    label wins unless no cue supports it and the model alone is below ``MODEL_ALONE_MIN`` (then the next)."""

    model: SentimentModel
    lexicon: CueLexicon = field(default_factory=CueLexicon.load)

    def classify(self, text: str) -> Sentiment:
        log_p = dict(zip(self.model.classes, self.model.log_proba(text), strict=True))
        cues, found = self.lexicon.scores(text)
        logits = np.array([log_p[label] + CUE_WEIGHT * cues[label] for label in LABELS])
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        model_p = {label: math.exp(log_p[label]) for label in LABELS}
        alone = {label: ANGRY_MODEL_ALONE_MIN if label == "angry" else MODEL_ALONE_MIN for label in LABELS}
        best = next(label for label in sorted(LABELS, key=lambda lab: -probs[LABELS.index(lab)])
                    if label == "neutral" or model_p[label] >= alone[label]
                    or any(cues[c] > 0 for c in _SUPPORT[label]))
        score = float(sum(p * SCORE_OF[label] for label, p in zip(LABELS, probs, strict=True)))
        return Sentiment(best, round(score, 3), {lab: round(float(p), 4) for lab, p in zip(LABELS, probs, strict=True)},
                         tuple(found))


@lru_cache(maxsize=1)
def get_classifier() -> SentimentClassifier:
    """The process-wide classifier (its model loaded from the cache, or trained once and cached)."""
    return SentimentClassifier(load_or_train())


def classify(text: str) -> Sentiment:
    """The sentiment of ``text`` (masked customer text is fine: placeholders carry no sentiment)."""
    return get_classifier().classify(text)
