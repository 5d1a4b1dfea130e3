"""The embedded default, with the real Qwen2.5-Coder 0.5B weights (assembled by ``scripts/models.sh``).

Short calls only (a few tokens each) so the whole module stays within seconds on 2 cores.
"""

from __future__ import annotations

import threading

import pytest

from sangdam.config import Settings
from sangdam.llm.embedded import EmbeddedBackend
from sangdam.llm.errors import ContextOverflowError, LLMCancelledError, ModelNotInstalledError
from sangdam.llm.profiles import get_profile
from sangdam.llm.prompting import parse_tool_output, tool_gbnf
from sangdam.llm.types import ToolSpec
from sangdam.llm.weights import WEIGHTS, is_verified

FAST = WEIGHTS["qwen2.5-coder-0.5b-instruct"]
# Resolved at import, before any test points SANGDAM_HOME elsewhere: the weights live in the real home.
MODELS_DIR = Settings().models_dir

SCHEMA = {"type": "object", "properties": {"intent": {"type": "string", "enum": ["bill", "roaming", "outage"]}},
          "required": ["intent"]}
ROAMING_TOOL = {"type": "function", "function": {
    "name": "buy_roaming_pass", "description": "해외 로밍 패스를 구매합니다.",
    "parameters": {"type": "object", "properties": {"country": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["country", "days"]}}}
HEAD = ("당신은 누리텔레콤 고객센터의 의도 분류기입니다. bill은 요금 문의, roaming은 해외 로밍, outage는 장애입니다. "
        "고객의 말을 읽고 의도를 JSON으로 답하세요. 예시: 일본 로밍 → {\"intent\": \"roaming\"}")


@pytest.fixture(scope="module")
def fast_model() -> EmbeddedBackend:
    if not is_verified(FAST, MODELS_DIR):
        pytest.fail(f"embedded fast model missing in {MODELS_DIR}: run `scripts/models.sh` (make setup does)")
    backend = EmbeddedBackend.from_weights(FAST.name, directory=MODELS_DIR,
                                           profile=get_profile("qwen2.5-coder-0.5b-instruct"), n_ctx=1024)
    yield backend
    backend.close()


def test_real_model_answers_korean_greeting_with_timings(fast_model: EmbeddedBackend):
    result = fast_model.chat("안녕하세요", max_tokens=8)
    assert result.text.strip() and result.backend == "embedded"
    assert result.usage.prompt_tokens > 5 and 0 < result.usage.completion_tokens <= 8
    assert 0 < result.timings.first_token_ms <= result.timings.total_ms


def test_schema_constrained_answer_is_valid_json_of_the_enum(fast_model: EmbeddedBackend):
    result = fast_model.chat([{"role": "system", "content": HEAD}, {"role": "user", "content": "일본 가는데 로밍 돼요?"}],
                             json_schema=SCHEMA, max_tokens=16)
    assert result.data["intent"] in {"bill", "roaming", "outage"}


def test_second_call_with_the_same_head_reuses_the_cached_prefix(fast_model: EmbeddedBackend):
    messages = [{"role": "system", "content": HEAD}, {"role": "user", "content": "요금이 많이 나왔어요"}]
    fast_model.chat(messages, json_schema=SCHEMA, max_tokens=12)
    fast_model.chat("안녕", max_tokens=1)  # another prompt replaces the live KV cache
    hits = fast_model.prefix_cache.hits
    again = fast_model.chat([messages[0], {"role": "user", "content": "인터넷이 안 돼요"}], json_schema=SCHEMA,
                            max_tokens=12)
    assert fast_model.prefix_cache.hits == hits + 1
    assert again.usage.cached_prompt_tokens >= 32 and again.usage.cached_prompt_tokens < again.usage.prompt_tokens


def test_required_tool_call_comes_back_in_openai_shape(fast_model: EmbeddedBackend):
    result = fast_model.chat([{"role": "user", "content": "일본 5일 로밍 패스 사 주세요"}], tools=[ROAMING_TOOL],
                             tool_choice="required", max_tokens=40)
    call = result.tool_calls[0]
    assert call.type == "function" and call.function.name == "buy_roaming_pass"
    assert set(call.function.args()) == {"country", "days"} and isinstance(call.function.args()["days"], int)
    assert result.finish_reason == "tool_calls"


def test_prompt_longer_than_the_context_is_refused_before_generation(fast_model: EmbeddedBackend):
    with pytest.raises(ContextOverflowError):
        fast_model.chat("요금 " * 2000, max_tokens=8)


def test_cancel_event_stops_generation(fast_model: EmbeddedBackend):
    cancel = threading.Event()
    stream = fast_model.chat("요금제 종류를 길게 설명해 주세요", max_tokens=64, stream=True, cancel_event=cancel)
    next(stream)
    cancel.set()
    with pytest.raises(LLMCancelledError):
        list(stream)


def test_missing_weights_name_the_fix_command(tmp_path):
    backend = EmbeddedBackend.from_weights(FAST.name, directory=tmp_path)
    with pytest.raises(ModelNotInstalledError, match="scripts/models.sh"):
        backend.chat("안녕")


def test_auto_tool_grammar_forbids_fenced_or_bare_json_answers():
    grammar = tool_gbnf([ToolSpec.model_validate(ROAMING_TOOL)], "auto", "native_grammar")
    assert grammar is not None and "[^<`{]" in grammar and '"<tool_call>\\n"' in grammar


def test_native_tool_call_text_is_parsed_into_calls_and_answer():
    text = '<tool_call>\n{"name": "buy_roaming_pass", "arguments": {"country": "일본", "days": 5}}\n</tool_call>'
    answer, calls = parse_tool_output(text, "native_grammar")
    assert answer == "" and calls[0].function.args() == {"country": "일본", "days": 5}
    assert parse_tool_output("로밍 패스는 앱에서 구매하실 수 있습니다.", "native_grammar")[1] == []
