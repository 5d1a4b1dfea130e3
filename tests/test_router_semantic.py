"""Semantic (e5) evidence in the router: the nearest-neighbour vote, the linear head, the gated blend with the
n-grams, training with cached vectors, operator intents in the training pairs and the cache key, and English /
Korean-English / consequence questions routed by the real model."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sangdam.orchestrator import intents as intents_module
from sangdam.orchestrator import router as router_module
from sangdam.orchestrator import router_training
from sangdam.orchestrator.router import IntentRouter
from sangdam.orchestrator.router_model import CompactIntentClassifier, HybridIntentClassifier, blend
from sangdam.orchestrator.router_training import TrainingSet, build_pipeline, load_or_train
from sangdam.understanding.semantic import SemanticIndex, fit_linear_head, softmax, vote

DIM = 64


def fake_embed(texts: list[str]) -> np.ndarray:
    """Deterministic stand-in for e5: hashed character bigrams, L2-normalised."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        t = text.replace(" ", "")
        for a, b in zip(t, t[1:] or t, strict=False):
            out[row, zlib.crc32((a + b).encode()) % DIM] += 1.0
        out[row] /= np.linalg.norm(out[row]) or 1.0
    return out


class CountingEmbed:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return fake_embed(texts)


def _small_training_set(per_intent: int = 8) -> TrainingSet:
    full = router_training.load_training_set()
    return TrainingSet.model_construct(intents={k: v[:per_intent] for k, v in full.intents.items()}, compose={})


# -- the semantic index ----------------------------------------------------------------------------------------


def test_vote_prefers_the_nearest_neighbours_and_sums_to_one() -> None:
    sims = np.array([[0.9, 0.8, 0.1, 0.2], [0.1, 0.2, 0.95, 0.3]])
    labels = np.array([0, 0, 1, 2])
    p = vote(sims, labels, 3, k=2, temperature=0.05)
    assert p.argmax(axis=1).tolist() == [0, 1]
    assert np.allclose(p.sum(axis=1), 1.0) and (p > 0).all()  # smoothing: no zero for the log blend


def test_out_of_fold_vote_never_sees_the_utterance_itself() -> None:
    vectors = np.eye(4, dtype=np.float32)  # every utterance is only similar to itself
    index = SemanticIndex(("a", "b"), vectors, np.array([0, 0, 1, 1]), k=1)
    folds = [(np.array([1, 2, 3]), np.array([0])), (np.array([0, 2, 3]), np.array([1])),
             (np.array([0, 1, 3]), np.array([2])), (np.array([0, 1, 2]), np.array([3]))]
    oof = index.out_of_fold_proba(folds)
    assert not np.allclose(oof, index.knn_proba(vectors))  # searched among the others only


def test_linear_head_learns_separable_classes() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8)
    x = np.vstack([c + 0.05 * rng.standard_normal((20, 8)) for c in centres])
    y = np.repeat(np.arange(3), 20)
    w, b = fit_linear_head(x, y, 4)  # a fourth class absent from the data gets a very low bias
    p = softmax(x @ w + b)
    assert (p.argmax(axis=1) == y).all() and p[:, 3].max() < 1e-6


def test_blend_is_a_distribution_and_weights_move_it() -> None:
    a = np.array([[0.7, 0.2, 0.1]])
    b = np.array([[0.1, 0.8, 0.1]])
    assert np.allclose(blend([a, b], (1.0, 0.0)), a)
    mixed = blend([a, b], (0.5, 1.25))
    assert np.isclose(mixed.sum(), 1.0) and mixed.argmax() == 1


# -- the gated combination -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_hybrid() -> HybridIntentClassifier:
    texts, labels, _ = _small_training_set().pairs()
    compact = CompactIntentClassifier(build_pipeline().fit(texts, labels))
    index = SemanticIndex.build(texts, labels, compact.classes, embed=fake_embed).fit_head()
    return HybridIntentClassifier(compact, index, (0.5, 1.0, 0.25), gate=0.9)


def test_a_message_sent_with_its_clauses_keeps_its_ngrams(small_hybrid: HybridIntentClassifier) -> None:
    embed = CountingEmbed()
    always = HybridIntentClassifier(small_hybrid.ngram, small_hybrid.semantic, small_hybrid.weights, gate=1.01)
    always.embed = embed
    pieces = ["요금 알려주시고 로밍도 켜주세요", "요금 알려주시고", "로밍도 켜주세요"]
    assert np.allclose(always.predict_proba(pieces), small_hybrid.ngram.predict_proba(pieces))
    assert embed.calls == []  # neither the clauses nor the message they come from are embedded
    one = ["남은 데이터 알려줘"]
    assert not np.allclose(always.predict_proba(one), small_hybrid.ngram.predict_proba(one))
    assert embed.calls == [one]  # a one-clause message is


def test_confident_pieces_keep_their_ngram_probabilities(small_hybrid: HybridIntentClassifier) -> None:
    embed = CountingEmbed()
    small_hybrid.embed = embed
    texts = ["요금 알려줘", "how much is my bill"]
    ngram = small_hybrid.ngram.predict_proba(texts)
    gated = HybridIntentClassifier(small_hybrid.ngram, small_hybrid.semantic, small_hybrid.weights, gate=0.0)
    gated.embed = embed
    assert np.allclose(gated.predict_proba(texts), ngram) and embed.calls == []
    always = HybridIntentClassifier(small_hybrid.ngram, small_hybrid.semantic, small_hybrid.weights, gate=1.01)
    always.embed = embed
    assert not np.allclose(always.predict_proba(texts), ngram)
    assert embed.calls == [texts]  # independent texts (neither inside the other): all embedded, one call


def test_a_failing_embedder_leaves_the_ngram_answer(small_hybrid: HybridIntentClassifier) -> None:
    def broken(_texts: list[str]) -> np.ndarray:
        raise RuntimeError("no e5 here")

    always = HybridIntentClassifier(small_hybrid.ngram, small_hybrid.semantic, small_hybrid.weights, gate=1.01)
    always.embed = broken
    texts = ["로밍 꺼줘"]
    assert np.allclose(always.predict_proba(texts), small_hybrid.ngram.predict_proba(texts))


# -- training and the cache ------------------------------------------------------------------------------------


def test_training_fits_the_blend_on_out_of_fold_predictions_and_is_deterministic() -> None:
    small = _small_training_set(10)
    first = router_training.train_model(small, "k", embed=fake_embed)
    second = router_training.train_model(small, "k", embed=fake_embed)
    assert first.hybrid is not None
    assert first.hybrid.weights == second.hybrid.weights and first.threshold == second.threshold
    assert len(first.hybrid.semantic.vectors) == int(first.stats["train_utterances"])
    assert {"oof_accuracy_ngram", "oof_accuracy_head", "oof_accuracy_knn", "oof_accuracy_combined"} <= set(first.stats)
    probe = ["요금 알려줘", "how much is my bill"]
    first.hybrid.embed = second.hybrid.embed = fake_embed
    assert np.array_equal(first.predict_proba(probe), second.predict_proba(probe))


def test_cached_model_keeps_the_vectors_and_not_the_embedder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = _small_training_set(10)
    real = router_training.train_model
    monkeypatch.setattr(router_training, "train_model",
                        lambda _t, cache_key="": real(small, cache_key, extra={}, embed=fake_embed))
    monkeypatch.setattr(router_training, "training_cache_key", lambda: "sem-v1")
    load_or_train(cache_dir=tmp_path)
    again = load_or_train(cache_dir=tmp_path)
    assert again.pipeline is None and again.hybrid is not None
    assert again.hybrid.embed is None  # the process's e5 is used after loading, not the trainer's function
    assert again.hybrid.semantic.vectors.shape[1] == DIM


def test_operator_intents_join_the_training_pairs_and_the_cache_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = router_training.training_cache_key()
    extra = {"membership.points": ["포인트 얼마 남았어요", "멤버십 포인트 조회", "points balance please"]}
    monkeypatch.setattr(intents_module, "extra_training_examples", lambda: extra, raising=False)
    assert router_training.operator_examples() == extra
    assert router_training.training_cache_key() != before
    texts, labels, written = _small_training_set(2).pairs(router_training.operator_examples())
    assert labels[-3:] == ["membership.points"] * 3 and texts[-1] == "points balance please" and all(written)


def test_a_broken_operator_file_does_not_stop_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, list[str]]:
        raise ValueError("bad yaml")

    monkeypatch.setattr(intents_module, "extra_training_examples", broken, raising=False)
    assert router_training.operator_examples() == {}


# -- the real model --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def router(request: pytest.FixtureRequest) -> Iterator[IntentRouter]:
    folder = Path(request.config.cache.mkdir("sangdam-router"))
    model = load_or_train(cache_dir=folder)
    saved = router_module._model
    router_module._model = model
    yield IntentRouter(model)
    router_module._model = saved


@pytest.mark.parametrize(
    ("text", "intents"),
    [
        ("how much is my bill", ["billing.inquiry"]),
        ("roaming 꺼줘", ["roaming.disable"]),
        ("데이터 refill 해줘", ["data.refill"]),
        ("해지하면 위약금 나와요?", ["policy.question"]),
        ("충전은 최대 몇 기가까지 돼요?", ["policy.question"]),
        ("can I pause my line while I'm abroad?", ["policy.question"]),
        ("I want to cancel my line", ["contract.cancel"]),
        ("talk to a person please", ["agent.human"]),
    ],
)
def test_english_mixed_and_consequence_questions(router: IntentRouter, text: str, intents: list[str]) -> None:
    assert router.route(text).intents == intents


def test_the_shipped_model_has_its_semantic_part(router: IntentRouter) -> None:
    model = router.model
    assert model.hybrid is not None and model.hybrid.semantic.vectors.shape == (int(model.stats["train_utterances"]), 384)
