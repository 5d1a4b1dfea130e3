"""Agent assist: suggested replies and knowledge-base passages for the conversation an agent is looking at.

The first suggestion answers the customer's last unanswered question: what they wrote while the bot stayed
silent (the conversation is with a person). :class:`AnswerDrafter` drafts the bot's own answer to it — routed,
planned and run by the same sub-agents, read tools only, write tools only previewed, checked by the verifier,
nothing stored. Then come fixed, reviewed Korean sentences picked by the conversation's state (handed off,
waiting for a confirmation, not verified, a failed action, an unhappy customer); the generic closing line only
when nothing is left unanswered. Passages come from a BM25 search of the knowledge base with the customer's last
message (no model loads: the console must stay responsive).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from sangdam.agents.base import AgentContext, Outcome
from sangdam.contact_center.summary import ConversationSummary
from sangdam.contact_center.texts import text
from sangdam.tools.base import ToolError
from sangdam.tools.registry import get_tool

log = logging.getLogger(__name__)

# Routed intents that are not a question an agent could answer with facts.
_NOT_QUESTIONS = frozenset({"agent.human", "chitchat", "out_of_scope", "none"})


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
    question: str | None = Field(default=None, description="The unanswered customer message the first suggestion answers.")


@dataclass
class _DraftContext(AgentContext):
    """An agent context that may read but never write: a draft must not change anything."""

    def call(self, name: str, _idempotency_key: str | None = None, **args: Any) -> Any:
        if get_tool(name).is_write:
            raise ToolError("not_allowed", f"drafting never runs the write tool {name!r}", message_ko="")
        return super().call(name, _idempotency_key, **args)


class AnswerDrafter:
    """Drafts the bot's answer to one customer message without side effects (for the agent to review and send)."""

    def __init__(self, orchestrator: Any) -> None:
        from sangdam.orchestrator.responder import Responder

        self.orch = orchestrator
        self.responder = Responder(orchestrator.backend)  # template text only: no model call from the console

    def draft(self, conv_id: str, question: str, state: dict[str, Any]) -> str | None:
        """The checked answer to ``question`` (masked text), or None when it is no question or needs what the
        conversation lacks (identity, an option to pick)."""
        from sangdam.orchestrator.blackboard import Blackboard
        from sangdam.orchestrator.planner import plan
        from sangdam.orchestrator.privacy import Privacy
        from sangdam.orchestrator.state import ConversationState

        route = self.orch.router.route(question)
        intents = [i for i in route.intents if i not in _NOT_QUESTIONS]
        if not intents:
            return None
        fresh = ConversationState.model_validate({**state, "stack": [], "pending": None, "awaiting": None,
                                                  "queue": []})  # a draft opens no dialogue
        ctx = _DraftContext(engine=self.orch.engine, today=self.orch.today, conversation_id=conv_id, state=fresh,
                            text=question, blackboard=Blackboard(), tool_calls=[], mask=Privacy.mask_only)
        messages = self._run(plan(intents, question), ctx)
        if not messages:
            return None
        reply, verdict = self.responder.compose(messages, ctx, [])
        return reply if verdict.passed else None

    def _run(self, steps: list[Any], ctx: _DraftContext) -> list[str]:
        messages: list[str] = []
        for step in steps:
            agent = self.orch.agents[step.agent]
            ctx.allowed = frozenset(agent.tools)
            if not ctx.state.verified_customer_id and agent.needs_identity(step, ctx):
                break  # the "not verified" suggestion asks for identity first
            try:
                outcome = agent.handle(step, ctx)
            except ToolError as err:
                outcome = Outcome(messages=[err.message_ko] if err.message_ko else [])
            if not step.silent:
                messages.extend(outcome.messages)
            if outcome.ask_slot is not None or (outcome.proposal is not None and outcome.proposal.choices):
                break
        return messages


def unanswered(transcript: list[dict[str, Any]], mode: str) -> list[str]:
    """Customer messages nobody has answered, newest first: in mode ``human``, those after the last reply of the
    bot or an agent (the bot stays silent while a person serves)."""
    if mode != "human":
        return []
    out: list[str] = []
    for m in reversed(transcript):
        if m["role"] in ("bot", "agent"):
            break
        if m["role"] == "customer":
            out.append(m["text"])
    return out


def suggest_replies(summary: ConversationSummary, state: dict[str, Any], mode: str, *,
                    answer: str | None = None, waiting: bool = False) -> list[str]:
    """Reply suggestions for the agent, most relevant first: ``answer`` (to the customer's unanswered question),
    then state-based sentences; the closing line only when the customer is not ``waiting`` for an answer."""
    out: list[str] = [answer] if answer else []
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
    if not waiting:
        out.append(text("assist.suggestions.closing"))
    return out


def build_assist(drafter: AnswerDrafter, conv_id: str, summary: ConversationSummary) -> Assist:
    """Everything the console's assist panel shows for ``conv_id``."""
    from sangdam.contact_center.handoff import conversation_row

    row = conversation_row(drafter.orch.engine, conv_id)
    transcript = drafter.orch.store.transcript(conv_id)
    open_questions = unanswered(transcript, row["mode"])
    question, answer = None, None
    for candidate in open_questions:  # newest first; "계세요?" is no question, the one before may be
        answer = drafter.draft(conv_id, candidate, row["state"])
        if answer:
            question = candidate
            break
    customer = [m["text"] for m in transcript if m["role"] == "customer"]
    passages, available = relevant_passages(question or (customer[-1] if customer else ""), drafter.orch.kb_name)
    return Assist(suggestions=suggest_replies(summary, row["state"], row["mode"], answer=answer,
                                              waiting=bool(open_questions)),
                  passages=passages, kb_available=available, question=question)


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
