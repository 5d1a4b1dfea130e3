"""Router behaviour: deterministic cached training, ordered multi-intent routing, held-out accuracy floor,
and the LLM fallback asked only below the calibrated threshold."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from sangdam.orchestrator import router as router_module
from sangdam.orchestrator import router_training
from sangdam.orchestrator.intents import INTENTS
from sangdam.orchestrator.router import (
    IntentRouter,
    RouteResult,
    RoutingInputError,
    analyse_clauses,
    split_clauses,
)
from sangdam.orchestrator.router_llm import INTENT_LIST_SCHEMA, LlmIntentFallback
from sangdam.orchestrator.router_model import CompactIntentClassifier
from sangdam.orchestrator.router_training import (
    TrainedIntentModel,
    TrainingSet,
    build_pipeline,
    load_heldout_set,
    load_or_train,
)

HELDOUT_EXACT_FLOOR = 0.97  # the goal, on the original held-out split
HELDOUT_MULTI_FLOOR = 0.90
HELDOUT_V2_EXACT_FLOOR = 0.90  # the second split, written later in new wording (see docs/routing.md)


@pytest.fixture(scope="session")
def model(request: pytest.FixtureRequest) -> Iterator[TrainedIntentModel]:
    """The real trained model, cached in pytest's cache folder (keyed by the training data, so never stale)."""
    folder = Path(request.config.cache.mkdir("sangdam-router"))
    trained = load_or_train(cache_dir=folder)
    saved = router_module._model
    router_module._model = trained  # get_router() in this session reuses it instead of retraining
    yield trained
    router_module._model = saved


@pytest.fixture()
def router(model: TrainedIntentModel) -> IntentRouter:
    return IntentRouter(model)


def _small_training_set(per_intent: int = 8) -> TrainingSet:
    full = router_training.load_training_set()
    return TrainingSet.model_construct(intents={k: v[:per_intent] for k, v in full.intents.items()}, compose={})


class RecordingFallback:
    """A fake LLM fallback that records calls and answers a fixed list."""

    def __init__(self, answer: list[str] | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[str, list[str]]] = []

    def classify(self, text: str, candidates: Sequence[str]) -> list[str]:
        self.calls.append((text, list(candidates)))
        if isinstance(self.answer, Exception):
            raise self.answer
        return list(self.answer)


# -- training -------------------------------------------------------------------------------------------------


def test_training_twice_gives_identical_predictions() -> None:
    texts, labels, _ = _small_training_set().pairs()
    probe = ["요금 알려줘", "로밍 꺼주세요", "상담원 연결", "오늘 날씨 어때"]
    first = build_pipeline().fit(texts, labels).predict_proba(probe)
    second = build_pipeline().fit(texts, labels).predict_proba(probe)
    assert np.array_equal(first, second)


def test_compact_classifier_matches_the_fitted_pipeline() -> None:
    texts, labels, _ = _small_training_set().pairs()
    pipeline = build_pipeline().fit(texts, labels)
    probe = ["이번달 요금 알려주시고", "로밍도 켜주세요", "데이터잔량", "x", "ㅋㅋㅋ 123"]
    assert np.allclose(CompactIntentClassifier(pipeline).predict_proba(probe), pipeline.predict_proba(probe))


def test_cache_is_reused_and_rebuilt_when_training_data_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained: list[str] = []
    small = _small_training_set(5)

    def cheap_train(_training: TrainingSet, cache_key: str = "") -> TrainedIntentModel:
        trained.append(cache_key)
        texts, labels, _ = small.pairs()
        pipeline = build_pipeline().fit(texts, labels)
        return TrainedIntentModel(pipeline, CompactIntentClassifier(pipeline), 0.5, cache_key)

    monkeypatch.setattr(router_training, "train_model", cheap_train)
    monkeypatch.setattr(router_training, "training_cache_key", lambda: "data-v1")
    first = load_or_train(cache_dir=tmp_path)
    again = load_or_train(cache_dir=tmp_path)
    assert trained == ["data-v1"]
    assert again.pipeline is None  # came from the cache file, not from training
    assert np.allclose(first.predict_proba(["요금 알려줘"]), again.predict_proba(["요금 알려줘"]))

    monkeypatch.setattr(router_training, "training_cache_key", lambda: "data-v2")
    load_or_train(cache_dir=tmp_path)
    assert trained == ["data-v1", "data-v2"]
    assert [p.name for p in tmp_path.glob("*.joblib")] == ["intent-model-data-v2.joblib"]


# -- routing --------------------------------------------------------------------------------------------------


def test_multi_intent_request_keeps_the_spoken_order(router: IntentRouter) -> None:
    assert router.route("요금 알려주시고 로밍도 켜주세요").intents == ["billing.inquiry", "roaming.enable"]
    assert router.route("로밍 켜주시고 요금도 알려주세요").intents == ["roaming.enable", "billing.inquiry"]


def test_auxiliary_verb_does_not_split_a_single_request() -> None:
    assert split_clauses("요금제 바꾸고 싶어요") == ["요금제 바꾸고 싶어요"]
    assert split_clauses("요금 알려주시고 로밍도 켜주세요") == ["요금 알려주시고", "로밍도 켜주세요"]


def test_greeting_attached_to_a_request_is_not_an_intent(router: IntentRouter) -> None:
    assert router.route("안녕하세요, 남은 데이터 알려주세요").intents == ["data.usage"]


def test_background_clause_is_not_emitted_as_an_intent(router: IntentRouter) -> None:
    roles = [(c.text, c.role) for c in analyse_clauses("주말마다 등산 가는데 남은 데이터 알려 주세요")]
    assert roles == [("주말마다 등산 가는데", "context"), ("남은 데이터 알려 주세요", "request")]
    assert router.route("다음 달에 대만 가는데 로밍 요금 얼마예요").intents == ["roaming.info"]
    assert router.route("폰을 떨어뜨려서 새로 샀는데 남은 데이터 알려 주세요").intents == ["data.usage"]


def test_reported_fault_before_a_request_stays_an_intent(router: IntentRouter) -> None:
    assert router.route("인터넷이 안 되는데 상담원 연결해 주세요").intents == ["tech.troubleshoot", "agent.human"]


def test_negated_clause_and_statement_are_not_requests() -> None:
    assert [c.role for c in analyse_clauses("해지 말고 일시정지만 해 주세요")] == ["negated", "request"]
    assert [c.role for c in analyse_clauses("폰 잃어버렸어요. 정지해 주세요")] == ["context", "request"]
    assert [c.role for c in analyse_clauses("요금 얼마예요? 로밍도 켜 주세요")] == ["request", "request"]


def test_heldout_accuracy_stays_above_the_floor(router: IntentRouter) -> None:
    heldout = load_heldout_set()
    cases = heldout.cases()
    hits = [router.route(c.text).intents == c.intents for c in cases]
    multi_hits = hits[len(cases) - len(heldout.multi) :]
    assert sum(hits) / len(hits) >= HELDOUT_EXACT_FLOOR
    assert sum(multi_hits) / len(multi_hits) >= HELDOUT_MULTI_FLOOR


def test_second_heldout_split_stays_above_its_floor(router: IntentRouter) -> None:
    cases = load_heldout_set("heldout_v2").cases()
    hits = [router.route(c.text).intents == c.intents for c in cases]
    assert sum(hits) / len(hits) >= HELDOUT_V2_EXACT_FLOOR


def test_empty_utterance_is_refused_with_a_code(router: IntentRouter) -> None:
    with pytest.raises(RoutingInputError) as err:
        router.route("  \n ")
    assert err.value.code == "empty_utterance"


# -- fallback -------------------------------------------------------------------------------------------------


def test_fallback_not_asked_when_the_classifier_is_confident(model: TrainedIntentModel) -> None:
    fake = RecordingFallback(["chitchat"])
    result = IntentRouter(model, fallback=fake, threshold=0.0).route("로밍 켜주세요")
    assert fake.calls == []
    assert result.via == "classifier"


class PickCandidate:
    """A fallback that answers with the classifier's candidate at ``index`` (plus any extra intents)."""

    def __init__(self, index: int, extra: list[str] | None = None) -> None:
        self.index, self.extra, self.calls = index, extra or [], []

    def classify(self, text, candidates):
        self.calls.append((text, list(candidates)))
        return [candidates[self.index], *self.extra]


def test_fallback_decides_below_the_threshold(model: TrainedIntentModel) -> None:
    fake = PickCandidate(2)
    result = IntentRouter(model, fallback=fake, threshold=1.01).route("음 그거 있잖아요 그거")
    assert result.via == "llm"
    assert len(fake.calls) == 1 and fake.calls[0][0] == "음 그거 있잖아요 그거"
    assert fake.calls[0][1] and set(fake.calls[0][1]) <= set(INTENTS)
    assert result.intents == [fake.calls[0][1][2]]  # the LLM's pick among the classifier's candidates


def test_fallback_cannot_add_intents_beyond_the_requests_found(model: TrainedIntentModel) -> None:
    greedy = PickCandidate(0, extra=["billing.inquiry", "contract.info", "plan.info"])
    single = IntentRouter(model, fallback=greedy, threshold=1.01).route("로밍 꺼줘")
    assert len(single.intents) == 1  # one request in the text: at most one intent from the LLM


def test_threshold_comes_from_calibration_and_splits_confident_from_unsure(model: TrainedIntentModel) -> None:
    fake = RecordingFallback(["agent.human"])
    router = IntentRouter(model, fallback=fake)
    assert 0.2 <= router.threshold <= 0.8
    confident = router.route("데이터 2기가 충전해 주세요")
    assert confident.confidence >= router.threshold and fake.calls == []


def test_failing_fallback_keeps_the_classifier_answer(model: TrainedIntentModel) -> None:
    for answer in (RuntimeError("llm down"), ["not.an.intent"]):
        result = IntentRouter(model, fallback=RecordingFallback(answer), threshold=1.01).route("로밍 꺼줘")
        assert result.via == "classifier"
        assert result.intents == ["roaming.disable"]


# -- LLM adapter ----------------------------------------------------------------------------------------------


class FakeLlm:
    def __init__(self, text: str) -> None:
        self.text = text
        self.kwargs: dict = {}

    def chat(self, messages, **kwargs):  # noqa: ANN001, ANN201
        self.messages, self.kwargs = messages, kwargs
        return type("Result", (), {"text": self.text})()


def test_llm_adapter_asks_the_fast_tier_with_the_intent_schema() -> None:
    llm = FakeLlm(json.dumps({"intents": ["billing.inquiry", "roaming.enable", "billing.inquiry"]}))
    intents = LlmIntentFallback(llm).classify("요금이랑 로밍 켜줘", ["billing.inquiry", "roaming.enable"])
    assert intents == ["billing.inquiry", "roaming.enable"]
    assert llm.kwargs["role"] == "fast" and llm.kwargs["temperature"] == 0
    schema = llm.kwargs["json_schema"]  # the grammar is narrowed to the classifier's candidates
    assert schema["properties"]["intents"]["items"]["enum"] == ["billing.inquiry", "roaming.enable"]
    assert schema["properties"]["intents"]["maxItems"] == 2
    assert LlmIntentFallback(FakeLlm('{"intents": ["chitchat"]}')).classify("x", []) == ["chitchat"]
    assert INTENT_LIST_SCHEMA["properties"]["intents"]["items"]["enum"] == list(INTENTS)
    assert llm.messages[-1] == {"role": "user", "content": "요금이랑 로밍 켜줘"}


def test_llm_adapter_rejects_an_answer_outside_the_taxonomy() -> None:
    for text in ('{"intents": ["weather.today"]}', "not json", '{"intents": []}'):
        with pytest.raises(ValueError):
            LlmIntentFallback(FakeLlm(text)).classify("날씨", [])


def test_route_result_serialises_to_the_cli_contract() -> None:
    result = RouteResult(intents=["chitchat"], confidence=0.9, via="classifier")
    assert set(json.loads(result.model_dump_json())) == {"intents", "confidence", "via"}
