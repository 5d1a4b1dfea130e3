"""Embedded backend: llama.cpp in-process (``llama-cpp-python``), CPU-only, the default for both tiers.

- The model loads lazily on the first call (seconds), under a lock: one ``Llama`` serves one call at a time.
- Prompts are rendered with the GGUF's own chat template; tool calls and JSON answers are grammar-constrained.
- Prefix caching: the static head of a prompt (system prompt, tool schemas, few-shot examples - everything up to
  the first user turn) is evaluated once and its KV state kept in RAM (``PrefixCache``). A later call with the
  same head restores that state and evaluates only its new tokens, even after other prompts ran in between.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sangdam.llm.backend import ChatBackend, ChatRequest
from sangdam.llm.errors import BackendUnavailableError, ContextOverflowError
from sangdam.llm.profiles import ModelProfile
from sangdam.llm.prompting import ChatTemplate, ToolFormat, json_tools_note, parse_tool_output, schema_gbnf, tool_gbnf
from sangdam.llm.types import ChatChunk, ChatResult, Message, Timings, Usage
from sangdam.llm.weights import get_weight_spec, model_path, verify

# OpenMP threads that spin while waiting collapse throughput ~10x when the cores are shared (web server, Kiwi,
# embedder, other processes): measured 0.4 vs 5.2 tok/s on 2 busy cores. Must be set before llama.cpp loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

MIN_CACHED_PREFIX = 32  # shorter heads are cheaper to evaluate than to snapshot
_PROBE = "\u2063probe\u2063"  # a user turn nobody writes, used to find where the static head ends


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class PrefixCache:
    """LRU of llama.cpp states, keyed by the token tuple of a prompt head."""

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self._states: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def lookup(self, tokens: list[int]) -> tuple[int, Any]:
        """Longest stored head that prefixes ``tokens``: (its length, state) or (0, None)."""
        best_key: tuple[int, ...] | None = None
        for key in self._states:
            if len(key) <= len(tokens) and (best_key is None or len(key) > len(best_key)) \
                    and tuple(tokens[: len(key)]) == key:
                best_key = key
        if best_key is None:
            return 0, None
        self._states.move_to_end(best_key)
        return len(best_key), self._states[best_key]

    def store(self, head: list[int], state: Any) -> None:
        self._states[tuple(head)] = state
        self._states.move_to_end(tuple(head))
        while len(self._states) > self.capacity:
            self._states.popitem(last=False)

    def __contains__(self, head: list[int]) -> bool:  # type: ignore[override]
        return tuple(head) in self._states

    def __len__(self) -> int:
        return len(self._states)


class EmbeddedBackend(ChatBackend):
    """A GGUF model run by llama.cpp in this process."""

    kind = "embedded"

    def __init__(
        self,
        model_path: Path,
        *,
        profile: ModelProfile | None = None,
        model: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        prefix_cache_entries: int = 8,
        tool_format: ToolFormat = "json_grammar",
        weight_spec: str | None = None,
    ) -> None:
        super().__init__(model=model or (profile.model if profile else Path(model_path).stem), profile=profile)
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.n_batch = n_batch
        self.tool_format: ToolFormat = tool_format
        self.prefix_cache = PrefixCache(prefix_cache_entries)
        self._weight_spec = weight_spec
        self._llm: Any = None
        self._template: ChatTemplate | None = None
        self._lock = threading.RLock()
        self.load_ms: float | None = None

    @classmethod
    def from_weights(cls, spec_name: str, *, directory: Path | None = None, **kwargs: Any) -> EmbeddedBackend:
        """Backend for a pinned weight spec in ``SANGDAM_HOME/models`` (verified when loaded)."""
        spec = get_weight_spec(spec_name)
        return cls(model_path(spec, directory), weight_spec=spec_name, **kwargs)

    # -- lifecycle ------------------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def load(self) -> None:
        """Verify the weights and load the model (idempotent)."""
        with self._lock:
            if self._llm is not None:
                return
            if self._weight_spec:
                verify(get_weight_spec(self._weight_spec), self.model_path.parent)
            elif not self.model_path.exists():
                from sangdam.llm.errors import ModelNotInstalledError

                raise ModelNotInstalledError(f"model file {self.model_path} does not exist; run `scripts/models.sh`")
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise BackendUnavailableError(
                    "llama-cpp-python is not installed; run `make setup` (it builds the wheel once)"
                ) from exc
            started = time.perf_counter()
            self._llm = Llama(
                model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                n_threads_batch=self.n_threads, n_batch=self.n_batch, verbose=False,
            )
            meta = self._llm.metadata
            source = meta.get("tokenizer.chat_template")
            if not source:
                raise BackendUnavailableError(f"{self.model_path.name} has no chat template in its metadata")
            eos = self._llm.detokenize([self._llm.token_eos()]).decode("utf-8", "ignore")
            self._template = ChatTemplate(source, eos_token=eos)
            self.load_ms = (time.perf_counter() - started) * 1000

    def close(self) -> None:
        """Free the model's memory."""
        with self._lock:
            if self._llm is not None:
                self._llm.close()
            self._llm = None
            self.prefix_cache = PrefixCache(self.prefix_cache.capacity)

    @property
    def llama(self) -> Any:
        """The underlying ``llama_cpp.Llama`` (loaded on access) - for benchmarks comparing against it."""
        self.load()
        return self._llm

    # -- prompt ---------------------------------------------------------------------------------------------

    def render(self, request: ChatRequest) -> tuple[str, str | None]:
        """Prompt text and GBNF grammar (or ``None``) for a request."""
        self.load()
        assert self._template is not None
        messages = list(request.messages)
        tools = request.tools if request.tool_choice != "none" else []
        grammar: str | None = None
        if tools and self.tool_format == "json_grammar":
            messages = _with_system_note(messages, json_tools_note(tools))
            prompt = self._template.render(messages)
            grammar = tool_gbnf(tools, request.tool_choice, self.tool_format)
        elif tools:
            prompt = self._template.render(messages, tools)
            grammar = tool_gbnf(tools, request.tool_choice, self.tool_format)
        else:
            prompt = self._template.render(messages)
        if request.schema is not None and not tools:
            grammar = schema_gbnf(request.schema.json_schema)
        return prompt, grammar

    def static_head(self, request: ChatRequest, tokens: list[int]) -> int:
        """Token count of the prompt's static head: what stays the same whatever the first user turn says."""
        first_user = next((i for i, m in enumerate(request.messages) if m.role != "system"), None)
        if first_user is None or first_user == 0:
            return 0
        probe = ChatRequest(messages=[*request.messages[:first_user], Message(role="user", content=_PROBE)],
                            tools=request.tools, tool_choice=request.tool_choice)
        probe_text, _ = self.render(probe)
        return _common_prefix(tokens, self._tokenize(probe_text))

    def _tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    # -- generation -----------------------------------------------------------------------------------------

    def _generate(self, request: ChatRequest) -> Iterator[ChatChunk]:
        with self._lock:
            yield from self._generate_locked(request)

    def _generate_locked(self, request: ChatRequest) -> Iterator[ChatChunk]:
        import llama_cpp

        started = time.perf_counter()
        prompt, grammar_text = self.render(request)
        llm = self._llm
        tokens = self._tokenize(prompt)
        if len(tokens) + request.max_tokens > self.n_ctx:
            raise ContextOverflowError(
                f"prompt of {len(tokens)} tokens + max_tokens {request.max_tokens} exceeds n_ctx {self.n_ctx}"
            )
        ctx = llm._ctx.ctx
        llama_cpp.llama_perf_context_reset(ctx)  # before the prefix step: a head evaluated now is prefill too
        cached = self._restore_prefix(request, tokens)
        request.check()
        pieces: list[str] = []
        first_token_ms: float | None = None
        finish: str | None = None
        stream_text = not request.tools or self.tool_format == "native_free"
        for piece, reason in self._decode(request, tokens, grammar_text):
            request.check()
            if first_token_ms is None:
                first_token_ms = (time.perf_counter() - started) * 1000
            if piece:
                pieces.append(piece)
                if stream_text:
                    yield ChatChunk(delta=piece)
            finish = reason or finish
        perf = llama_cpp.llama_perf_context(ctx)
        total_ms = (time.perf_counter() - started) * 1000
        text = "".join(pieces)
        tool_calls = []
        if request.tools and request.tool_choice != "none":
            text, tool_calls = parse_tool_output(text, self.tool_format)
            if text and not tool_calls and self.tool_format != "native_free":
                yield ChatChunk(delta=text)  # constrained tool turns are streamed once their shape is known
        completion_tokens = max(perf.n_eval, len(pieces))
        yield ChatChunk(done=True, result=ChatResult(
            text=text, tool_calls=tool_calls,
            usage=Usage(prompt_tokens=len(tokens), completion_tokens=completion_tokens,
                        cached_prompt_tokens=cached),
            timings=Timings(prefill_ms=perf.t_p_eval_ms, first_token_ms=first_token_ms or total_ms,
                            total_ms=total_ms),
            backend=self.kind, model=self.model,
            finish_reason="tool_calls" if tool_calls else (finish or "stop"),
        ))

    def _decode(
        self, request: ChatRequest, tokens: list[int], grammar_text: str | None
    ) -> Iterator[tuple[str, str | None]]:
        """(text piece, finish reason or None) pairs. Greedy constrained calls take the fast grammar path."""
        llm = self._llm
        if grammar_text and request.temperature == 0 and not request.stop:
            from sangdam.llm.constrained import GrammarDecoder

            reuse = _common_prefix(list(llm._input_ids[: llm.n_tokens]), tokens[:-1])
            count = 0
            for piece in GrammarDecoder(llm, grammar_text).generate(tokens, reuse, request.max_tokens, request.check):
                count += 1
                yield piece, None
            yield "", "length" if count >= request.max_tokens else "stop"
            return
        from llama_cpp import LlamaGrammar

        grammar = LlamaGrammar.from_string(grammar_text, verbose=False) if grammar_text else None
        stream = llm.create_completion(
            prompt=tokens, max_tokens=request.max_tokens, temperature=request.temperature,
            stop=request.stop or None, grammar=grammar, stream=True, seed=request.seed,
        )
        try:
            for event in stream:
                choice = event["choices"][0]
                yield choice.get("text") or "", choice.get("finish_reason")
        finally:
            stream.close()

    def _restore_prefix(self, request: ChatRequest, tokens: list[int]) -> int:
        """Make the KV cache hold the longest reusable head of ``tokens``; return how many tokens it covers."""
        llm = self._llm
        live = _common_prefix(list(llm._input_ids[: llm.n_tokens]), tokens[:-1])
        if self.prefix_cache.capacity <= 0:
            return live
        stored, state = self.prefix_cache.lookup(tokens[:-1])
        if stored > live:
            self._restore(state)
            live = stored
            self.prefix_cache.hits += 1
        head = self.static_head(request, tokens)
        if head >= MIN_CACHED_PREFIX and head < len(tokens) and tokens[:head] not in self.prefix_cache:
            self.prefix_cache.misses += 1
            reused = min(live, head)
            llm.n_tokens = reused
            llm._ctx.kv_cache_seq_rm(-1, reused, -1)
            if reused < head:  # evaluate the head alone once, then snapshot it
                llm.eval(tokens[reused:head])
            self.prefix_cache.store(tokens[:head], self._snapshot())
            live = reused
        return live

    # llama-cpp-python's save_state also copies the logits buffer (n_batch x vocab floats, ~300 MB for Qwen);
    # a head snapshot needs only the KV state and the token ids: the suffix decode refreshes the logits.
    def _snapshot(self) -> PrefixState:
        import ctypes

        import llama_cpp

        llm = self._llm
        ctx = llm._ctx.ctx
        size = llama_cpp.llama_state_get_size(ctx)
        buf = (ctypes.c_uint8 * int(size))()
        written = llama_cpp.llama_state_get_data(ctx, buf, size)
        return PrefixState(n_tokens=llm.n_tokens, input_ids=llm.input_ids[: llm.n_tokens].copy(),
                           data=bytes(memoryview(buf)[: int(written)]))

    def _restore(self, state: PrefixState) -> None:
        import ctypes

        import llama_cpp

        llm = self._llm
        buf = (ctypes.c_uint8 * len(state.data)).from_buffer_copy(state.data)
        if llama_cpp.llama_state_set_data(llm._ctx.ctx, buf, len(state.data)) != len(state.data):
            raise BackendUnavailableError("could not restore a cached prompt prefix (llama_state_set_data)")
        llm.input_ids[: state.n_tokens] = state.input_ids
        llm.n_tokens = state.n_tokens
        llm._requires_eval = True


@dataclass(frozen=True)
class PrefixState:
    """KV state of a prompt head: token ids and llama.cpp's serialised state bytes."""

    n_tokens: int
    input_ids: Any
    data: bytes

    @property
    def nbytes(self) -> int:
        return len(self.data)


def _with_system_note(messages: list[Message], note: str) -> list[Message]:
    if messages and messages[0].role == "system":
        first = messages[0].model_copy(update={"content": f"{messages[0].content or ''}\n\n{note}"})
        return [first, *messages[1:]]
    return [Message(role="system", content=note), *messages]
