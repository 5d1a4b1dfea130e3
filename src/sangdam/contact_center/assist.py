"""Agent assist: suggested replies and knowledge-base passages for the conversation an agent is looking at.

Suggestions are fixed, reviewed Korean sentences picked by the conversation's state (handed off, waiting for a
confirmation, not verified, a failed action, an unhappy customer); passages come from a BM25 search of the
knowledge base with the customer's last message (no model loads: the console must stay responsive).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, Field

from sangdam.contact_center.summary import ConversationSummary
from sangdam.contact_center.texts import text

log = logging.getLogger(__name__)


class Passage(BaseModel):
    """A knowledge-base passage relevant to the conversation."""

    source: str
    heading: str
    text: str
    score: float


class Assist(BaseModel):
    """What the console shows next to the transcript."""

    suggestions: list[str] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    kb_available: bool = True


def suggest_replies(summary: ConversationSummary, state: dict[str, Any], mode: str) -> list[str]:
    """Reply suggestions for the agent, most relevant first."""
    out: list[str] = []
    if mode == "human" or state.get("handed_off"):
        out.append(text("assist.suggestions.handed_off"))
    pending = state.get("pending")
    if pending:
        from sangdam.contact_center.summary import _describe

        action = ", ".join(_describe(c.get("tool", "")) for c in pending.get("calls") or []) or pending.get("intent", "")
        out.append(text("assist.suggestions.awaiting_confirmation", action=action))
    if not summary.verified:
        out.append(text("assist.suggestions.not_verified"))
    if any(a.status == "실패" for a in summary.actions_taken):
        out.append(text("assist.suggestions.failed"))
    if summary.sentiment == text("summary.sentiment.negative"):
        out.append(text("assist.suggestions.apology"))
    out.append(text("assist.suggestions.closing"))
    return out


def relevant_passages(query: str, kb_name: str = "default", k: int = 3) -> tuple[list[Passage], bool]:
    """Top ``k`` BM25 passages for ``query``; ``(passages, kb_available)``."""
    if not query.strip():
        return [], True
    try:
        from sangdam.knowledge.retrieval import load_kb

        kb = load_kb(kb_name)
        hits = kb.search(query, k=k, mode="bm25")
    except Exception as exc:  # noqa: BLE001 - no KB ingested yet: the console works without passages
        log.info("agent assist without KB passages: %s", exc)
        return [], False
    return [Passage(source=h.source, heading=h.heading, text=h.text[:400], score=round(float(h.score), 4))
            for h in hits if h.score > 0], True
