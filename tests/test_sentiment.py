"""Sentiment and escalation signals (issue 16, item 2): the classifier, the per-turn hook, the agent offer, the
console mark."""

from __future__ import annotations

import numpy as np
import pytest

from sangdam.contact_center.sentiment import (
    CueLexicon,
    SentimentClassifier,
    compact,
    fit_pipeline,
    load_or_train,
    load_training_lines,
)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> SentimentClassifier:
    return SentimentClassifier(load_or_train(tmp_path_factory.mktemp("models")))


@pytest.mark.parametrize("text", ["몇 번을 말해야 알아들어요? 장난해?", "아 진짜 짜증나네 ㅡㅡ", "화나서 못 참겠네요 당장 해지해 주세요",
                                  "아 씨 요금 왜이래"])
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
    pipeline = fit_pipeline(lines)
    model = compact(pipeline)
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


# -- escalation through the real orchestrator ---------------------------------------------------------------------
from sqlalchemy import select  # noqa: E402

from orchestrator_fixtures import orchestrator  # noqa: E402
from sangdam.domain.db import session_scope  # noqa: E402
from sangdam.domain.insight_models import ConversationMark, TurnSignal  # noqa: E402
from sangdam.orchestrator.format import say  # noqa: E402

# the offer's last words, with or without its apology (none is added to a reply that already apologised)
OFFER, HINT = say("escalation.offer_plain"), say("escalation.offer_hint_plain")
ANGRY = "아니 몇 번을 말해야 돼요? 지금 장난하세요? 진짜 짜증나네 ㅡㅡ"


def _signals(engine, conv_id: str) -> list[TurnSignal]:
    with session_scope(engine) as s:
        rows = s.scalars(select(TurnSignal).where(TurnSignal.conversation_id == conv_id)
                         .order_by(TurnSignal.turn_index)).all()
        s.expunge_all()
        return list(rows)


def _marks(engine, conv_id: str) -> list[ConversationMark]:
    with session_scope(engine) as s:
        rows = s.scalars(select(ConversationMark).where(ConversationMark.conversation_id == conv_id)).all()
        s.expunge_all()
        return list(rows)


def test_angry_customer_is_offered_an_agent_and_the_conversation_is_marked(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    result = orch.handle(conv, ANGRY)
    assert result.reply.endswith(OFFER)
    assert result.pending_action is not None and result.pending_action["intent"] == "agent.human"
    [signal] = _signals(db_engine, conv)
    assert (signal.turn_index, signal.sentiment, signal.escalate) == (1, "angry", True)
    assert signal.score < -0.5
    [mark] = _marks(db_engine, conv)
    assert (mark.kind, mark.reason) == ("escalation", "angry")
    accepted = orch.handle(conv, "네")  # the offer is a real proposal: "네" transfers
    assert any(c.name == "transfer_to_human" and c.status == "ok" for c in accepted.tool_calls)
    assert accepted.handed_off


def test_calm_customer_gets_neither_offer_nor_mark(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    result = orch.handle(conv, "이번 달 요금 얼마 나왔는지 알려 주세요")
    assert OFFER not in result.reply and HINT not in result.reply
    [signal] = _signals(db_engine, conv)
    assert signal.sentiment == "neutral" and not signal.escalate
    assert _marks(db_engine, conv) == []


def test_offer_is_not_repeated_on_the_next_angry_turn(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    assert orch.handle(conv, ANGRY).reply.endswith(OFFER)
    again = orch.handle(conv, "요금이 왜 이따위야 진짜 화나네 ㅡㅡ")
    assert OFFER not in again.reply and HINT not in again.reply
    signals = _signals(db_engine, conv)
    assert [(s.turn_index, s.escalate) for s in signals] == [(1, True), (2, True)]
    assert len(_marks(db_engine, conv)) == 1


def test_two_unhappy_turns_in_a_row_escalate(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    first = orch.handle(conv, "데이터가 너무 느려서 불편해요 ㅠㅠ")
    assert OFFER not in first.reply and HINT not in first.reply
    second = orch.handle(conv, "알려 주신 대로 했는데 여전히 안 돼요 ㅠㅠ")
    assert OFFER in second.reply or HINT in second.reply
    [mark] = _marks(db_engine, conv)
    assert mark.reason == "repeated_frustration"


def test_resaving_a_turn_replaces_its_signal(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.handle(conv, "감사합니다")
    _, state = orch.store.load(conv)  # store the same turn again (a retried save)
    orch.store.save_turn(conv, state, [("customer", "감사합니다")], {"user": "감사합니다"}, orch._now())
    signals = _signals(db_engine, conv)
    assert [(s.turn_index, s.sentiment) for s in signals] == [(1, "positive")]


def test_no_offer_while_a_human_serves_the_conversation(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    orch.store.set_mode(conv, "human", orch._now())
    result = orch.handle(conv, ANGRY)
    assert result.reply == ""
    [signal] = _signals(db_engine, conv)
    assert signal.sentiment == "angry" and not signal.escalate  # recorded for the trend, never escalated
    assert _marks(db_engine, conv) == []


def test_the_same_request_failing_twice_escalates(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    first = orch.handle(conv, "오늘 서울 날씨 어때요?")
    assert first.intents == ["out_of_scope"] and OFFER not in first.reply
    second = orch.handle(conv, "내일 부산 날씨는요?")
    assert second.reply.endswith(OFFER)
    [mark] = _marks(db_engine, conv)
    assert mark.reason == "repeated_failure"


def test_escalation_rule_phrasebook() -> None:
    from types import SimpleNamespace

    from sangdam.contact_center.escalation import escalation_reason

    calm = SimpleNamespace(awaiting=None)
    unread_twice = SimpleNamespace(awaiting=SimpleNamespace(misses=2))
    assert escalation_reason("angry", False, ["billing.inquiry"], {}, calm) == "angry"
    assert escalation_reason("negative", False, [], {"sentiment": "negative"}, calm) == "repeated_frustration"
    assert escalation_reason("negative", False, [], {"sentiment": "neutral"}, calm) is None  # once is not a pattern
    assert escalation_reason("neutral", True, ["plan.change"], {"failed": True, "intents": ["plan.change"]},
                             calm) == "repeated_failure"
    assert escalation_reason("neutral", True, ["plan.change"], {"failed": True, "intents": ["data.usage"]},
                             calm) is None  # two different requests failing is not the same failure
    assert escalation_reason("neutral", False, [], {}, unread_twice) == "repeated_failure"


def test_with_a_proposal_open_the_offer_is_a_hint_before_the_question_and_the_proposal_stays(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    proposed = orch.handle(conv, "데이터 2기가 충전해줘")
    question = proposed.reply.splitlines()[-1]
    angry = orch.handle(conv, "짜증나네 진짜 ㅡㅡ")
    lines = angry.reply.splitlines()
    assert HINT in lines[-2] and lines[-1] == question  # the question the customer answers stays last
    assert angry.pending_action["intent"] == "data.refill"
    assert not any(c.name == "transfer_to_human" for c in angry.tool_calls)


def test_english_complaints_are_not_neutral(classifier: SentimentClassifier) -> None:
    assert classifier.classify("this sucks").label == "negative"
    assert classifier.classify("this is ridiculous my bill is way too high").label == "angry"
