"""Agents without account data: knowledge (cited document answers), handoff to a human, smalltalk."""

from __future__ import annotations

import re
from typing import Any

from sangdam.agents.base import Agent, AgentContext, Outcome
from sangdam.agents.common import confirm
from sangdam.orchestrator.format import say
from sangdam.orchestrator.state import PendingAction, Step

_GREETING = re.compile(r"(안녕|반갑|하이|hello|hi\b|처음)", re.I)
_WHO = re.compile(r"(누구|사람이야|사람이에요|사람인가|봇이야|로봇|ai\s*야|상담원이야)", re.I)
_THANKS = re.compile(r"(감사|고마|고맙|땡큐|thank)", re.I)
_BYE = re.compile(r"(수고|잘\s*있|끝|종료|bye|나갈게)", re.I)
_ANGRY = re.compile(r"(짜증|화나|열받|답답|최악|뭐하는|장난|미치|ㅡㅡ|개같|빡치)")
_WAIVE = re.compile(r"(면제|감면|깎아|없애\s*줘|없던\s*걸로|0원으로|탕감|waive)", re.I)


class KnowledgeAgent(Agent):
    """Answers policy questions from the operator's documents, always with citations."""

    name = "knowledge"
    intents = ("policy.question",)
    needs_customer = False

    def __init__(self, kb_name: str = "default", llm: Any = None) -> None:
        self.kb_name = kb_name
        self.llm = llm

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        from sangdam.knowledge.answer import answer as kb_answer
        from sangdam.knowledge.store import KnowledgeBaseError

        try:
            answer = kb_answer(step.text or ctx.text, kb=self.kb_name, writer=self._writer())
        except KnowledgeBaseError:  # KB not built on this installation: say so, never guess
            return Outcome(messages=[say("knowledge.not_found")])
        if not answer.citations:
            return Outcome(messages=[say("knowledge.not_found")])
        for c in answer.citations:  # the cited passages ground every number in the answer
            ctx.blackboard.add_fact(c.quote)
        ctx.blackboard.add_fact(answer.answer)
        ctx.blackboard.put("kb_answer", {"answer": answer.answer, "citations": [c.model_dump() for c in answer.citations]})
        sources = [say("knowledge.source", source=c.source, heading=c.heading) for c in answer.citations[:2]]
        return Outcome(messages=[answer.answer, *sources])

    def _writer(self) -> Any:
        """An LLM answer writer when the strong model may phrase Korean for customers; else extractive."""
        from sangdam.orchestrator.responder import capable_writer

        if self.llm is None or not capable_writer(self.llm):
            return None
        from sangdam.knowledge.writer import LlmAnswerWriter

        return LlmAnswerWriter(self.llm)


class HandoffAgent(Agent):
    """Transfers the conversation to a human agent, with the bot's summary."""

    name = "handoff"
    intents = ("agent.human",)
    tools = ("transfer_to_human",)
    needs_customer = False

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        """The customer asked for a person: honoured at once, no confirmation step (the transfer changes nothing
        on the account; it is keyed by the turn, so a retried turn never opens a second ticket)."""
        args = {"summary": handoff_summary(ctx)}
        key = f"{ctx.conversation_id}:handoff:{ctx.state.turn_index}"
        result = ctx.call("transfer_to_human", _idempotency_key=key, **args)
        ctx.state.actions.append({"tool": "transfer_to_human", "args": {}})
        return Outcome(messages=[say("handoff.done", ticket=result.ticket_id)], handoff=True)

    def offer(self, step: Step, ctx: AgentContext) -> Outcome:
        """The bot offers a person (the customer did not ask): a proposal the customer accepts with "네"."""
        args = {"summary": handoff_summary(ctx)}
        ctx.propose("transfer_to_human", **args)
        return confirm(ctx, step, [("transfer_to_human", args)], say("handoff.proposal"))

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        return Outcome(messages=[say("handoff.done", ticket=results[0].ticket_id)], handoff=True)


def handoff_summary(ctx: AgentContext) -> str:
    """What the human agent needs first: the verified customer, recent requests, actions done (masked)."""
    from sangdam.orchestrator.store import ConversationStore

    recent = [m["text"] for m in ConversationStore(ctx.engine).transcript(ctx.conversation_id) if m["role"] == "customer"][-3:]
    parts = [f"verified={'yes' if ctx.customer_id else 'no'}"]
    if recent or ctx.text:
        parts.append("customer: " + " / ".join([*recent, ctx.text])[-600:])
    if ctx.state.actions:
        parts.append("actions: " + ", ".join(a["tool"] for a in ctx.state.actions))
    return " | ".join(parts)


def refused_by_rule(text: str) -> bool:
    """Whether the request is one the operator's rules refuse outright ("요금 면제해 줘"): answered by the rule,
    never handed to a model to negotiate."""
    return bool(_WAIVE.search(text))


class SmalltalkAgent(Agent):
    """Greetings, thanks, calming an upset customer, and polite refusals of what the operator cannot do."""

    name = "smalltalk"
    intents = ("chitchat", "out_of_scope")
    needs_customer = False

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        text = step.text or ctx.text
        if refused_by_rule(text):
            return Outcome(messages=[say("smalltalk.refuse_waive")])
        if step.intent == "out_of_scope":
            return Outcome(messages=[say("smalltalk.out_of_scope")])
        for pattern, key in ((_ANGRY, "calm"), (_WHO, "who"), (_THANKS, "thanks"), (_BYE, "bye"), (_GREETING, "greeting")):
            if pattern.search(text):
                return Outcome(messages=[say(f"smalltalk.{key}")])
        return Outcome(messages=[say("smalltalk.default")])
