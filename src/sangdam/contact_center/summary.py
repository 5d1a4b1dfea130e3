"""After-call work: a structured Korean summary of one conversation, built from its traces and transcript.

Every fact comes from what was stored: actions from the tool calls that actually ran (status ``ok`` writes); the
category from what was done (a completed write names it), else the most frequent routed intent, and a fault or
resume request whose trace shows a line suspended for non-payment is filed as non-payment; the outcome from the
mode, the pending proposal, the question left unanswered, a change refused by a rule, a change asked for but never
made, a reply that could not answer. Nothing is invented; an LLM, when configured, may only polish wording elsewhere.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field

from sangdam.contact_center.texts import text, texts

_CUSTOMER_REQUEST_CHARS = 200
_NEUTRAL_INTENTS = {"chitchat", "out_of_scope", "none", "agent.human"}
# a write tool → the intent it carries out: a conversation that did it is about that
_WRITE_INTENTS = {
    "pay_bill": "billing.payment", "suspend_line": "line.suspend", "resume_line": "line.resume",
    "change_plan": "plan.change", "refill_data": "data.refill", "enable_roaming": "roaming.enable",
    "disable_roaming": "roaming.disable", "request_cancellation": "contract.cancel",
}
# intents that ask for a change: without a write (or a decline, or a refusal) the request was not carried out
_CHANGE_INTENTS = frozenset(_WRITE_INTENTS.values())
# symptoms whose cause may turn out to be an unpaid bill
_NONPAYMENT_SYMPTOMS = {"tech.troubleshoot", "line.resume"}
# replies that say the bot could not answer (templates/ko.yaml keys)
_NO_ANSWER_TEMPLATES = ("knowledge.not_found", "fallback.nothing", "fallback.safe")
# replies to a change request that say it was already so: nothing was left to do
_NOTHING_TO_DO_TEMPLATES = ("line.already_active", "line.already_suspended", "roaming.already_off",
                            "billing.nothing_to_pay")


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


def _calls(traces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for tr in traces for call in tr.get("tool_calls") or []]


def _category(traces: list[dict[str, Any]]) -> str:
    """What the conversation was about: the last completed change, else the most frequent substantive intent;
    a fault or resume request whose trace shows the line suspended for non-payment is a non-payment case."""
    names = texts()["summary"]["categories"]
    done = [_WRITE_INTENTS[c["name"]] for c in _calls(traces) if c.get("status") == "ok" and c.get("name") in _WRITE_INTENTS]
    best = done[-1] if done else _most_frequent_intent(traces)
    if best is None:
        return names["none"]
    if best in _NONPAYMENT_SYMPTOMS and _nonpayment_shown(traces):
        best = "billing.overdue"
    return names.get(best, best)


def _most_frequent_intent(traces: list[dict[str, Any]]) -> str | None:
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for i, tr in enumerate(traces):
        for intent in tr.get("intents") or []:
            counts[intent] += 1
            first.setdefault(intent, i)
    substantive = [i for i in counts if i not in _NEUTRAL_INTENTS]
    pool = substantive or list(counts)
    return min(pool, key=lambda i: (-counts[i], first[i])) if pool else None  # most frequent, then earliest


def _nonpayment_shown(traces: list[dict[str, Any]]) -> bool:
    """The diagnostics found the line suspended for non-payment, or a change was refused for an overdue bill."""
    for call in _calls(traces):
        if call.get("error_code") == "overdue_bill":
            return True
        result = call.get("result") or {}
        if call.get("name") == "check_line_diagnostics" and result.get("suspend_reason") == "nonpayment":
            return True
    return False


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
    outcome, follow_up = _outcome(mode, state, traces, actions, errors, bool(customer_texts))

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


def outcome_key(mode: str, state: dict[str, Any], transcript: list[dict[str, Any]], traces: list[dict[str, Any]]) -> str:
    """What became of the customer's requests, as a key of ``summary.outcomes`` (``resolved``, ``answered``,
    ``handed_off``, ``declined``, ``refused``, ``failed``, ``unresolved``, ``awaiting_*``, ``no_request``): the
    summary's reading of the trace, for the QA scorecard's resolution item."""
    actions, errors = _actions(traces)
    asked = any(m.get("role") == "customer" for m in transcript)
    return _outcome(mode, state, traces, actions, errors, asked)[0]


def _outcome(mode: str, state: dict[str, Any], traces: list[dict[str, Any]], actions: list[ActionTaken],
             errors: list[str], asked: bool) -> tuple[str, str]:
    """(outcome key, follow-up text): what became of the customer's requests, as the trace shows it."""
    done = [a for a in actions if a.status == "완료"]
    declined = any(c.get("status") == "declined" for c in _calls(traces))
    tickets = _ticket_ids(traces)
    if mode == "human" or state.get("handed_off"):
        return "handed_off", text("summary.follow_up.handed_off")
    if state.get("pending"):
        pending = state["pending"]
        action = ", ".join(_describe(c.get("tool", "")) for c in pending.get("calls") or []) or _intent_label(pending.get("intent", ""))
        return "awaiting_confirmation", text("summary.follow_up.awaiting_confirmation", action=action)
    if errors:
        return ("resolved" if done else "failed"), text("summary.follow_up.failed", errors=", ".join(errors))
    if done:
        return "resolved", _ticket_follow_up(tickets)
    if declined:
        return "declined", _ticket_follow_up(tickets)
    question = _open_question(state)
    if question is not None:
        label, intent = question
        request = _intent_label(intent or _most_frequent_intent(traces) or "none")
        return "awaiting_customer", text("summary.follow_up.awaiting_customer", question=label, request=request)
    refused = [c for c in _calls(traces) if c.get("status") == "proposed" and c.get("error_code")]
    if refused:
        reasons = texts()["summary"]["refusal_reasons"]
        last = refused[-1]
        return "refused", text("summary.follow_up.refused", action=_describe(last.get("name", "")),
                               reason=reasons.get(last.get("error_code"), last.get("error_code")))
    unmet = _unmet_request(traces)
    if unmet is not None:
        return "unresolved", text("summary.follow_up.unresolved", request=_intent_label(unmet))
    if asked:
        return "answered", _ticket_follow_up(tickets)
    return "no_request", text("summary.follow_up.none")


def _ticket_follow_up(tickets: list[str]) -> str:
    if tickets:
        return text("summary.follow_up.ticket", ticket=", ".join(tickets))
    return text("summary.follow_up.none")


def _intent_label(intent: str) -> str:
    return texts()["summary"]["categories"].get(intent, intent)


def _open_question(state: dict[str, Any]) -> tuple[str, str | None] | None:
    """(what the bot asked, the intent waiting on it) when its last question is still unanswered."""
    labels = texts()["summary"]["questions"]
    awaiting = state.get("awaiting")
    if awaiting:
        key = awaiting.get("slot") if awaiting.get("kind") == "slot" else awaiting.get("kind")
        step = awaiting.get("step") or (state.get("queue") or [{}])[0]
        return labels.get(key, labels["_default"]), (step or {}).get("intent")  # a device step: slot troubleshoot
    return None


def _unmet_request(traces: list[dict[str, Any]]) -> str | None:
    """A change asked for with no write of it run, declined or proposed; else a last request the bot could not
    answer (its reply says so); None when every request was met."""
    met = {_WRITE_INTENTS[c["name"]] for c in _calls(traces)
           if c.get("status") in ("ok", "error", "declined") and c.get("name") in _WRITE_INTENTS}
    for tr in traces:
        changes = [i for i in _turn_intents(tr) if i in _CHANGE_INTENTS and i not in met]
        if changes and not _says(tr.get("reply") or "", _NOTHING_TO_DO_TEMPLATES):
            return changes[0]
    substantive = [tr for tr in traces if set(_turn_intents(tr)) - _NEUTRAL_INTENTS]
    if substantive and _says(substantive[-1].get("reply") or "", _NO_ANSWER_TEMPLATES):
        return next(i for i in _turn_intents(substantive[-1]) if i not in _NEUTRAL_INTENTS)
    return None


def _says(reply: str, template_keys: tuple[str, ...]) -> bool:
    """Whether ``reply`` contains the text of one of the reply templates (any values in its placeholders)."""
    return any(_template_pattern(key).search(reply) for key in template_keys)


@lru_cache(maxsize=32)
def _template_pattern(key: str) -> re.Pattern[str]:
    from sangdam.orchestrator.format import templates

    node: Any = templates()
    for part in key.split("."):
        node = node[part]
    pieces = re.split(r"\{\w+\}", str(node).strip())
    return re.compile(".+?".join(re.escape(p) for p in pieces))


def _turn_intents(trace: dict[str, Any]) -> list[str]:
    """The intents a turn worked on: routed, and those of the steps it ran (a slot answer runs a queued step)."""
    steps = [s.get("intent") for s in trace.get("plan") or [] if not s.get("silent")]
    return list(dict.fromkeys([*(trace.get("intents") or []), *[i for i in steps if i]]))


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
