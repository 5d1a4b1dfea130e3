"""Training, threshold calibration and caching of the router's intent classifier.

The classifier is a scikit-learn pipeline: TF-IDF over Kiwi morphemes (with verb stems and morpheme bigrams)
plus TF-IDF over character n-grams of the unspaced text (robust to missing spaces and typos), feeding a linear
SVM whose scores are calibrated into probabilities (Platt scaling, cross-validated). Every training utterance is
also embedded with multilingual-e5 (``understanding.semantic``): a linear head and a nearest-neighbour index on
those vectors give a second opinion, blended with the n-grams where they are unsure (weights fitted on
out-of-fold predictions; ``router_model.HybridIntentClassifier``). Training is deterministic
(fixed folds and seeds) and cached under ``SANGDAM_HOME/cache/router/``, keyed by a hash of the training data,
this module's ``MODEL_VERSION``, the operator intents' utterances, the library versions and the embedder:
edit ``train.yaml`` and the next load retrains.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, field_validator, model_validator

from sangdam.orchestrator.intents import INTENTS, all_intents
from sangdam.orchestrator.router_model import CompactIntentClassifier, HybridIntentClassifier, blend

log = logging.getLogger(__name__)

MODEL_VERSION = "router-v5-e5"
"""Bump when features or the estimator change, so cached models are rebuilt."""

SEED = 0
# Below this accuracy a small LLM is assumed to do better than the classifier: the fallback threshold is the
# confidence under which the classifier's cross-validated accuracy drops below it.
ASSUMED_LLM_ACCURACY = 0.80
THRESHOLD_BOUNDS = (0.20, 0.80)
# Pieces whose n-gram confidence is at or above this keep their n-gram probabilities and are not embedded
# (embedding costs ~10 ms per piece on this machine; see docs/routing.md, "Semantic evidence").
SEMANTIC_GATE = 0.9
# Log-linear blend weights tried for (n-gram, e5 head, e5 kNN); the best by out-of-fold log-loss is kept.
BLEND_GRID = (tuple(i / 4 for i in range(11)), tuple(i / 4 for i in range(11)), (0.0, 0.25, 0.5, 1.0))

_SKIP_TAGS = ("SF", "SP", "SS", "SE", "SO", "SW", "SB")


# ---------------------------------------------------------------------------------------------- data files


class TrainingSet(BaseModel):
    """``resources/intents/train.yaml``: utterances per intent (every intent of the taxonomy, ≥ 40 each)."""

    intents: dict[str, list[str]]
    compose: dict[str, list[list[list[str]]]] = Field(default_factory=dict)

    @field_validator("intents")
    @classmethod
    def _covers_taxonomy(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(all_intents()))  # the taxonomy and intents registered in data
        missing = sorted(set(INTENTS) - set(value))
        if unknown or missing:
            raise ValueError(f"training intents differ from the taxonomy: unknown={unknown} missing={missing}")
        thin = {k: len(v) for k, v in value.items() if k in INTENTS and len(v) < 40}  # operator intents: ≥ 10, checked where declared
        if thin:
            raise ValueError(f"every intent needs at least 40 training utterances: {thin}")
        return value

    @field_validator("compose")
    @classmethod
    def _compose_known(cls, value: dict[str, list[list[list[str]]]]) -> dict[str, list[list[list[str]]]]:
        unknown = sorted(set(value) - set(INTENTS))
        if unknown:
            raise ValueError(f"compose names intents outside the taxonomy: {unknown}")
        return value

    def composed(self, intent: str) -> list[str]:
        """Every combination of the intent's compose groups (one phrase per slot, joined by a space)."""
        out: list[str] = []
        for group in self.compose.get(intent, []):
            out.extend(" ".join(parts) for parts in itertools.product(*group))
        return out

    def pairs(self, extra: dict[str, list[str]] | None = None) -> tuple[list[str], list[str], list[bool]]:
        """(texts, labels, hand_written) in taxonomy order, hand-written lines first (deterministic).

        ``extra``: more hand-written utterances per intent (operator intents from
        ``intents.extra_training_examples()``); intents outside the taxonomy follow its own, in sorted order.
        """
        extra = extra or {}
        texts: list[str] = []
        labels: list[str] = []
        written: list[bool] = []
        for intent in [*INTENTS, *sorted((set(self.intents) | set(extra)) - set(INTENTS))]:
            seen = set()
            lines = [*self.intents.get(intent, []), *extra.get(intent, [])]
            for text, by_hand in [(t, True) for t in lines] + [(t, False) for t in self.composed(intent)]:
                if text in seen:
                    continue
                seen.add(text)
                texts.append(text)
                labels.append(intent)
                written.append(by_hand)
        return texts, labels, written


class MultiIntentCase(BaseModel):
    """One utterance with its expected ordered intent list."""

    text: str
    intents: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _known(self) -> MultiIntentCase:
        bad = [i for i in self.intents if i not in INTENTS]
        if bad:
            raise ValueError(f"unknown intents {bad} in case {self.text!r}")
        return self


class HeldOutSet(BaseModel):
    """``resources/intents/heldout.yaml``: single-intent and ordered multi-intent test utterances."""

    single: dict[str, list[str]]
    multi: list[MultiIntentCase]

    def cases(self) -> list[MultiIntentCase]:
        """Every test case, single-intent ones first."""
        out = [MultiIntentCase(text=t, intents=[i]) for i, texts in self.single.items() for t in texts]
        return out + list(self.multi)


def intents_resource_dir() -> Path:
    """Folder holding the router's YAML resources."""
    return Path(str(resources.files("sangdam") / "resources" / "intents"))


def _read_yaml(name: str) -> object:
    with open(intents_resource_dir() / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_training_set() -> TrainingSet:
    """Parse and validate ``train.yaml``."""
    return TrainingSet.model_validate(_read_yaml("train.yaml"))


def operator_examples() -> dict[str, list[str]]:
    """Operator intents' training utterances (``intents.extra_training_examples()``; ``{}`` where absent)."""
    from sangdam.orchestrator import intents

    extra = getattr(intents, "extra_training_examples", None)
    if extra is None:
        return {}
    try:
        examples = extra()
    except Exception as exc:  # an invalid operator file must not stop routing: train on the built-in data
        log.error("operator intents' training utterances not used: %s", exc)
        return {}
    return {str(k): [str(t) for t in v] for k, v in sorted(examples.items()) if v}


HELDOUT_FILES = {"heldout": "heldout.yaml", "heldout_v2": "heldout_v2.yaml"}
"""The held-out test sets by name: the original one and a second one written later in new wording."""


def load_heldout_set(name: str = "heldout") -> HeldOutSet:
    """Parse and validate a held-out set (for tests and the benchmark only; never for training)."""
    if name not in HELDOUT_FILES:
        raise ValueError(f"unknown held-out set {name!r}; expected one of {sorted(HELDOUT_FILES)}")
    return HeldOutSet.model_validate(_read_yaml(HELDOUT_FILES[name]))


def load_dev_cases() -> list[MultiIntentCase]:
    """Parse ``dev_multi.yaml`` (splitter development cases)."""
    raw = _read_yaml("dev_multi.yaml")
    return [MultiIntentCase.model_validate(c) for c in raw["cases"]]  # type: ignore[index]


# ---------------------------------------------------------------------------------------------- features


def normalize(text: str) -> str:
    """NFKC, lower case, single spaces: the form every feature sees."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def unspaced(text: str) -> str:
    """Text without spaces, for character n-grams that do not care how the customer spaced words."""
    return normalize(text).replace(" ", "")


@lru_cache(maxsize=8192)
def morpheme_features(text: str) -> tuple[str, ...]:
    """Kiwi morphemes as ``form/TAG`` (verb stems as ``form/V``) plus bigrams of consecutive morphemes."""
    from sangdam.korean.analyzer import get_kiwi

    unigrams: list[str] = []
    for tok in get_kiwi().tokenize(normalize(text)):
        if tok.tag.startswith(_SKIP_TAGS):
            continue
        tag = "V" if tok.tag in ("VV", "VA", "VX") else tok.tag
        unigrams.append(f"{tok.form}/{tag}")
    bigrams = [f"{a}+{b}" for a, b in zip(unigrams, unigrams[1:], strict=False)]
    return tuple(unigrams + bigrams)


class MorphemeAnalyzer:
    """Picklable TF-IDF analyzer returning ``morpheme_features`` (a class, so the cached model pickles)."""

    def __call__(self, text: str) -> list[str]:
        return list(morpheme_features(text))


def build_pipeline():  # noqa: ANN201 - sklearn Pipeline, imported lazily
    """The untrained classifier pipeline (fixed seeds: fitting the same data gives the same model)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    features = FeatureUnion(
        [
            ("morph", TfidfVectorizer(analyzer=MorphemeAnalyzer(), sublinear_tf=True, lowercase=False)),
            (
                "chars",
                TfidfVectorizer(analyzer="char", preprocessor=unspaced, ngram_range=(1, 4), sublinear_tf=True),
            ),
        ]
    )
    svm = LinearSVC(C=0.5, random_state=SEED)
    # ensemble=False: one SVM on all data plus Platt sigmoids fitted on its cross-validated scores, so
    # inference is one matrix product (see router_model.CompactIntentClassifier)
    calibrated = CalibratedClassifierCV(
        svm, method="sigmoid", ensemble=False, cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    )
    return Pipeline([("features", features), ("clf", calibrated)])


# ---------------------------------------------------------------------------------------------- training


@dataclass
class TrainedIntentModel:
    """A fitted classifier, its fallback threshold, and the facts needed to tell whether it is stale.

    ``pipeline`` is the scikit-learn pipeline as fitted; ``compact`` computes the same probabilities from
    its arrays in well under a millisecond per text. ``hybrid`` (when present) adds e5 evidence to
    ``compact``'s n-gram probabilities where they are unsure (``router_model.HybridIntentClassifier``); it is
    what routing uses.
    """

    pipeline: object | None  # None once loaded from the cache (kept out of it: unpickling sklearn is slow)
    compact: CompactIntentClassifier
    threshold: float
    cache_key: str
    stats: dict[str, float] = field(default_factory=dict)
    hybrid: HybridIntentClassifier | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names, in the column order of ``predict_proba``."""
        return self.compact.classes

    def predict_proba(self, texts: list[str]):  # noqa: ANN201 - numpy array (n, len(classes))
        """Calibrated class probabilities, columns in ``classes`` order."""
        if self.hybrid is not None:
            return self.hybrid.predict_proba(texts)
        return self.compact.predict_proba(texts)


def calibrate_threshold(confidences: list[float], correct: list[bool], bins: int = 10) -> float:
    """Confidence under which the classifier is expected to be less accurate than the LLM fallback.

    Sorts the out-of-fold predictions by confidence into ``bins`` equal-count bins and returns the upper edge
    of the most confident bin whose accuracy is under ``ASSUMED_LLM_ACCURACY`` (clamped to
    ``THRESHOLD_BOUNDS``): below it the LLM is expected to do better, above it the classifier answers alone.
    """
    pairs = sorted(zip(confidences, correct, strict=True))
    lo, hi = THRESHOLD_BOUNDS
    best = lo
    size = max(1, len(pairs) // bins)
    for start in range(0, len(pairs), size):
        chunk = pairs[start : start + size]
        if sum(c for _, c in chunk) / len(chunk) < ASSUMED_LLM_ACCURACY:
            best = chunk[-1][0]
    return round(min(max(best, lo), hi), 4)


def fit_blend(parts, labels, mask) -> tuple[tuple[float, ...], float]:  # noqa: ANN001 - numpy arrays
    """Weights of ``router_model.blend`` over ``parts`` (out-of-fold probabilities) with the lowest log-loss
    on the rows in ``mask``, and that log-loss. Ties keep the first weights of ``BLEND_GRID``."""
    import numpy as np

    rows = np.flatnonzero(mask)
    best: tuple[float, tuple[float, ...]] | None = None
    for weights in itertools.product(*BLEND_GRID):
        if not any(weights):
            continue
        p = blend([part[rows] for part in parts], weights)
        loss = float(-np.log(np.maximum(p[np.arange(len(rows)), labels[rows]], 1e-12)).mean())
        if best is None or loss < best[0] - 1e-9:
            best = (loss, weights)
    assert best is not None
    return best[1], best[0]


def train_model(
    training: TrainingSet,
    cache_key: str = "",
    *,
    extra: dict[str, list[str]] | None = None,
    semantic: bool = True,
    embed=None,  # noqa: ANN001 - texts -> vectors; None: the bundled e5 (understanding.semantic.default_embed)
) -> TrainedIntentModel:
    """Fit the pipeline on ``training`` (+ ``extra`` operator utterances; default: ``operator_examples()``)
    and calibrate the fallback threshold on out-of-fold predictions.

    With ``semantic`` (default) every training utterance is also embedded with e5 (once, here; the vectors are
    cached with the model), a linear head and a nearest-neighbour index are built on the vectors, and the
    weights of their blend with the n-grams are fitted on out-of-fold predictions (same folds). The threshold
    is calibrated on the final (blended, gated) out-of-fold probabilities of the hand-written utterances only:
    composed ones resemble each other across folds and would make the classifier look surer than it is.
    """
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    texts, labels, written = training.pairs(operator_examples() if extra is None else extra)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    oof = cross_val_predict(build_pipeline(), texts, labels, cv=cv, method="predict_proba")
    classes = sorted(set(labels))  # cross_val_predict orders columns like the estimator: sorted labels
    mask = np.asarray(written)
    y = np.asarray([classes.index(label) for label in labels])
    stats: dict[str, float] = {
        "train_utterances": float(len(texts)),
        "hand_written_utterances": float(mask.sum()),
        "oof_accuracy_ngram": float((oof.argmax(axis=1) == y)[mask].mean()),
    }

    hybrid_parts = None
    final = oof
    if semantic:
        from sangdam.understanding.semantic import SemanticIndex

        index = SemanticIndex.build(texts, labels, classes, embed=embed)
        folds = list(cv.split(texts, labels))
        head, knn = index.out_of_fold_head_proba(folds), index.out_of_fold_proba(folds)
        weights, loss = fit_blend([oof, head, knn], y, mask)
        combined = blend([oof, head, knn], weights)
        gated = np.where((oof.max(axis=1) < SEMANTIC_GATE)[:, None], combined, oof)
        final = gated
        hybrid_parts = (index.fit_head(), weights)
        stats |= {
            "oof_accuracy_head": float((head.argmax(axis=1) == y)[mask].mean()),
            "oof_accuracy_knn": float((knn.argmax(axis=1) == y)[mask].mean()),
            "oof_accuracy_combined": float((combined.argmax(axis=1) == y)[mask].mean()),
            "oof_embedded_rate": float((oof.max(axis=1) < SEMANTIC_GATE)[mask].mean()),
            "blend_weight_ngram": weights[0],
            "blend_weight_head": weights[1],
            "blend_weight_knn": weights[2],
            "blend_logloss": loss,
        }

    conf = final.max(axis=1)[mask]
    correct = (final.argmax(axis=1) == y)[mask]
    threshold = calibrate_threshold(conf.tolist(), correct.tolist())
    pipeline = build_pipeline().fit(texts, labels)
    compact = CompactIntentClassifier(pipeline)
    hybrid = None
    if hybrid_parts is not None:
        hybrid = HybridIntentClassifier(compact, hybrid_parts[0], hybrid_parts[1], SEMANTIC_GATE)
        hybrid.embed = embed
    below = conf < threshold
    stats |= {
        "oof_accuracy": float(correct.mean()),
        "oof_fallback_rate": float(below.mean()),
        "oof_accuracy_above_threshold": float(correct[~below].mean()) if (~below).any() else 0.0,
    }
    return TrainedIntentModel(pipeline, compact, threshold, cache_key, stats, hybrid)


# ---------------------------------------------------------------------------------------------- cache


def training_cache_key() -> str:
    """Hash of the training data (``train.yaml`` and the operator intents' utterances), the model version, the
    library versions and the embedder."""
    from importlib.metadata import version  # not importing the libraries themselves keeps loading fast

    import json

    from sangdam.understanding.semantic import embedder_id

    digest = hashlib.sha256()
    digest.update((intents_resource_dir() / "train.yaml").read_bytes())
    digest.update(json.dumps(operator_examples(), ensure_ascii=False, sort_keys=True).encode())
    for part in (MODEL_VERSION, version("scikit-learn"), version("kiwipiepy"), embedder_id()):
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()[:20]


def default_cache_dir() -> Path:
    """``SANGDAM_HOME/cache/router``."""
    from sangdam.config import get_settings

    return get_settings().resolved_home / "cache" / "router"


def load_or_train(cache_dir: Path | None = None) -> TrainedIntentModel:
    """The cached model for the current training data, training (and caching) it first if needed.

    A cache that cannot be written (read-only home) only costs a retrain per process, never an error.
    """
    from sangdam.model_cache import load_or_train as cached

    key = training_cache_key()
    return cached(cache_dir or default_cache_dir(), "intent-model", key, TrainedIntentModel,
                  lambda: train_model(load_training_set(), cache_key=key),
                  stored=lambda model: dataclasses.replace(model, pipeline=None))
