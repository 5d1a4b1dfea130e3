"""The contact centre behind the HTTP routes: one orchestrator per app, access checks, per-conversation locks,
idempotent sends and change notifications for the server-push streams.

The orchestrator is synchronous: routes run it in the thread pool. Two turns of the *same* conversation must not
interleave (state is loaded, changed and saved per turn), so each conversation has a lock; different
conversations run in parallel. Every stored change of a conversation is published to :class:`ConversationEvents`
so open streams push it at once. While the LLM agent works on a turn, its progress lines go to the open streams as
they come, and the reply it stored goes out in ``delta`` pieces just before its ``message`` (never stored twice,
never before the verifier passed it: the pieces are cut from the stored reply, inside the turn's transaction).

With several worker processes (PostgreSQL), the conversation lock is the orchestrator's advisory turn lock and the
idempotent-send memory lives in the database (``shared_state.SentMessages``), so a retry reaching another worker —
or arriving after the first worker died — is still answered once.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, desc, select

from sangdam.contact_center import handoff
from sangdam.contact_center.assist import AnswerDrafter
from sangdam.contact_center.summary import ConversationSummary, summarize
from sangdam.domain.auth_models import ConversationOwner
from sangdam.domain.conversation_models import Message
from sangdam.domain.db import session_scope
from sangdam.orchestrator import progress
from sangdam.orchestrator.engine import InvalidMessage
from sangdam.orchestrator.store import ConversationNotFound
from sangdam.orchestrator.turn_lock import ConversationBusy
from sangdam.orchestrator.types import TurnResult
from sangdam.server.errors import ApiError
from sangdam.server.events import ConversationEvents, reply_pieces
from sangdam.server.keys import Principal
from sangdam.server.shared_state import SentMessages

_LOCK_WAIT_S = 30.0


@dataclass(frozen=True)
class Delivery:
    """A customer message that was processed: the turn, the mode after it, and where its messages are stored."""

    result: TurnResult
    mode: str
    customer_idx: int | None  # index of the stored (masked) customer message
    reply_idx: int | None  # index of the bot's reply; None when an agent serves the conversation


class ContactCentre:
    """Orchestrator + access rules shared by the API, the OpenAI-compatible endpoint and the console."""

    def __init__(self, engine: Engine, *, today: dt.date | None = None, llm: Any = None, orchestrator: Any = None) -> None:
        from sangdam.orchestrator import Orchestrator

        self.engine = engine
        self.orch = orchestrator or Orchestrator(engine, today=today, llm=llm)
        self.events = ConversationEvents()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.sent = SentMessages(engine)
        self.orch.store.turn_hooks.append(self.sent.on_saved_turn)
        self.orch.store.turn_hooks.append(self._stream_reply)
        self._drafter: AnswerDrafter | None = None

    @property
    def drafter(self) -> AnswerDrafter:
        """Drafts answers for the console's suggested replies (built on first use)."""
        if self._drafter is None:
            self._drafter = AnswerDrafter(self.orch)
        return self._drafter

    def now(self) -> dt.datetime:
        return self.orch._now()  # same clock as the orchestrator (today may be pinned)

    # -- conversations ------------------------------------------------------------------------------------
    def open(self, who: Principal, customer_id: str | None, channel: str) -> str:
        """Start a conversation owned by ``who`` (its key or web session).

        Only a trusted channel (and admin) may name the customer the conversation is verified as. A bound key or a
        session bound by a login assertion opens every conversation as its own customer. Anyone else naming a
        customer gets 403 before any lookup, so the answer says nothing about whether that customer exists.
        """
        if customer_id is not None and not who.may_assert_customer and customer_id != who.customer_id:
            raise ApiError(403, "forbidden", "this key or session may not name a customer (only channel-trusted keys may)")
        customer_id = who.customer_id or customer_id
        if customer_id is not None and who.may_assert_customer and not self._customer_exists(customer_id):
            raise ApiError(422, "unknown_customer", "customer_id names no customer")
        if who.session_id is not None:
            channel = "web"
        conv_id = self.orch.start_conversation(customer_id=customer_id, channel=channel)
        with session_scope(self.engine) as s:
            s.add(ConversationOwner(conversation_id=conv_id, api_key_id=who.key_id, session_id=who.session_id))
        return conv_id

    def check_access(self, who: Principal, conv_id: str) -> dict[str, Any]:
        """The conversation row if ``who`` may see it: staff see all; a channel key or a web session only the
        conversations it opened (else 404)."""
        try:
            row = handoff.conversation_row(self.engine, conv_id)
        except ConversationNotFound:
            raise ApiError(404, "not_found", f"no conversation {conv_id!r}") from None
        if who.is_staff:
            return row
        with session_scope(self.engine) as s:
            owner = s.get(ConversationOwner, conv_id)
            owned = owner is not None and (
                (who.session_id is not None and owner.session_id == who.session_id)
                or (who.key_id is not None and owner.api_key_id == who.key_id))
        bound_ok = who.customer_id is None or row["customer_id"] == who.customer_id
        if not (owned and bound_ok):  # 404, not 403: do not reveal that another customer's conversation exists
            raise ApiError(404, "not_found", f"no conversation {conv_id!r}")
        return row

    @staticmethod
    def check_text(text: str) -> None:
        """Refuse a message the orchestrator would refuse (empty, too long) before anything is opened for it."""
        from sangdam.orchestrator.engine import MAX_MESSAGE_CHARS
        from sangdam.orchestrator.format import say

        text = (text or "").strip()
        if not text:
            raise ApiError(422, "empty_message", "message text is empty", say("errors.empty_message"))
        if len(text) > MAX_MESSAGE_CHARS:
            raise ApiError(413, "message_too_long", f"message longer than {MAX_MESSAGE_CHARS} characters",
                           say("errors.message_too_long", limit=MAX_MESSAGE_CHARS))

    def send(self, conv_id: str, text: str, idempotency_key: str | None = None, source: str | None = None) -> Delivery:
        """One customer message through the orchestrator (serialised per conversation).

        A retry with the same ``idempotency_key`` (the page retries when a send failed in transit) gets the first
        delivery back instead of a second turn: the message is stored once and answered once.
        """
        try:
            with self._turn_guard(conv_id):
                remembered = self.sent.lookup(conv_id, idempotency_key)
                if remembered is not None:
                    return _remembered_delivery(remembered)
                row = handoff.conversation_row(self.engine, conv_id)
                if row["mode"] == "closed":
                    raise ApiError(409, "conversation_closed", "conversation is closed")
                with self.sent.recording(conv_id, idempotency_key), self._progress(conv_id):
                    result = self.orch.handle(conv_id, text, source)  # source: identity checks throttled per client
                delivery = self._delivery(conv_id, result)
        except ConversationBusy:
            raise ApiError(409, "busy", "a previous message of this conversation is still being processed") from None
        except InvalidMessage as exc:
            status = 413 if exc.code == "message_too_long" else 422
            raise ApiError(status, exc.code, exc.message_en, exc.message_ko) from None
        except ConversationNotFound:
            raise ApiError(404, "not_found", f"no conversation {conv_id!r}") from None
        self.events.publish(conv_id)
        return delivery

    def turn(self, conv_id: str, text: str) -> TurnResult:
        """One customer message (channels that need only the turn, e.g. the OpenAI-compatible endpoint)."""
        return self.send(conv_id, text).result

    def view(self, conv_id: str, after: int | None = None) -> dict[str, Any]:
        """Masked transcript and state of a conversation (``after``: only messages with a larger index)."""
        row = handoff.conversation_row(self.engine, conv_id)
        messages = self.orch.store.transcript(conv_id)
        if after is not None:
            messages = [m for m in messages if m["idx"] > after]
        return {
            "id": conv_id, "channel": row["channel"], "customer_id": row["customer_id"],
            **self._live_state(row),
            "turns": row["state"].get("turn_index", 0), "messages": messages,
            "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat(),
        }

    def changes(self, conv_id: str, after: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Messages stored after index ``after`` and the live state (what a push stream sends)."""
        row = handoff.conversation_row(self.engine, conv_id)
        with session_scope(self.engine) as s:
            rows = s.scalars(select(Message).where(Message.conversation_id == conv_id, Message.idx > after)
                             .order_by(Message.idx)).all()
            messages = [{"idx": m.idx, "role": m.role, "text": m.text, "at": m.at.isoformat()} for m in rows]
        return messages, self._live_state(row)

    def summary(self, conv_id: str) -> ConversationSummary:
        return summarize(self.engine, conv_id)

    # -- agents -------------------------------------------------------------------------------------------
    def take_over(self, conv_id: str) -> None:
        """The agent joins: the bot falls silent (or had already transferred) and the customer is told."""
        self._agent_action(handoff.take_over, conv_id)

    def hand_back(self, conv_id: str) -> None:
        self._agent_action(handoff.hand_back, conv_id)

    def agent_message(self, conv_id: str, text: str) -> int:
        return self._agent_action(handoff.add_agent_message, conv_id, text)

    def _agent_action(self, action: Any, conv_id: str, *args: Any) -> Any:
        try:
            out = action(self.engine, conv_id, *args, now=self.now())
        except ConversationNotFound:
            raise ApiError(404, "not_found", f"no conversation {conv_id!r}") from None
        except handoff.HandoffError as exc:
            raise ApiError(422 if exc.code == "empty_message" else 409, exc.code, exc.message_en) from None
        self.events.publish(conv_id)
        return out

    # -- helpers ------------------------------------------------------------------------------------------
    def _progress(self, conv_id: str) -> Any:
        """While the turn runs, the agent's progress lines and the verified sentences of its answer as the model
        writes them (``draft``) go to the conversation's open streams (never stored)."""
        return progress.listening(lambda text: self.events.push(conv_id, "progress", {"text": text}),
                                  draft=lambda text: self.events.push(conv_id, "draft", {"text": text}))

    def _stream_reply(self, _session: Any, saved: Any) -> None:
        """Turn hook (inside the turn's transaction, so before the reply can be read): a turn that reported
        progress sends each bot reply it stored in ``delta`` pieces — the stored, verified, masked text the
        ``message`` event then carries whole."""
        listener = progress.current()
        if listener is None or not listener.reported:
            return
        for idx, role, text in saved.messages:
            if role == "bot" and saved.conversation_id:
                for piece in reply_pieces(text):
                    self.events.push(saved.conversation_id, "delta", {"idx": idx, "text": piece})

    def _delivery(self, conv_id: str, result: TurnResult) -> Delivery:
        """Where the turn's messages landed (a turn appends its customer message, then its reply, in one go)."""
        with session_scope(self.engine) as s:
            latest = s.execute(select(Message.idx, Message.role).where(Message.conversation_id == conv_id)
                               .order_by(desc(Message.idx)).limit(8)).all()
        customer_idx = next((idx for idx, role in latest if role == "customer"), None)
        reply_idx = None
        if customer_idx is not None and (customer_idx + 1, "bot") in {(i, r) for i, r in latest}:
            reply_idx = customer_idx + 1
        mode = handoff.conversation_row(self.engine, conv_id)["mode"]
        return Delivery(result=result, mode=mode, customer_idx=customer_idx, reply_idx=reply_idx)

    def _live_state(self, row: dict[str, Any]) -> dict[str, Any]:
        """What the pages show besides messages: mode, identity, the proposal waiting for an answer, whether an
        agent has joined."""
        state = row["state"]
        return {"mode": row["mode"], "verified": row["verified_customer_id"] is not None,
                "pending_action": state.get("pending"), "options": (state.get("awaiting") or {}).get("options") or [],
                "handed_off": bool(state.get("handed_off")),
                "agent_joined": row["mode"] == "human" and handoff.agent_present(self.engine, row["id"])}

    @contextmanager
    def _turn_guard(self, conv_id: str) -> Iterator[None]:
        """One send of the conversation at a time: across workers (the orchestrator's advisory turn lock on
        PostgreSQL), else within this process (a lock per conversation; SQLite serves one process)."""
        turn_lock = getattr(self.orch, "turn_lock", None)
        if turn_lock is not None and turn_lock.shared:
            with turn_lock.hold(conv_id):
                yield
            return
        with self._locks_guard:
            lock = self._locks.setdefault(conv_id, threading.Lock())
        if not lock.acquire(timeout=_LOCK_WAIT_S):
            raise ConversationBusy(conv_id)
        try:
            yield
        finally:
            lock.release()

    def _customer_exists(self, customer_id: str) -> bool:
        from sangdam.backends import customer_exists

        return customer_exists(self.engine, customer_id)


def _remembered_delivery(stored: dict) -> Delivery:
    """The first answer of a retried send, as stored with its turn (``shared_state.delivery_of``)."""
    fields = {k: v for k, v in stored.items() if k not in ("mode", "customer_idx", "reply_idx")}
    return Delivery(result=TurnResult(**fields), mode=stored["mode"], customer_idx=stored["customer_idx"],
                    reply_idx=stored["reply_idx"])
