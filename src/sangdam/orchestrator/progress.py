"""Progress lines while the LLM agent works ("요금 내역을 확인하고 있어요…").

The agent reports before it starts and before each tool it runs (:func:`report`); whoever serves the turn listens
(:func:`listening`, e.g. the server, which pushes each line to the conversation's open streams). A line is a fixed
text from ``resources/messages/progress.ko.yaml`` chosen by the tool's name — never anything from the customer's
message or records, and never a digit — and it is never stored: it is not part of the conversation.

The sink is the turn's ``AgentContext.progress`` when set, else the listener of the thread's current turn (a
context variable, so the orchestrator need not pass it through). A listener may also take the *draft*: the agent's
answer, one verified sentence at a time, while the model still writes it (:func:`drafting`; agentic/streaming.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sangdam.orchestrator.resources import load_resource
from sangdam.tools.base import RiskTier

log = logging.getLogger(__name__)

_DIGIT = re.compile(r"\d")
_FIRST_SENTENCE = re.compile(r"^([^.!?\n(]{2,40}?)\s*합니다[.!]?(?:\s|$)")
MAX_CHARS = 60


class Listener:
    """The sink of one turn's progress lines; counts what it was told (a turn with progress streams its reply).
    ``draft``: where the verified sentences of the agent's answer go while the model writes it (None: not shown)."""

    def __init__(self, sink: Callable[[str], None], draft: Callable[[str], None] | None = None) -> None:
        self.sink, self.draft_sink = sink, draft
        self.reported = 0
        self.drafted = 0

    def __call__(self, text: str) -> None:
        self.reported += 1
        self.sink(text)

    def draft(self, text: str) -> None:
        if self.draft_sink is not None:
            self.drafted += 1
            self.draft_sink(text)


_current: ContextVar[Listener | None] = ContextVar("sangdam_progress", default=None)


@contextmanager
def listening(sink: Callable[[str], None], draft: Callable[[str], None] | None = None) -> Iterator[Listener]:
    """Progress reported while the block runs (in this thread or context) goes to ``sink``; the agent's verified
    answer sentences, while the model writes them, to ``draft`` (when given)."""
    listener = Listener(sink, draft)
    token = _current.set(listener)
    try:
        yield listener
    finally:
        _current.reset(token)


def current() -> Listener | None:
    """The listener of the turn running in this context (None: nobody listens)."""
    return _current.get()


def texts() -> dict[str, Any]:
    return load_resource("messages/progress.ko.yaml")


def line(tool: Any = None) -> str:
    """The Korean progress line before ``tool`` runs (None: before the agent starts)."""
    t = texts()
    if tool is None:
        return t["start"]
    name = getattr(tool, "name", str(tool))
    known = t["tools"].get(name)
    if known:
        return known
    is_read = getattr(tool, "risk", RiskTier.read) is RiskTier.read
    if not is_read:
        return t["change"]
    description = str(getattr(tool, "description_ko_text", None) or "").strip()
    match = _FIRST_SENTENCE.match(description)
    if match:
        text = t["imported"].format(action=match.group(1).strip())
        if not _DIGIT.search(text) and len(text) <= MAX_CHARS:
            return text
    return t["generic"]


def report(ctx: Any, tool: Any = None) -> None:
    """Tell whoever listens what the agent does next; a failing sink never fails the turn."""
    sink = getattr(ctx, "progress", None) or _current.get()
    if sink is None:
        return
    try:
        sink(line(tool))
    except Exception:  # noqa: BLE001 - progress is a courtesy, the turn goes on
        log.warning("progress sink failed", exc_info=True)


def drafting(ctx: Any) -> Callable[[str], None] | None:
    """Where this turn's draft sentences go (None: nobody shows a draft, so the model need not be streamed).
    A failing sink is logged and then ignored for the rest of the turn's draft, never failing the turn."""
    sink = getattr(ctx, "draft", None)
    if sink is None:
        listener = _current.get()
        sink = listener.draft if listener is not None and listener.draft_sink is not None else None
    if sink is None:
        return None
    broken: list[bool] = []

    def emit(text: str) -> None:
        if broken:
            return
        try:
            sink(text)
        except Exception:  # noqa: BLE001 - the draft is a courtesy, the turn goes on
            broken.append(True)
            log.warning("draft sink failed", exc_info=True)

    return emit
