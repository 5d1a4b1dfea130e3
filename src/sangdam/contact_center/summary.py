"""After-call work: a structured Korean summary of one conversation, built from its traces and transcript.

Every fact comes from what was stored: the category from the routed intents, actions from the tool calls that
actually ran (status ``ok`` writes), the outcome from the conversation's mode and pending proposal. Nothing is
invented; an LLM, when configured, may only polish wording elsewhere.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, Field

from sangdam.contact_center.texts import text, texts

_CUSTOMER_REQUEST_CHARS = 200
_NEUTRAL_INTENTS = {"chitchat", "out_of_scope", "none", "agent.human"}


class ActionTaken(BaseModel):
    """One change the contact centre made for the customer (an executed write tool)."""

    tool: str
    description: str
    status: Literal["완료", "실패"]
    detail: dict[str, Any] = Field(default_factory=dict)


class ConversationSummary(BaseModel):
    """The public summary contract (``GET /api/v1/conversations/{id}/summary``, ``sangdam summarize``)."""

    conversation_id: str
    category: str
    customer_request: str
    verified: bool
    actions_taken: list[ActionTaken] = Field(default_factory=list)
    outcome: str
    follow_up: str
    sentiment: str


def _category(traces: list[dict[str, Any]]) -> str:
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for i, tr in enumerate(traces):
        for intent in tr.get("intents") or []:
            counts[intent] += 1
            first.setdefault(intent, i)
    names = texts()["summary"]["categories"]
    substantive = [i for i in counts if i not in _NEUTRAL_INTENTS]
    pool = substantive or list(counts)
    if not pool:
        return names["none"]
    best = min(pool, key=lambda i: (-counts[i], first[i]))  # most frequent, then earliest
    return names.get(best, best)


def _actions(traces: list[dict[str, Any]]) -> tuple[list[ActionTaken], list[str]]:
    from sangdam.tools.registry import get_tool

    actions: list[ActionTaken] = []
    errors: list[str] = []
    for tr in traces:
        for call in tr.get("tool_calls") or []:
            try:
                tool = get_tool(call.get("name", ""))
            except Exception:  # noqa: BLE001 - an unknown name in an old trace is shown as is
                tool = None
            if tool is not None and not tool.is_write:
                continue
            status = call.get("status")
            if status not in ("ok", "error"):
                continue  # proposals and declined proposals are not actions
            description = _describe(call.get("name", ""))
            if status == "error":
                errors.append(description)
            actions.append(ActionTaken(
                tool=call.get("name", ""), description=description,
                status=text(f"summary.action_status.{status}"),  # type: ignore[arg-type]
                detail={k: v for k, v in (call.get("args") or {}).items() if k != "summary"},
            ))
    return actions, errors


def _sentiment(customer_texts: list[str]) -> str:
    words = texts()["summary"]["sentiment_words"]
    joined = " ".join(customer_texts)
    neg = sum(joined.count(w) for w in words["negative"])
    pos = sum(joined.count(w) for w in words["positive"])
    key = "negative" if neg > pos else "positive" if pos > neg else "neutral"
    return text(f"summary.sentiment.{key}")


def _ticket_ids(traces: list[dict[str, Any]]) -> list[str]:
    ids = []
    for tr in traces:
        for call in tr.get("tool_calls") or []:
            result = call.get("result") or {}
            if call.get("status") == "ok" and call.get("name") in ("create_ticket", "transfer_to_human"):
                ticket = result.get("ticket_id") or result.get("id")
                if ticket:
                    ids.append(str(ticket))
    return ids


def summarize_conversation(
    conversation_id: str,
    *,
    mode: str,
    verified: bool,
    state: dict[str, Any],
    transcript: list[dict[str, Any]],
    traces: list[dict[str, Any]],
) -> ConversationSummary:
    """Build the summary from stored facts (pure function: easy to test, no database)."""
    customer_texts = [m["text"] for m in transcript if m["role"] == "customer"]
    request = " / ".join(customer_texts[:2])
    if len(request) > _CUSTOMER_REQUEST_CHARS:
        request = request[: _CUSTOMER_REQUEST_CHARS - 1] + "…"
    actions, errors = _actions(traces)
    pending = state.get("pending")
    declined = any(c.get("status") == "declined" for tr in traces for c in tr.get("tool_calls") or [])
    done = [a for a in actions if a.status == "완료"]
    handed_off = mode == "human" or bool(state.get("handed_off"))

    if handed_off:
        outcome = "handed_off"
    elif pending:
        outcome = "awaiting_confirmation"
    elif errors and not done:
        outcome = "failed"
    elif done:
        outcome = "resolved"
    elif declined:
        outcome = "declined"
    elif customer_texts:
        outcome = "answered"
    else:
        outcome = "no_request"

    tickets = _ticket_ids(traces)
    if handed_off:
        follow_up = text("summary.follow_up.handed_off")
    elif pending:
        calls = pending.get("calls") or []
        action = ", ".join(_describe(c.get("tool", "")) for c in calls) or pending.get("intent", "")
        follow_up = text("summary.follow_up.awaiting_confirmation", action=action)
    elif errors:
        follow_up = text("summary.follow_up.failed", errors=", ".join(errors))
    elif tickets:
        follow_up = text("summary.follow_up.ticket", ticket=", ".join(tickets))
    else:
        follow_up = text("summary.follow_up.none")

    return ConversationSummary(
        conversation_id=conversation_id,
        category=_category(traces),
        customer_request=request,
        verified=verified,
        actions_taken=actions,
        outcome=text(f"summary.outcomes.{outcome}"),
        follow_up=follow_up,
        sentiment=_sentiment(customer_texts),
    )


def _describe(tool_name: str) -> str:
    """Short Korean label of a write tool (``summary.action_labels``), else the tool's name."""
    return texts()["summary"]["action_labels"].get(tool_name, tool_name)


def summarize(engine: Any, conversation_id: str) -> ConversationSummary:
    """The after-call summary of a stored conversation (``ConversationNotFound`` when there is none)."""
    from sangdam.orchestrator.store import ConversationStore

    store = ConversationStore(engine)
    conv, state = store.load(conversation_id)
    return summarize_conversation(
        conversation_id,
        mode=conv.mode,
        verified=state.verified_customer_id is not None,
        state=state.model_dump(mode="json"),
        transcript=store.transcript(conversation_id),
        traces=store.traces(conversation_id),
    )
