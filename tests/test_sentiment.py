"""Sentiment and escalation signals (issue 16, item 2): the classifier, the per-turn hook, the agent offer, the
console mark."""

from __future__ import annotations

import numpy as np
import pytest

from sangdam.contact_center.sentiment import (
    CueLexicon,
    SentimentClassifier,
    fit_pipeline,
    load_or_train,
    load_training_lines,
    train_model,
)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> SentimentClassifier:
    return SentimentClassifier(load_or_train(tmp_path_factory.mktemp("models")))


@pytest.mark.parametrize("text", ["몇 번을 말해야 알아들어요? 장난해?", "아 진짜 짜증나네 ㅡㅡ", "화나서 못 참겠네요 당장 해지해 주세요"])
def test_hostile_messages_are_angry(classifier: SentimentClassifier, text: str) -> None:
    result = classifier.classify(text)
    assert result.label == "angry"
    assert result.score < -0.5


@pytest.mark.parametrize("text", ["친절하게 알려 주셔서 정말 감사합니다", "덕분에 해결됐어요 고마워요"])
def test_thanks_are_positive(classifier: SentimentClassifier, text: str) -> None:
    result = classifier.classify(text)
    assert result.label == "positive"
    assert result.score > 0.5


@pytest.mark.parametrize("text", ["이번 달 요금 얼마예요?", "네", "로밍 신청하려고요", "[이름]입니다"])
def test_plain_requests_and_short_answers_are_neutral(classifier: SentimentClassifier, text: str) -> None:
    assert classifier.classify(text).label == "neutral"


def test_unhappy_but_polite_is_negative_not_angry(classifier: SentimentClassifier) -> None:
    assert classifier.classify("알려 주신 대로 했는데 여전히 안 돼요 ㅠㅠ").label == "negative"


def test_negated_praise_is_a_complaint() -> None:
    lexicon = CueLexicon.load()
    praised, _ = lexicon.scores("친절하네요")
    negated, cues = lexicon.scores("별로 친절하지 않네요")
    assert praised["positive"] > 0 and praised["negative"] == 0
    assert negated["positive"] == 0 and negated["negative"] > 0
    assert "친절(부정)" in cues


def test_negated_complaint_is_no_complaint() -> None:
    totals, _ = CueLexicon.load().scores("불편하지 않아요")
    assert totals["negative"] == 0


def test_intensifier_strengthens_a_cue() -> None:
    lexicon = CueLexicon.load()
    assert lexicon.scores("진짜 짜증")[0]["angry"] > lexicon.scores("짜증")[0]["angry"]


def test_compact_model_matches_the_sklearn_pipeline() -> None:
    lines = load_training_lines()
    pipeline, model = fit_pipeline(lines), train_model(lines)
    texts = ["요금이 왜 이렇게 많이 나와요 ㅡㅡ", "감사합니다", "데이터 충전"]
    expected = pipeline.predict_proba(texts)
    got = np.exp([model.log_proba(t) for t in texts])
    assert list(model.classes) == list(pipeline.classes_)
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_model_is_cached_and_reused(tmp_path) -> None:
    first = load_or_train(tmp_path)
    files = list(tmp_path.glob("sentiment-model-*.joblib"))
    assert len(files) == 1
    again = load_or_train(tmp_path)
    assert again.cache_key == first.cache_key and again.vocabulary == first.vocabulary


def test_evaluation_set_is_held_out_from_training() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "sentiment" / "eval.tsv"
    held_out = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    assert len(held_out) >= 200
    assert not {t for _, t in held_out} & {t for _, t in load_training_lines()}
