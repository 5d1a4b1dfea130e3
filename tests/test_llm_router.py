"""Tiers, routing, accounting, configuration and the scripted backend's contract."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pydantic import BaseModel

from sangdam.llm.config import LLMConfig, RoleConfig, load_llm_config
from sangdam.llm.errors import LLMConfigError, LLMTimeoutError, StructuredOutputError
from sangdam.llm.router import LLMRouter
from sangdam.llm.scripted import ScriptedBackend, ScriptExhaustedError


class Intent(BaseModel):
    intent: str
    confidence: float


def router_with(fast: ScriptedBackend, strong: ScriptedBackend) -> LLMRouter:
    return LLMRouter(LLMConfig(), backends={"fast": fast, "strong": strong})


def test_explicit_role_wins_over_difficulty_and_budget():
    fast, strong = ScriptedBackend(["빠름"]), ScriptedBackend(["강함"])
    result = router_with(fast, strong).chat("요금", role="strong", difficulty="easy", latency_budget_ms=100)
    assert result.text == "강함" and result.role == "strong" and not fast.calls


def test_tight_latency_budget_routes_to_fast_even_when_hard():
    router = router_with(ScriptedBackend(["빠름"]), ScriptedBackend(["강함"]))
    assert router.chat("해지 위약금 계산", difficulty="hard", latency_budget_ms=800).role == "fast"


def test_hard_difficulty_routes_to_strong_and_easy_to_fast():
    router = router_with(ScriptedBackend(["f"]), ScriptedBackend(["s"]))
    assert router.pick_role(difficulty=0.9) == "strong"
    assert router.pick_role(difficulty="easy") == "fast"
    assert router.pick_role() == "fast"  # configured default


def test_unknown_role_is_a_config_error():
    with pytest.raises(LLMConfigError):
        router_with(ScriptedBackend([]), ScriptedBackend([])).pick_role("medium")  # type: ignore[arg-type]


def test_accounting_sums_tokens_and_time_per_role():
    fast = ScriptedBackend(["하나 둘", "셋"])
    router = router_with(fast, ScriptedBackend(["강한 답변 입니다"]))
    router.chat("안녕 하세요", role="fast")
    router.chat("또 안녕", role="fast")
    router.chat("어려운 질문", role="strong")
    stats = router.stats()
    assert stats["fast"].calls == 2 and stats["fast"].completion_tokens == 3
    assert stats["strong"].calls == 1 and stats["strong"].completion_tokens == 3
    assert [r.role for r in router.history] == ["fast", "fast", "strong"]


def test_errors_are_counted_per_role_and_reraised():
    router = router_with(ScriptedBackend([LLMTimeoutError("slow")]), ScriptedBackend([]))
    with pytest.raises(LLMTimeoutError):
        router.chat("안녕", role="fast")
    assert router.stats()["fast"].errors == 1 and router.history[-1].error == "llm.timeout"


def test_streamed_calls_are_accounted_when_the_stream_finishes():
    router = router_with(ScriptedBackend(["네 확인해 드릴게요"]), ScriptedBackend([]))
    chunks = list(router.chat("요금 확인", role="fast", stream=True))
    assert "".join(c.delta for c in chunks if not c.done) == "네 확인해 드릴게요"
    assert chunks[-1].result.role == "fast" and router.stats()["fast"].calls == 1


def test_role_reasoning_default_is_passed_to_the_backend():
    config = LLMConfig(roles={
        "fast": RoleConfig(backend="openai", profile="exaone-4.0-32b", base_url="http://x/v1", reasoning=False),
        "strong": RoleConfig(backend="openai", profile="exaone-4.0-32b", base_url="http://x/v1", reasoning=True)})
    strong = ScriptedBackend(["ok"])
    LLMRouter(config, backends={"fast": ScriptedBackend([]), "strong": strong}).chat("hi", role="strong")
    assert strong.calls[0].reasoning is True


def test_pydantic_schema_answer_is_validated_into_the_model():
    backend = ScriptedBackend(['{"intent": "plan_change", "confidence": 0.9}'])
    result = backend.chat("요금제 바꾸고 싶어요", json_schema=Intent)
    assert result.data == Intent(intent="plan_change", confidence=0.9) and not result.repaired


def test_scripted_invalid_json_triggers_exactly_one_repair():
    backend = ScriptedBackend(['{"intent": "plan_change"}', '{"intent": "plan_change", "confidence": 0.7}'])
    result = backend.chat("요금제 변경", json_schema=Intent)
    assert result.repaired and result.data.confidence == 0.7
    assert len(backend.calls) == 2 and "confidence" in backend.calls[1].messages[-1].content


def test_answer_cut_off_by_max_tokens_is_retried_with_a_doubled_budget():
    from sangdam.llm.types import ChatResult

    backend = ScriptedBackend([ChatResult(text='{"intent": "plan_', finish_reason="length"),
                               '{"intent": "plan_change", "confidence": 0.8}'])
    result = backend.chat("요금제 변경", json_schema=Intent, max_tokens=10)
    assert result.data.intent == "plan_change" and [c.max_tokens for c in backend.calls] == [10, 20]


def test_two_invalid_answers_raise_with_the_raw_output():
    backend = ScriptedBackend(["not json", "still not json"])
    with pytest.raises(StructuredOutputError) as info:
        backend.chat("요금제 변경", json_schema=Intent)
    assert info.value.raw == "still not json"


def test_tool_call_to_an_undeclared_tool_is_repaired():
    tool = {"type": "function", "function": {"name": "get_bill", "parameters": {
        "type": "object", "properties": {"month": {"type": "string"}}, "required": ["month"]}}}
    backend = ScriptedBackend([{"tool_calls": [{"name": "delete_account", "arguments": {}}]},
                               {"tool_calls": [{"name": "get_bill", "arguments": {"month": "2026-11"}}]}])
    result = backend.chat("11월 요금", tools=[tool])
    assert result.repaired and result.tool_calls[0].function.args() == {"month": "2026-11"}


def test_scripted_backend_can_answer_from_a_function_of_the_request():
    backend = ScriptedBackend(lambda req: "로밍" if "일본" in (req.messages[-1].content or "") else "기타")
    assert backend.chat("일본 가요").text == "로밍" and backend.chat("안녕").text == "기타"


def test_scripted_backend_says_when_the_script_ran_out():
    backend = ScriptedBackend(["하나"])
    backend.chat("1")
    with pytest.raises(ScriptExhaustedError, match="call 2"):
        backend.chat("2")


def test_cancelled_call_raises_before_generating():
    cancel = threading.Event()
    cancel.set()
    from sangdam.llm.errors import LLMCancelledError

    with pytest.raises(LLMCancelledError):
        ScriptedBackend(["x"]).chat("hi", cancel_event=cancel)


def test_llm_yaml_maps_roles_and_keeps_defaults_for_missing_roles(tmp_path: Path):
    path = tmp_path / "llm.yaml"
    path.write_text("roles:\n  strong: {backend: openai, profile: ax-4.0, base_url: 'http://gpu:8000/v1'}\n")
    config = load_llm_config(path)
    assert config.roles["strong"].profile == "ax-4.0" and config.roles["fast"].backend == "embedded"
    assert LLMRouter(config).endpoints() == ["http://gpu:8000/v1"]


def test_openai_role_without_base_url_is_rejected_with_the_file_name(tmp_path: Path):
    path = tmp_path / "llm.yaml"
    path.write_text("roles:\n  fast: {backend: openai, profile: qwen3-8b}\n")
    with pytest.raises(LLMConfigError, match="llm.yaml"):
        load_llm_config(path)


def test_roles_with_the_same_backend_configuration_share_one_instance():
    config = LLMConfig(roles={
        "fast": RoleConfig(backend="openai", profile="exaone-4.0-32b", base_url="http://x/v1", reasoning=False),
        "strong": RoleConfig(backend="openai", profile="exaone-4.0-32b", base_url="http://x/v1", reasoning=True)})
    router = LLMRouter(config)
    assert router.backend("fast") is router.backend("strong")


def test_no_backend_is_built_until_first_use():
    router = LLMRouter(LLMConfig())
    assert router._shared == {}  # noqa: SLF001 - lazy loading is the behaviour under test
