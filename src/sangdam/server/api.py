"""``/api/v1``: web-chat sessions, conversations for channels (keys and sessions) and the agent console."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from sangdam.contact_center import handoff
from sangdam.contact_center.assist import Assist, build_assist
from sangdam.contact_center.qa import QaScorecard, scorecard
from sangdam.contact_center.summary import ConversationSummary
from sangdam.server.auth import allow_new_session, require
from sangdam.server.errors import ERROR_RESPONSES, ApiError
from sangdam.server.events import conversation_stream, reply_pieces, sse
from sangdam.server.inputs import CleanText
from sangdam.server.keys import Principal
from sangdam.server.service import ContactCentre, Delivery
from sangdam.tools.identity import IdentityLock, identity_locks
from sangdam.server.sessions import InvalidAssertion

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
CHANNELS = ("channel-trusted", "customer-channel")
channel_or_staff = require(*CHANNELS, "web-session", "agent")
channel_keys_or_staff = require(*CHANNELS, "agent")  # not web sessions: traces are for operators
session_only = require("web-session")
MAX_INDEX = 2**31 - 1  # message indexes are integer columns: a larger "after" is no index at all (was a 500)
staff = require("agent")


class EventStream(StreamingResponse):
    """Server-Sent Events (declared as ``text/event-stream`` in the OpenAPI document)."""

    media_type = "text/event-stream"


def centre(request: Request) -> ContactCentre:
    return request.app.state.centre


class NewSession(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assertion: CleanText | None = Field(default=None, max_length=8192, description=(
        "A signed login assertion (JWT) from the operator's login: binds the session to the customer it names."))


class SessionOpened(BaseModel):
    """A web-chat session: keep ``token`` in memory or ``sessionStorage`` and send it as ``Authorization: Bearer``."""

    token: str
    expires_at: dt.datetime = Field(description="UTC; pushed forward while the session is in use.")
    ends_at: dt.datetime = Field(description="UTC; the latest the session lives, in use or not.")
    idle_timeout_s: int
    verified: bool = Field(description="True when a login assertion bound the session to a customer.")


class NewConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: CleanText | None = Field(default=None, max_length=40, description=(
        "Only for channel-trusted keys: the customer the conversation is verified as. Anyone else: 403."))
    channel: Literal["web", "api"] = "api"


class ConversationId(BaseModel):
    id: str


class CustomerMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: CleanText = Field(description="The customer's message (1–2000 characters after trimming).")


class TurnReply(BaseModel):
    """Reply to one message: the contract fields plus what the chat page needs (confirm buttons, mode)."""

    reply: str
    intents: list[str]
    trace_id: str
    pending_action: dict[str, Any] | None = None
    handed_off: bool = False
    mode: str = "bot"
    turn_index: int = 0
    latency_ms: float = 0.0
    customer_idx: int | None = Field(default=None, description="Index of the stored customer message.")
    reply_idx: int | None = Field(default=None, description="Index of the stored reply (none while an agent serves).")


class AgentMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: CleanText = Field(min_length=1, max_length=2000)


_chunks = reply_pieces  # the checked reply in small pieces (openai_compat streams them too)


def _reply(delivery: Delivery) -> TurnReply:
    result = delivery.result
    return TurnReply(reply=result.reply, intents=result.intents, trace_id=result.trace_id,
                     pending_action=result.pending_action, handed_off=result.handed_off, mode=delivery.mode,
                     turn_index=result.turn_index, latency_ms=result.latency_ms,
                     customer_idx=delivery.customer_idx, reply_idx=delivery.reply_idx)


@router.post("/sessions", response_model=SessionOpened, status_code=201)
async def open_session(request: Request, body: NewSession | None = None) -> SessionOpened:
    """Open a web-chat session (no key needed; limited per address). With ``assertion`` the session is bound to the
    customer the operator's login signed for; a bad assertion is 401 ``invalid_assertion`` and opens nothing."""
    allow_new_session(request)
    customer_id = None
    sessions = request.app.state.sessions
    try:
        if body is not None and body.assertion is not None:
            customer_id = request.app.state.assertions.customer_of(body.assertion, request.app.state.clock())
        opened = await run_in_threadpool(sessions.open, customer_id)
    except InvalidAssertion as exc:
        log.info("login assertion refused: %s", exc)
        raise ApiError(401, "invalid_assertion", "login assertion not accepted") from None
    return SessionOpened(token=opened.token, expires_at=opened.expires_at.replace(tzinfo=dt.UTC),
                         ends_at=opened.ends_at.replace(tzinfo=dt.UTC),
                         idle_timeout_s=int(sessions.idle.total_seconds()), verified=opened.customer_id is not None)


@router.delete("/sessions/current", status_code=204)
async def end_session(request: Request, who: Principal = Depends(session_only)) -> Response:
    """End the caller's web-chat session now (its token stops working)."""
    await run_in_threadpool(request.app.state.sessions.end, who.session_id)
    return Response(status_code=204)


@router.post("/conversations", response_model=ConversationId, status_code=201)
async def create_conversation(body: NewConversation, who: Principal = Depends(channel_or_staff),
                              cc: ContactCentre = Depends(centre)) -> ConversationId:
    """Open a conversation. Only a ``channel-trusted`` key may name ``customer_id`` (verified as that customer); a
    bound key or an assertion-bound session opens it as its own customer; sessions and other keys naming a customer
    get 403."""
    return ConversationId(id=await run_in_threadpool(cc.open, who, body.customer_id, body.channel))


@router.post("/conversations/{conv_id}/messages", response_model=TurnReply)
async def post_message(conv_id: str, body: CustomerMessage, request: Request,
                       idempotency_key: str | None = Header(default=None, max_length=80),
                       who: Principal = Depends(channel_or_staff), cc: ContactCentre = Depends(centre)) -> Any:
    """Send a customer message; ``Accept: text/event-stream`` streams the reply as SSE (``meta``, ``delta`` …,
    ``done``).

    The reply is checked by the verifier before any of it is sent, so streaming never shows unchecked text.
    A retry carrying the same ``Idempotency-Key`` header gets the first answer back; the message is stored once.
    """
    await run_in_threadpool(cc.check_access, who, conv_id)
    source = request.client.host if request.client else None  # identity checks are throttled per client address
    reply = _reply(await run_in_threadpool(cc.send, conv_id, body.text, idempotency_key, source))
    if "text/event-stream" not in request.headers.get("accept", ""):
        return reply

    def stream() -> Iterator[str]:
        yield sse("meta", {"intents": reply.intents, "trace_id": reply.trace_id,
                           "customer_idx": reply.customer_idx, "reply_idx": reply.reply_idx})
        for piece in _chunks(reply.reply):
            yield sse("delta", {"text": piece})
        yield sse("done", reply.model_dump(mode="json"))

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get("/conversations/{conv_id}")
async def get_conversation(conv_id: str, after: int | None = Query(default=None, ge=-1, le=MAX_INDEX),
                           who: Principal = Depends(channel_or_staff), cc: ContactCentre = Depends(centre)) -> dict:
    """Masked transcript and state; ``after=N`` returns only messages after index N (for polling)."""
    await run_in_threadpool(cc.check_access, who, conv_id)
    return await run_in_threadpool(cc.view, conv_id, after)


@router.get("/conversations/{conv_id}/events", response_class=EventStream)
async def conversation_events(conv_id: str, request: Request, after: int | None = Query(default=None, ge=-1, le=MAX_INDEX),
                              last_event_id: str | None = Header(default=None, max_length=20),
                              who: Principal = Depends(channel_or_staff),
                              cc: ContactCentre = Depends(centre)) -> StreamingResponse:
    """Server push (SSE): every message after index ``after`` (or ``Last-Event-ID``), then each new message and
    state change as it is stored. Replaces polling: one open stream per chat page or console view."""
    await run_in_threadpool(cc.check_access, who, conv_id)
    if after is None:
        resumed = int(last_event_id) if last_event_id and last_event_id.lstrip("-").isdigit() else -1
        after = resumed if -1 <= resumed <= MAX_INDEX else -1  # garbage: replay everything
    settings = request.app.state.push
    stream = conversation_stream(cc.events, cc.changes, conv_id, after, **settings)
    return EventStream(stream, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/conversations/{conv_id}/trace")
async def get_trace(conv_id: str, who: Principal = Depends(channel_keys_or_staff),
                    cc: ContactCentre = Depends(centre)) -> dict:
    """Per-turn traces: intents, plan, tool calls (masked), verifier verdicts, latencies."""
    await run_in_threadpool(cc.check_access, who, conv_id)
    return {"id": conv_id, "turns": await run_in_threadpool(cc.orch.store.traces, conv_id)}


@router.get("/conversations/{conv_id}/summary", response_model=ConversationSummary)
async def get_summary(conv_id: str, who: Principal = Depends(channel_or_staff),
                      cc: ContactCentre = Depends(centre)) -> ConversationSummary:
    """Structured Korean after-call summary built from the trace and transcript."""
    await run_in_threadpool(cc.check_access, who, conv_id)
    return await run_in_threadpool(cc.summary, conv_id)


# -- agent console ------------------------------------------------------------------------------------------
@router.get("/console/conversations", response_model=list[handoff.ConversationRow])
async def console_list(mode: Literal["bot", "human", "closed"] | None = None, limit: int = Query(100, ge=1, le=500),
                       _: Principal = Depends(staff), cc: ContactCentre = Depends(centre)) -> Any:
    """Conversations, most recently active first (``mode=human``: the handoff queue), with the verified customer's
    name, seconds since the last activity and, for conversations with a person, how long the customer has waited."""
    return await run_in_threadpool(lambda: handoff.list_conversations(cc.engine, mode=mode, limit=limit, now=cc.now()))


@router.get("/console/queue")
async def console_queue(_: Principal = Depends(staff), cc: ContactCentre = Depends(centre)) -> list[dict]:
    """Conversations waiting for a human (mode ``human``), each with the bot's summary."""

    def build() -> list[dict]:
        rows = handoff.list_conversations(cc.engine, mode="human", now=cc.now())
        return [{**r.model_dump(mode="json"), "summary": cc.summary(r.id).model_dump(mode="json")} for r in rows]

    return await run_in_threadpool(build)


@router.get("/console/identity-locks", response_model=list[IdentityLock])
async def console_identity_locks(_: Principal = Depends(staff), cc: ContactCentre = Depends(centre)) -> Any:
    """Numbers (last 4 digits) and client addresses (pseudonyms) whose in-chat identity checks must wait now,
    longest first; an agent clears a number's lock with ``sangdam identity unlock`` (tools/identity.py)."""
    return await run_in_threadpool(identity_locks, cc.engine, cc.now())


def _mode_change(action: str):  # noqa: ANN202 - route factory
    async def change(conv_id: str, _: Principal = Depends(staff), cc: ContactCentre = Depends(centre)) -> dict:
        await run_in_threadpool(cc.take_over if action == "takeover" else cc.hand_back, conv_id)
        return await run_in_threadpool(cc.view, conv_id, None)

    change.__doc__ = ("Take over (or join a conversation the bot transferred): the bot stops replying, the customer "
                      "is told an agent is connected." if action == "takeover"
                      else "Hand back: the bot answers the next customer message again.")
    return change


router.add_api_route("/conversations/{conv_id}/takeover", _mode_change("takeover"), methods=["POST"],
                     name="take_over")
router.add_api_route("/conversations/{conv_id}/handback", _mode_change("handback"), methods=["POST"],
                     name="hand_back")


@router.post("/conversations/{conv_id}/agent-messages", status_code=201)
async def agent_message(conv_id: str, body: AgentMessage, _: Principal = Depends(staff),
                        cc: ContactCentre = Depends(centre)) -> dict:
    """A human agent's reply (only in mode ``human``); the customer's page shows it."""
    return {"idx": await run_in_threadpool(cc.agent_message, conv_id, body.text)}


@router.get("/conversations/{conv_id}/assist", response_model=Assist)
async def assist(conv_id: str, _: Principal = Depends(staff), cc: ContactCentre = Depends(centre)) -> Assist:
    """Suggested replies (first: an answer to the customer's last unanswered question) and relevant passages."""
    await run_in_threadpool(cc.check_access, _, conv_id)
    return await run_in_threadpool(lambda: build_assist(cc.drafter, conv_id, cc.summary(conv_id)))


@router.get("/conversations/{conv_id}/qa", response_model=QaScorecard)
async def get_qa(conv_id: str, who: Principal = Depends(staff), cc: ContactCentre = Depends(centre)) -> QaScorecard:
    """The conversation's QA scorecard (docs/qa.md): the stored one when it is current, else scored now and stored."""
    await run_in_threadpool(cc.check_access, who, conv_id)
    return await run_in_threadpool(lambda: scorecard(cc.engine, conv_id, llm=cc.orch.llm, now=cc.now()))
