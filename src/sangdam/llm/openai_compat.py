"""OpenAI-compatible backend (httpx): vLLM, SGLang, Ollama, llama-server, or any ``/v1/chat/completions``.

The model profile decides how structured output is requested (``response_format`` json_schema or vLLM's
``guided_json``) and how reasoning is switched (``chat_template_kwargs``); thinking text is split off the answer.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx

from sangdam.llm.backend import ChatBackend, ChatRequest
from sangdam.llm.errors import BackendUnavailableError, ContextOverflowError, LLMConfigError, LLMTimeoutError
from sangdam.llm.profiles import ModelProfile
from sangdam.llm.types import ChatChunk, ChatResult, FunctionCall, Timings, ToolCall, Usage


class OpenAICompatBackend(ChatBackend):
    """Talks to ``{base_url}/chat/completions``; ``base_url`` usually ends in ``/v1``."""

    kind = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        profile: ModelProfile,
        model: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = None,
        timeout_s: float = 60.0,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(model=model or profile.model, profile=profile)
        self.base_url = base_url.rstrip("/")
        key = api_key or (os.environ.get(api_key_env) if api_key_env else None)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.timeout_s = timeout_s
        self.extra_body = extra_body or {}
        # trust_env=False: proxies from the environment would send traffic somewhere not configured.
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s, trust_env=False)

    def endpoints(self) -> list[str]:
        return [self.base_url]

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    # -- request --------------------------------------------------------------------------------------------

    def build_body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body sent to the server (public so tests and operators can inspect it)."""
        assert self.profile is not None
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_openai() for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if request.stop:
            body["stop"] = request.stop
        if request.seed is not None:
            body["seed"] = request.seed
        if request.tools:
            if not self.profile.tool_calls:
                raise LLMConfigError(f"profile {self.profile.name} has no tool-call support; route tools elsewhere")
            body["tools"] = [t.model_dump() for t in request.tools]
            choice = request.tool_choice
            body["tool_choice"] = choice if choice in ("auto", "required", "none") else {
                "type": "function", "function": {"name": choice}}
        if request.schema is not None:
            method = self.profile.structured_output
            if method == "guided_json":
                body["guided_json"] = request.schema.json_schema
            elif method == "grammar":  # a llama.cpp server: llama-server and llama-cpp-python's both take this form
                body["response_format"] = {"type": "json_object", "schema": request.schema.json_schema}
            elif method == "response_format":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "output", "schema": request.schema.json_schema, "strict": True},
                }
            else:  # "none": ask in words; the validator and repair retry still apply
                body["messages"].append({"role": "system", "content": "Answer with JSON matching this schema only:\n"
                                         + json.dumps(request.schema.json_schema, ensure_ascii=False)})
        switch = self.profile.reasoning
        if switch.method == "chat_template_kwargs":
            enabled = switch.default if request.reasoning is None else request.reasoning
            body["chat_template_kwargs"] = {switch.kwarg: enabled}
        body.update(self.extra_body)
        return body

    def _post_timeout(self, request: ChatRequest) -> httpx.Timeout:
        remaining = request.remaining()
        total = self.timeout_s if remaining is None else min(self.timeout_s, max(remaining, 0.001))
        return httpx.Timeout(total)

    # -- response -------------------------------------------------------------------------------------------

    def _generate(self, request: ChatRequest) -> Iterator[ChatChunk]:
        started = time.perf_counter()
        body = self.build_body(request, stream=True)
        text: list[str] = []
        reasoning: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        usage = Usage()
        finish: str | None = None
        first_token_ms: float | None = None
        try:
            with self._client.stream("POST", "/chat/completions", json=body, timeout=self._post_timeout(request)) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    _raise_for_status(resp, self.base_url)
                for line in resp.iter_lines():
                    request.check()
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        break
                    event = json.loads(payload)
                    if event.get("usage"):
                        u = event["usage"]
                        cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
                        usage = Usage(prompt_tokens=u.get("prompt_tokens", 0),
                                      completion_tokens=u.get("completion_tokens", 0), cached_prompt_tokens=cached)
                    for choice in event.get("choices") or []:
                        delta = choice.get("delta") or {}
                        finish = choice.get("finish_reason") or finish
                        if delta.get("reasoning_content") or delta.get("reasoning"):
                            reasoning.append(delta.get("reasoning_content") or delta.get("reasoning"))
                        for tc in delta.get("tool_calls") or []:
                            slot = calls.setdefault(tc.get("index", 0), {"id": None, "name": "", "arguments": ""})
                            slot["id"] = tc.get("id") or slot["id"]
                            fn = tc.get("function") or {}
                            slot["name"] += fn.get("name") or ""
                            slot["arguments"] += fn.get("arguments") or ""
                        piece = delta.get("content")
                        if piece:
                            if first_token_ms is None:
                                first_token_ms = (time.perf_counter() - started) * 1000
                            text.append(piece)
                            yield ChatChunk(delta=piece)
                        elif (delta.get("tool_calls") or delta.get("reasoning_content")) and first_token_ms is None:
                            first_token_ms = (time.perf_counter() - started) * 1000
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(f"{self.base_url} did not answer in time: {exc}") from exc
        except httpx.TransportError as exc:
            raise BackendUnavailableError(f"cannot reach LLM server {self.base_url}: {exc}") from exc
        total_ms = (time.perf_counter() - started) * 1000
        answer, thought = self._split_thinking("".join(text))
        tool_calls = [
            ToolCall(id=c["id"] or f"call_{i}", function=FunctionCall(name=c["name"], arguments=c["arguments"] or "{}"))
            for i, c in sorted(calls.items())
        ]
        first = first_token_ms if first_token_ms is not None else total_ms
        yield ChatChunk(done=True, result=ChatResult(
            text=answer, tool_calls=tool_calls, usage=usage,
            timings=Timings(prefill_ms=first, first_token_ms=first, total_ms=total_ms),
            backend=self.kind, model=self.model, finish_reason=finish,
            reasoning=("".join(reasoning) or thought) or None,
        ))

    def _split_thinking(self, text: str) -> tuple[str, str | None]:
        """Move ``<think>…</think>`` out of the answer (servers without a reasoning parser leave it inline)."""
        assert self.profile is not None
        open_tag, close_tag = self.profile.reasoning.think_tags
        if close_tag not in text:
            return text, None
        head, _, tail = text.partition(close_tag)
        return tail.lstrip(), head.replace(open_tag, "", 1).strip()


def _raise_for_status(resp: httpx.Response, base_url: str) -> None:
    detail = resp.text[:500]
    if resp.status_code == 400 and ("context" in detail.lower() and "length" in detail.lower()):
        raise ContextOverflowError(f"{base_url}: prompt too long for the model: {detail}")
    if resp.status_code in (401, 403):
        raise LLMConfigError(f"{base_url} refused the credentials (HTTP {resp.status_code}); check api_key_env")
    if resp.status_code == 404:
        raise LLMConfigError(f"{base_url}: HTTP 404 - wrong base_url or model name: {detail}")
    raise BackendUnavailableError(f"{base_url} answered HTTP {resp.status_code}: {detail}")
