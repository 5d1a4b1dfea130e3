"""Server push: one Server-Sent Events stream per open view of a conversation (chat page, console).

A stream first sends every stored message after the client's last one (``message`` events, ``id`` = message
index, so a reconnect resumes with ``Last-Event-ID``) and the conversation's live state (``state``: mode,
verified, pending proposal), then waits. It wakes when this process stores something for the conversation
(:meth:`ConversationEvents.publish`, called after a turn, a take-over, a hand-back and an agent message) and
re-reads the database every ``recheck_s`` anyway, so changes written by another worker or the CLI arrive too.
The wait ends with a comment line, which keeps proxies from closing an idle stream and finds clients that left.
A stream ends after ``max_s``, or at once when the server shuts down (:meth:`ConversationEvents.close`); the
page reconnects where it stopped.

Besides stored changes, a turn the LLM agent works on sends *transient* events to the streams open at that moment
(:meth:`ConversationEvents.push`): ``progress`` (a fixed Korean line: what the agent does next) while it runs;
``draft`` pieces of the agent's answer while the model still writes it — each a whole sentence that passed the
verifier on its own; the first sentence that does not pass stops the draft — and ``delta`` pieces of each bot reply
it stored (the final reply, verified whole; it replaces the draft) right before that reply's ``message`` event.
Transient events are neither stored nor replayed after a reconnect.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.concurrency import run_in_threadpool

RECHECK_S = 10.0
MAX_STREAM_S = 600.0
MAX_PENDING = 2000  # transient events kept for one stream that does not read (older ones are dropped)
_PIECE = re.compile(r"[^\s]+\s*")


def sse(event: str, data: Any, *, event_id: int | None = None) -> str:
    """One SSE event block."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def reply_pieces(text: str) -> Iterator[str]:
    """A checked reply in small pieces (a word and the space after it) that join back to the whole text."""
    yield from _PIECE.findall(text)


class Subscription:
    """One open stream's wake-up event and the transient events waiting for it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.woken = asyncio.Event()
        self.pending: deque[tuple[str, Any]] = deque(maxlen=MAX_PENDING)

    def take(self) -> list[tuple[str, Any]]:
        """The transient events pushed since the last take, oldest first."""
        taken = []
        while True:
            try:
                taken.append(self.pending.popleft())
            except IndexError:
                return taken


class ConversationEvents:
    """In-process "conversation X changed" notifications; safe to publish from any thread."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self._lock = threading.Lock()
        self.closed = False

    @contextmanager
    def subscribe(self, conv_id: str) -> Iterator[Subscription]:
        """A subscription whose ``woken`` is set whenever ``conv_id`` changes (call from a coroutine; clear it before
        re-reading), and whose ``take`` returns the transient events pushed since."""
        entry = Subscription()
        with self._lock:
            self._subscribers.setdefault(conv_id, set()).add(entry)
        try:
            yield entry
        finally:
            with self._lock:
                subs = self._subscribers.get(conv_id, set())
                subs.discard(entry)
                if not subs:
                    self._subscribers.pop(conv_id, None)

    def publish(self, conv_id: str) -> None:
        with self._lock:
            subs = list(self._subscribers.get(conv_id, ()))
        self._wake(subs)

    def push(self, conv_id: str, event: str, data: Any) -> None:
        """A transient event (``progress``, ``draft``, ``delta``) for the streams of ``conv_id`` open now; nothing is stored."""
        with self._lock:
            subs = list(self._subscribers.get(conv_id, ()))
            for sub in subs:
                sub.pending.append((event, data))
        self._wake(subs)

    def close(self) -> None:
        """The server is shutting down: every stream ends now (instead of holding the shutdown up)."""
        self.closed = True
        with self._lock:
            subs = [entry for entries in self._subscribers.values() for entry in entries]
        self._wake(subs)

    @staticmethod
    def _wake(subs: list[Subscription]) -> None:
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub.woken.set)
            except RuntimeError:  # that stream's loop is closed: it is gone
                pass

    def listeners(self, conv_id: str) -> int:
        with self._lock:
            return len(self._subscribers.get(conv_id, ()))


Changes = Callable[[str, int], tuple[list[dict[str, Any]], dict[str, Any]]]


async def conversation_stream(events: ConversationEvents, changes: Changes, conv_id: str, after: int, *,
                              recheck_s: float = RECHECK_S, max_s: float = MAX_STREAM_S) -> AsyncIterator[str]:
    """SSE text of one conversation: catch up after index ``after``, then push each change as it is stored.

    Transient events are taken *after* the database read: a turn pushes its reply's ``delta`` pieces before the
    reply commits, so a read that sees the reply finds its pieces waiting, and they go out first."""
    last, shown_state = after, None
    deadline = time.monotonic() + max_s
    with events.subscribe(conv_id) as sub:
        woken = sub.woken
        yield "retry: 2000\n\n"
        while True:
            woken.clear()  # before reading: a change stored during the read wakes the next round
            messages, state = await run_in_threadpool(changes, conv_id, last)
            for event, data in sub.take():
                if event == "delta" and isinstance(data, dict) and data.get("idx", last + 1) <= last:
                    continue  # that message went out whole already
                yield sse(event, data)
            for message in messages:
                yield sse("message", message, event_id=message["idx"])
                last = message["idx"]
            if state != shown_state:
                yield sse("state", state)
                shown_state = state
            if events.closed or time.monotonic() >= deadline:
                return
            try:
                await asyncio.wait_for(woken.wait(), timeout=min(recheck_s, max(deadline - time.monotonic(), 0.0)))
            except TimeoutError:
                yield ": ping\n\n"
            if events.closed:
                return
