"""``POST /v1/chat/completions``: the contact centre behind the OpenAI chat API (model ``sangdam``).

A request's conversation is named explicitly, never found from the message text (issue 11 item 2: two end users
who sent the same opening had shared one verified conversation):

1. header ``X-Sangdam-Conversation: CV-…`` — continue that conversation (only one this key opened; else 404);
2. else the request's ``user`` field — one conversation per (key, ``user``): the client's own id of its end user;
3. else a new conversation.

Every answer names its conversation (header ``X-Sangdam-Conversation`` and ``sangdam.conversation_id``), so a
client continues it by sending the id back. Only the last message (a user message) is processed: the server holds
the conversation's history, whatever the request repeats of it.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.exc import IntegrityError

from sangdam.contact_center import handoff
from sangdam.contact_center.texts import text as cc_text
from sangdam.domain.auth_models import ChatThread
from sangdam.domain.db import session_scope
from sangdam.server.api import _chunks, centre
from sangdam.server.auth import require
from sangdam.server.errors import ERROR_RESPONSES, ApiError
from sangdam.server.inputs import CleanText
from sangdam.server.keys import Principal
from sangdam.server.service import ContactCentre

MODEL = "sangdam"
CONVERSATION_HEADER = "X-Sangdam-Conversation"
router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
channel = require("channel-trusted", "customer-channel")


class ContentPart(BaseModel):
    """One part of a message's content; only ``text`` parts are read (their ``text`` must be a string)."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: CleanText | None = None

    @model_validator(mode="after")
    def _text_part_has_text(self) -> ContentPart:
        if self.type == "text" and self.text is None:
            raise ValueError("a text content part needs a string 'text'")
        return self


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: CleanText | list[ContentPart] | None = None

    def plain(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens…: accepted, not used
    model: CleanText
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: CleanText | None = Field(default=None, max_length=128, description=(
        "The client's id of its end user: one conversation per key and user (when no conversation header is sent)."))


def _user_thread(key_id: str, user: str) -> str:
    return hashlib.sha256(json.dumps([key_id, "user", user], ensure_ascii=False).encode("utf-8")).hexdigest()


def _conversation_for(cc: ContactCentre, who: Principal, named: str | None, user: str | None) -> str:
    """The conversation a request continues: the one named by the header, else the (key, user) thread, else new."""
    if named:
        cc.check_access(who, named)  # 404 unless this key opened it
        return named
    if not user:
        return cc.open(who, None, "api")
    digest = _user_thread(str(who.key_id), user)
    with session_scope(cc.engine) as s:
        found = s.get(ChatThread, digest)
        conv_id = found.conversation_id if found is not None else None
    if conv_id is not None and handoff.conversation_row(cc.engine, conv_id)["mode"] != "closed":
        return conv_id
    conv_id = cc.open(who, None, "api")
    try:
        with session_scope(cc.engine) as s:
            s.merge(ChatThread(prefix_hash=digest, conversation_id=conv_id, created_at=cc.now()))
    except IntegrityError:  # a concurrent first request of the same user won: continue that one
        with session_scope(cc.engine) as s:
            return s.get(ChatThread, digest).conversation_id
    return conv_id


@router.get("/models")
async def models(_: Principal = Depends(channel)) -> dict:
    """The one model this endpoint serves."""
    return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "sangdam"}]}


@router.post("/chat/completions")
async def chat_completions(body: ChatRequest, request: Request, who: Principal = Depends(channel),
                           cc: ContactCentre = Depends(centre),
                           conversation: str | None = Header(default=None, alias=CONVERSATION_HEADER, max_length=40),
                           ) -> Any:
    """OpenAI-compatible chat completion (non-streaming or ``stream: true`` SSE chunks). The conversation is the one
    named by the ``X-Sangdam-Conversation`` header, else the key's conversation with ``user``, else a new one."""
    if body.model != MODEL:
        raise ApiError(404, "unknown_model", f"model {body.model!r} does not exist; use {MODEL!r}")
    dialogue = [m for m in body.messages if m.role in ("user", "assistant")]
    if not dialogue or dialogue[-1].role != "user":
        raise ApiError(422, "no_user_message", "the last user/assistant message must be a user message")
    user_text = dialogue[-1].plain()
    cc.check_text(user_text)  # refused before a conversation is opened for it

    def run() -> tuple[str, Any, str]:
        conv_id = _conversation_for(cc, who, conversation, body.user)
        result = cc.turn(conv_id, user_text)
        return conv_id, result, result.reply or cc_text("notices.waiting_for_agent")  # taken over: wait

    conv_id, result, reply = await run_in_threadpool(run)
    completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())
    headers = {CONVERSATION_HEADER: conv_id}
    extra = {"conversation_id": conv_id, "trace_id": result.trace_id, "intents": result.intents,
             "pending_action": result.pending_action, "handed_off": result.handed_off}
    if not body.stream:
        return JSONResponse({
            "id": completion_id, "object": "chat.completion", "created": created, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(user_text), "completion_tokens": len(reply),
                      "total_tokens": len(user_text) + len(reply)},
            "sangdam": extra,
        }, headers=headers)

    def chunk(delta: dict[str, Any], finish: str | None) -> str:
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "sangdam": extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    def stream() -> Iterator[str]:
        yield chunk({"role": "assistant", "content": ""}, None)
        for piece in _chunks(reply):
            yield chunk({"content": piece}, None)
        yield chunk({}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", **headers})
