"""``POST /v1/chat/completions``: the contact centre behind the OpenAI chat API (model ``sangdam``).

Continuity comes from the messages themselves: after each reply the server remembers
``hash(key, user/assistant messages so far + this reply) → conversation``; the next request, which repeats that
history and adds one user message, finds its conversation by hashing everything before that last message.
An unknown history starts a new conversation (only the last user message is processed).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from sangdam.contact_center.texts import text as cc_text
from sangdam.domain.auth_models import ChatThread
from sangdam.domain.db import session_scope
from sangdam.server.api import _chunks, centre
from sangdam.server.auth import require
from sangdam.server.errors import ApiError
from sangdam.server.keys import Principal
from sangdam.server.service import ContactCentre

MODEL = "sangdam"
router = APIRouter(prefix="/v1")
channel = require("customer-channel")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def plain(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(p.get("text", "") for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens…: accepted, not used
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


def _thread_hash(key_id: str, history: list[tuple[str, str]]) -> str:
    payload = json.dumps([key_id, history], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _history(messages: list[ChatMessage]) -> list[tuple[str, str]]:
    # System prompts are the client's business and vary between clients: only the dialogue identifies a thread.
    return [(m.role, m.plain().strip()) for m in messages if m.role in ("user", "assistant")]


def _conversation_for(cc: ContactCentre, who: Principal, earlier: list[tuple[str, str]]) -> str:
    if earlier:
        with session_scope(cc.engine) as s:
            found = s.get(ChatThread, _thread_hash(who.key_id, earlier))
            if found is not None:
                return found.conversation_id
    return cc.open(who, None, "api")


def _remember(cc: ContactCentre, who: Principal, history: list[tuple[str, str]], conv_id: str) -> None:
    digest = _thread_hash(who.key_id, history)
    with session_scope(cc.engine) as s:
        if s.get(ChatThread, digest) is None:
            s.add(ChatThread(prefix_hash=digest, conversation_id=conv_id, created_at=cc.now()))


@router.get("/models")
async def models(_: Principal = Depends(channel)) -> dict:
    """The one model this endpoint serves."""
    return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "sangdam"}]}


@router.post("/chat/completions")
async def chat_completions(body: ChatRequest, request: Request, who: Principal = Depends(channel),
                           cc: ContactCentre = Depends(centre)) -> Any:
    """OpenAI-compatible chat completion (non-streaming or ``stream: true`` SSE chunks)."""
    if body.model != MODEL:
        raise ApiError(404, "unknown_model", f"model {body.model!r} does not exist; use {MODEL!r}")
    history = _history(body.messages)
    if not history or history[-1][0] != "user":
        raise ApiError(422, "no_user_message", "the last user/assistant message must be a user message")
    earlier, (_, user_text) = history[:-1], history[-1]

    def run() -> tuple[str, Any]:
        conv_id = _conversation_for(cc, who, earlier)
        result = cc.turn(conv_id, user_text)
        reply = result.reply or cc_text("notices.waiting_for_agent")  # taken over: tell the client to wait
        _remember(cc, who, [*history, ("assistant", reply.strip())], conv_id)
        return conv_id, (result, reply)

    conv_id, (result, reply) = await run_in_threadpool(run)
    completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())
    extra = {"conversation_id": conv_id, "trace_id": result.trace_id, "intents": result.intents,
             "pending_action": result.pending_action, "handed_off": result.handed_off}
    if not body.stream:
        return {
            "id": completion_id, "object": "chat.completion", "created": created, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(user_text), "completion_tokens": len(reply),
                      "total_tokens": len(user_text) + len(reply)},
            "sangdam": extra,
        }

    def chunk(delta: dict[str, Any], finish: str | None) -> str:
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    def stream() -> Iterator[str]:
        yield chunk({"role": "assistant", "content": ""}, None)
        for piece in _chunks(reply):
            yield chunk({"content": piece}, None)
        yield chunk({}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
