"""Escalation signals per customer turn: sentiment, when a human agent should be offered, and the console mark.

The rule (docs/sentiment.md). A customer turn *escalates* when

1. the customer is ``angry`` (sentiment.py), or
2. frustration repeats: this turn and the previous customer turn are both ``negative`` or ``angry``, or
3. failure repeats: the bot failed on this turn and on the previous one for the same request. A turn *failed*
   when the router found nothing it serves (``out_of_scope``), a tool refused or failed (status ``error``), the
   knowledge base had no answer, or the customer's answer to the bot's question could not be read; "the same
   request" means the two turns share an intent (or neither had one). Two unreadable answers in a row to the same
   question also count.

On escalation the orchestrator, in the same turn, offers a human agent with one Korean sentence appended to the
reply (``escalation.offer``, without its apology when the reply has one): as a proposal the customer accepts with "네" (a pending ``transfer_to_human``, the
same one the handoff agent makes) when nothing else waits for an answer, otherwise as a hint to say "상담사 연결".
Never twice in a row, never when the turn already asked for or made a transfer or the conversation was handed off.

Only masked text is read (the trace's ``user``). The decision travels in the trace (``signal``); the turn hook
:func:`record_turn_signal` writes it to ``turn_signals`` and, on escalation, the ``conversation_marks`` row
``kind="escalation"`` the console queue shows, in the turn's own transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import desc, select
from sqlalchemy.orm import Session

from sangdam.contact_center.sentiment import classify
from sangdam.domain.conversation_models import Conversation, TurnTrace
from sangdam.domain.db import session_scope
from sangdam.domain.insight_models import ConversationMark, TurnSignal
from sangdam.orchestrator.format import say
from sangdam.orchestrator.state import Step
from sangdam.tools.base import ToolError

UNHAPPY = frozenset({"negative", "angry"})
HANDOFF_TOOLS = frozenset({"transfer_to_human", "request_cancellation"})
MARK_KIND = "escalation"


class Escalation:
    """Decides each bot turn's signal and makes the agent offer; the engine calls :meth:`assess` before composing."""

    def __init__(self, engine: Any, handoff_agent: Any) -> None:
        self.engine = engine
        self.handoff_agent = handoff_agent

    def assess(self, turn: Any) -> dict[str, Any]:
        """The turn's signal (stored in its trace); appends the agent offer to ``turn.messages`` on escalation."""
        state, ctx = turn.state, turn.ctx
        sentiment = classify(ctx.text)
        intents = list(turn.route.intents) if turn.route else []
        failed = turn_failed(turn, intents)
        previous = self._previous_signal(ctx.conversation_id, state.turn_index)
        reason = escalation_reason(sentiment.label, failed, intents, previous, state)
        offered = False
        if reason and self._may_offer(turn, intents, previous):
            self._offer(turn)
            offered = True
        return {"sentiment": sentiment.label, "score": sentiment.score, "cues": list(sentiment.cues),
                "failed": failed, "intents": intents, "escalate": reason is not None, "reason": reason or "",
                "offered": offered}

    def _previous_signal(self, conversation_id: str, turn_index: int) -> dict[str, Any]:
        with session_scope(self.engine) as s:
            data = s.scalar(select(TurnTrace.data).where(TurnTrace.conversation_id == conversation_id,
                                                         TurnTrace.turn_index < turn_index)
                            .order_by(desc(TurnTrace.turn_index)).limit(1))
        signal = dict((data or {}).get("signal") or {})
        signal.setdefault("intents", list((data or {}).get("intents") or []))
        return signal

    @staticmethod
    def _may_offer(turn: Any, intents: list[str], previous: dict[str, Any]) -> bool:
        state = turn.state
        if state.handed_off or previous.get("offered") or "agent.human" in intents:
            return False
        if any(c.name in HANDOFF_TOOLS for c in turn.ctx.tool_calls):
            return False
        return not (state.pending is not None and state.pending.intent == "agent.human")

    def _offer(self, turn: Any) -> None:
        """A pending transfer ("네" accepts it) when nothing else waits for an answer; else a hint, placed before
        the open question (the question the customer answers comes last). No second apology in one reply."""
        state, ctx = turn.state, turn.ctx
        plain = "_plain" if any(say("escalation.apologised") in m for m in turn.messages) else ""
        if state.pending is None and state.awaiting is None and not state.queue:
            allowed = ctx.allowed
            ctx.allowed = frozenset(self.handoff_agent.tools)
            try:
                outcome = self.handoff_agent.offer(Step(agent="handoff", intent="agent.human"), ctx)
            except ToolError:
                outcome = None
            finally:
                ctx.allowed = allowed
            if outcome is not None and outcome.proposal is not None:
                state.pending = outcome.proposal
                turn.messages.append(say("escalation.offer" + plain))
                return
        at = len(turn.messages) - 1 if turn.messages and (state.pending or state.awaiting) else len(turn.messages)
        turn.messages.insert(at, say("escalation.offer_hint" + plain))


def turn_failed(turn: Any, intents: list[str]) -> bool:
    """Whether the bot could not serve this turn (see the module docstring)."""
    state = turn.state
    if "out_of_scope" in intents:
        return True
    if any(c.status == "error" for c in turn.ctx.tool_calls):
        return True
    if say("knowledge.not_found") in turn.messages:
        return True
    return bool(state.awaiting is not None and state.awaiting.misses >= 1)


def escalation_reason(label: str, failed: bool, intents: list[str], previous: dict[str, Any],
                      state: Any) -> str | None:
    """``angry`` | ``repeated_frustration`` | ``repeated_failure`` | None (the rule of the module docstring)."""
    if label == "angry":
        return "angry"
    if label in UNHAPPY and previous.get("sentiment") in UNHAPPY:
        return "repeated_frustration"
    if state.awaiting is not None and state.awaiting.misses >= 2:
        return "repeated_failure"
    if failed and previous.get("failed"):
        before = set(previous.get("intents") or [])
        if set(intents) & before or (not intents and not before) or {"out_of_scope"} <= set(intents) & before:
            return "repeated_failure"
    return None


def record_turn_signal(session: Session, saved: Any) -> None:
    """Turn hook: one ``turn_signals`` row per customer turn (replaced, never doubled, when the turn is saved
    again) and the conversation's escalation mark the first time it escalates. Turns stored without a trace (a
    human agent serves the conversation) are classified here, never escalated."""
    customer = [text for _, role, text in saved.messages if role == "customer"]
    if not customer:
        return
    trace = saved.trace or {}
    signal = trace.get("signal")
    if signal is None:
        result = classify(trace.get("user") or customer[-1])
        signal = {"sentiment": result.label, "score": result.score, "escalate": False, "reason": ""}
    conv = session.get(Conversation, saved.conversation_id)
    at = conv.updated_at if conv is not None else None
    session.merge(TurnSignal(conversation_id=saved.conversation_id, turn_index=saved.state.turn_index,
                             sentiment=signal["sentiment"], score=float(signal["score"]),
                             escalate=bool(signal["escalate"]), at=at))
    if signal["escalate"] and session.get(ConversationMark, (saved.conversation_id, MARK_KIND)) is None:
        session.add(ConversationMark(conversation_id=saved.conversation_id, kind=MARK_KIND,
                                     reason=str(signal.get("reason") or "")[:200], at=at))
