"""OpenAI-compatible backend and the Korean model profiles, against a real local HTTP server that speaks the
chat-completions protocol (SSE streaming included). The server's answers are scripted by each test."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sangdam.llm.errors import BackendUnavailableError, LLMConfigError, StructuredOutputError
from sangdam.llm.openai_compat import OpenAICompatBackend
from sangdam.llm.profiles import get_profile, list_profiles

Responder = Callable[[dict[str, Any]], dict[str, Any]]


class FakeOpenAIServer:
    """A tiny OpenAI-compatible server on 127.0.0.1; ``responder(body)`` returns ``{"content", "tool_calls",
    "reasoning_content", "status"}``. Every request body is kept in ``requests``."""

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder = responder or (lambda body: {"content": "네, 안녕하세요."})
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                reply = fake.responder(body)
                if reply.get("status", 200) != 200:
                    self._send(reply["status"], {"error": {"message": reply.get("content", "error")}})
                    return
                if body.get("stream"):
                    self._stream(body, reply)
                else:
                    self._send(200, _completion(body, reply))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict[str, Any], reply: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for delta in _deltas(reply):
                    event = {"id": "c1", "object": "chat.completion.chunk", "model": body["model"],
                             "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
                finish = "tool_calls" if reply.get("tool_calls") else "stop"
                tail = {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
                usage = {"choices": [], "usage": {"prompt_tokens": 17, "completion_tokens": 5, "total_tokens": 22}}
                for event in (tail, usage):
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _deltas(reply: dict[str, Any]) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = [{"role": "assistant"}]
    if reply.get("reasoning_content"):
        deltas.append({"reasoning_content": reply["reasoning_content"]})
    content = reply.get("content") or ""
    for i in range(0, len(content), 4):  # several small pieces, like a real server
        deltas.append({"content": content[i:i + 4]})
    for index, call in enumerate(reply.get("tool_calls") or []):
        args = json.dumps(call["arguments"], ensure_ascii=False)
        half = len(args) // 2
        deltas.append({"tool_calls": [{"index": index, "id": f"call_{index}", "type": "function",
                                       "function": {"name": call["name"], "arguments": args[:half]}}]})
        deltas.append({"tool_calls": [{"index": index, "function": {"arguments": args[half:]}}]})
    return deltas


def _completion(body: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.get("content")},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 17, "completion_tokens": 5, "total_tokens": 22}}


@pytest.fixture
def server():
    with FakeOpenAIServer() as srv:
        yield srv


REMOTE_PROFILES = [p.name for p in list_profiles() if p.weights is None]
INTENT_SCHEMA = {"type": "object", "properties": {"intent": {"type": "string", "enum": ["bill", "plan", "roaming"]}},
                 "required": ["intent"]}
BILL_TOOL = {"type": "function", "function": {
    "name": "get_bill", "description": "이번 달 청구 금액 조회",
    "parameters": {"type": "object", "properties": {"month": {"type": "string"}}, "required": ["month"]}}}


def test_every_listed_korean_model_has_a_profile():
    families = {p.family for p in list_profiles()}
    assert {"exaone", "midm", "ax", "kanana", "hyperclovax", "qwen3"} <= families
    names = set(REMOTE_PROFILES)
    assert {"midm-2.0-base", "midm-2.0-mini", "ax-4.0", "ax-4.0-light", "exaone-4.0-32b", "qwen3-8b"} <= names


@pytest.mark.parametrize("name", REMOTE_PROFILES)
def test_profile_plain_chat_streams_korean_answer(server, name):
    backend = OpenAICompatBackend(base_url=server.base_url, profile=get_profile(name))
    chunks = list(backend.chat("안녕하세요", stream=True, max_tokens=32))
    assert "".join(c.delta for c in chunks if not c.done) == "네, 안녕하세요."
    result = chunks[-1].result
    assert result.text == "네, 안녕하세요." and result.usage.prompt_tokens == 17
    assert server.requests[-1]["model"] == get_profile(name).model


@pytest.mark.parametrize("name", REMOTE_PROFILES)
def test_profile_requests_structured_output_the_way_its_server_expects(server, name):
    profile = get_profile(name)
    server.responder = lambda body: {"content": '{"intent": "roaming"}'}
    result = OpenAICompatBackend(base_url=server.base_url, profile=profile).chat(
        "일본 로밍 신청하고 싶어요", json_schema=INTENT_SCHEMA)
    body = server.requests[-1]
    if profile.structured_output == "guided_json":
        assert body["guided_json"] == INTENT_SCHEMA and "response_format" not in body
    else:
        assert body["response_format"]["json_schema"]["schema"] == INTENT_SCHEMA
    assert result.data == {"intent": "roaming"}


@pytest.mark.parametrize("name", [n for n in REMOTE_PROFILES if get_profile(n).reasoning.method != "none"])
def test_reasoning_switch_goes_through_chat_template_kwargs_and_thinking_is_split_off(server, name):
    profile = get_profile(name)
    server.responder = lambda body: {"content": "<think>요금 조회 필요</think>청구 금액을 확인해 드릴게요."
                                     if body["chat_template_kwargs"][profile.reasoning.kwarg] else "바로 답변입니다."}
    backend = OpenAICompatBackend(base_url=server.base_url, profile=profile)
    thinking = backend.chat("이번 달 요금 알려줘", reasoning=True)
    quick = backend.chat("이번 달 요금 알려줘", reasoning=False)
    assert thinking.text == "청구 금액을 확인해 드릴게요." and thinking.reasoning == "요금 조회 필요"
    assert quick.text == "바로 답변입니다." and quick.reasoning is None
    assert server.requests[-2]["chat_template_kwargs"] == {profile.reasoning.kwarg: True}


@pytest.mark.parametrize("name", [n for n in REMOTE_PROFILES if get_profile(n).tool_calls])
def test_tool_calls_stream_back_in_openai_shape(server, name):
    server.responder = lambda body: {"tool_calls": [{"name": "get_bill", "arguments": {"month": "2026-11"}}]}
    result = OpenAICompatBackend(base_url=server.base_url, profile=get_profile(name)).chat(
        "11월 요금 얼마예요?", tools=[BILL_TOOL])
    assert server.requests[-1]["tools"][0]["function"]["name"] == "get_bill"
    assert server.requests[-1]["tool_choice"] == "auto"
    assert [(c.function.name, c.function.args()) for c in result.tool_calls] == [("get_bill", {"month": "2026-11"})]


def test_profile_without_tool_support_refuses_tools_before_calling(server):
    backend = OpenAICompatBackend(base_url=server.base_url, profile=get_profile("hyperclovax-seed-text-1.5b"))
    with pytest.raises(LLMConfigError):
        backend.chat("요금 조회", tools=[BILL_TOOL])
    assert server.requests == []


def test_invalid_json_is_repaired_once_with_the_validation_errors(server):
    answers = iter(['{"intent": "weather"}', '{"intent": "bill"}'])
    server.responder = lambda body: {"content": next(answers)}
    result = OpenAICompatBackend(base_url=server.base_url, profile=get_profile("qwen3-8b")).chat(
        "요금 문의", json_schema=INTENT_SCHEMA)
    assert result.data == {"intent": "bill"} and result.repaired
    repair_turn = server.requests[-1]["messages"][-1]["content"]
    assert "intent" in repair_turn and "weather" in server.requests[-1]["messages"][-2]["content"]


def test_still_invalid_after_repair_raises_structured_output_error(server):
    server.responder = lambda body: {"content": "죄송합니다"}
    with pytest.raises(StructuredOutputError) as info:
        OpenAICompatBackend(base_url=server.base_url, profile=get_profile("qwen3-8b")).chat(
            "요금 문의", json_schema=INTENT_SCHEMA)
    assert len(server.requests) == 2 and info.value.raw == "죄송합니다"
    assert "잠시" in info.value.customer_message or "다시" in info.value.customer_message


def test_server_error_becomes_backend_unavailable(server):
    server.responder = lambda body: {"status": 503, "content": "overloaded"}
    with pytest.raises(BackendUnavailableError, match="503"):
        OpenAICompatBackend(base_url=server.base_url, profile=get_profile("qwen3-8b")).chat("안녕")


def test_unreachable_server_is_reported_with_its_url():
    with FakeOpenAIServer() as srv:
        url = srv.base_url
    with pytest.raises(BackendUnavailableError, match="127.0.0.1"):
        OpenAICompatBackend(base_url=url, profile=get_profile("qwen3-8b"), timeout_s=2).chat("안녕")


def test_cancel_event_stops_a_streaming_call(server):
    server.responder = lambda body: {"content": "아주 긴 답변입니다. " * 20}
    cancel = threading.Event()
    backend = OpenAICompatBackend(base_url=server.base_url, profile=get_profile("qwen3-8b"))
    stream = backend.chat("길게 말해줘", stream=True, cancel_event=cancel)
    first = next(stream)
    cancel.set()
    from sangdam.llm.errors import LLMCancelledError

    with pytest.raises(LLMCancelledError):
        list(stream)
    assert first.delta
