"""The deterministic checks of the QA scorecard (docs/qa.md): each reads a stored conversation's traces and
returns pass, fail or not applicable, with the evidence (turn index, trace id, a short English note).

A check is named by the rubric's ``kind``; ``CHECKS`` maps the names to functions. Every check decides from
what the trace recorded (tool calls in the order they ran, the verifier's verdict, the reply), never from a
model. Tool calls are PII-masked in traces, which is all a check needs: names, statuses and error codes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel


class QaEvidence(BaseModel):
    """Where a verdict comes from: the turn (``turn_index`` of the trace), the trace id and why."""

    turn: int | None = None
    trace_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Verdict:
    """One item's result: ``passed`` True/False, or None when the item does not apply to this conversation."""

    passed: bool | None
    evidence: QaEvidence


@dataclass
class QaFacts:
    """What the checks read: the conversation's mode and state JSON, and its traces in turn order (each the
    stored trace data plus ``id`` and ``turn_index``, as ``ConversationStore.traces`` returns them)."""

    conversation_id: str
    mode: str
    state: dict[str, Any]
    traces: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)

    _tools: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def authenticated(self) -> bool:
        """Verified by the channel before the first turn (a logged-in web session, a trusted channel key)."""
        return bool(self.state.get("authenticated"))

    def tool(self, name: str) -> Any | None:
        """The registered tool called ``name`` (looked up once per conversation: the registry checks imported
        tools' sources on every lookup); None for a name an old trace holds that is no longer registered."""
        if name not in self._tools:
            self._tools[name] = _tool(name)
        return self._tools[name]


Check = Callable[[QaFacts, dict[str, Any]], Verdict]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn

    return register


def _at(trace: dict[str, Any] | None, passed: bool | None, note: str) -> Verdict:
    if trace is None:
        return Verdict(passed, QaEvidence(note=note))
    return Verdict(passed, QaEvidence(turn=trace.get("turn_index"), trace_id=trace.get("id"), note=note))


def _calls(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return list(trace.get("tool_calls") or [])


def _tool(name: str) -> Any | None:
    """The registered tool called ``name``; None for a name an old trace holds that is no longer registered."""
    from sangdam.tools.registry import get_tool

    try:
        return get_tool(name)
    except Exception:  # noqa: BLE001 - unknown or unavailable tools are judged by name only
        return None


# -- identity -------------------------------------------------------------------------------------------------
@check("identity_before_disclosure")
def identity_before_disclosure(facts: QaFacts, params: dict[str, Any]) -> Verdict:
    """No tool that needs the customer returned a result before the customer was verified: authenticated by the
    channel from the start, or a ``verify_identity`` call that answered ``verified``. Calls run in trace order."""
    verified = facts.authenticated
    first = None
    for trace in facts.traces:
        for call in _calls(trace):
            name, status = call.get("name", ""), call.get("status")
            if name == "verify_identity":
                verified = verified or (status == "ok" and bool((call.get("result") or {}).get("verified")))
                continue
            tool = facts.tool(name)
            if status != "ok" or tool is None or not tool.needs_customer:
                continue
            if not verified:
                return _at(trace, False, f"{name} returned customer data before the customer was verified")
            first = first or trace
    if first is None:
        return _at(None, None, "no customer-data tool ran")
    how = "authenticated by the channel" if facts.authenticated else "verified in the conversation"
    return _at(first, True, f"customer data first read after the customer was {how}")


# -- confirmation ---------------------------------------------------------------------------------------------
def _pending_tools(pending: dict[str, Any] | None) -> set[str]:
    """Every write a pending proposal offers: its planned calls and those of the proposals chained after it."""
    if not isinstance(pending, dict):
        return set()
    found = {c.get("tool", "") for c in pending.get("calls") or []}
    for part in pending.get("then") or []:
        found |= _pending_tools(part)
    return found


def _picked_tools(stack: Any) -> set[str]:
    """The write a list of priced options leads to, when the last reply asked the customer to pick one (the top
    frame of the dialogue stack waits for a pick: its intent names the write, ``roaming.enable`` →
    ``enable_roaming``). A yes that comes with the pick ("네, 아시아 5일짜리로 해주세요") agrees to it at once."""
    from sangdam.contact_center.summary import _WRITE_INTENTS

    if not isinstance(stack, list) or not stack or not isinstance(stack[-1], dict) or not stack[-1].get("picks"):
        return set()
    return {tool for tool, intent in _WRITE_INTENTS.items() if intent == stack[-1]["picks"]}


@check("confirmation_before_write")
def confirmation_before_write(facts: QaFacts, params: dict[str, Any]) -> Verdict:
    """Every write that ran (status ``ok``) was proposed in an earlier turn (a dry run, status ``proposed``
    without a refusal, or a priced option the customer was asked to pick from), was still waiting for the customer's answer
    when the turn began (the previous trace's ``pending`` names it), and that answer was not a no. A transfer to
    a person in the turn the customer asked for one (intent ``agent.human``) needs no confirmation."""
    from sangdam.orchestrator import dialogue

    proposed: set[str] = set()
    waiting: set[str] = set()  # tools of the proposal pending at the end of the previous turn
    first = None
    for trace in facts.traces:
        for call in _calls(trace):
            name, status = call.get("name", ""), call.get("status")
            tool = facts.tool(name)
            if status != "ok" or tool is None or not tool.is_write:
                continue
            if name == "transfer_to_human" and "agent.human" in (trace.get("intents") or []):
                first = first or trace  # the customer asked for a person: honoured at once, nothing to confirm
                continue
            if name not in proposed | waiting:
                return _at(trace, False, f"{name} ran without an earlier proposal")
            if name not in waiting:
                return _at(trace, False, f"{name} ran but no proposal of it was waiting for the customer")
            if dialogue.is_negative(trace.get("user") or ""):
                return _at(trace, False, f"{name} ran although the customer said no")
            first = first or trace
        proposed |= {c.get("name", "") for c in _calls(trace) if c.get("status") == "proposed" and not c.get("error_code")}
        waiting = _pending_tools(trace.get("pending")) | _picked_tools(trace.get("stack"))
    if first is None:
        return _at(None, None, "no write ran")
    return _at(first, True, "every write was proposed first and ran on the customer's yes")


# -- refusals -------------------------------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\{\w+\}|\([^)]*\)")  # values, and particle choices such as "(으)로"


@lru_cache(maxsize=256)
def _fragments(template: str) -> tuple[str, ...]:
    """The literal pieces of a template (at least 2 characters), in order."""
    return tuple(p.strip() for p in _PLACEHOLDER.split(template) if len(p.strip()) >= 2)


def says_template(reply: str, template: str) -> bool:
    """Whether ``reply`` contains ``template`` rendered with any values: its literal pieces, in order."""
    pos = 0
    for piece in _fragments(template):
        found = reply.find(piece, pos)
        if found < 0:
            return False
        pos = found + len(piece)
    return bool(_fragments(template))


def says_reason(reply: str, template: str) -> bool:
    """Whether ``reply`` says the first sentence of ``template`` (the reason; agents may drop the advice after it)."""
    first = re.split(r"(?<=[.?!])\s", template.strip(), maxsplit=1)[0]
    return says_template(reply, first)


def _error_templates(code: str) -> list[str]:
    """The Korean customer messages that explain error ``code``: the tool layer's, and the orchestrator's
    template of the same name (``errors.<code>``), when there is one."""
    from sangdam.orchestrator.format import templates
    from sangdam.tools.messages import catalog

    found = [catalog().get("errors", {}).get(code), templates().get("errors", {}).get(code)]
    return [t for t in found if isinstance(t, str)]


@check("refusal_explained")
def refusal_explained(facts: QaFacts, params: dict[str, Any]) -> Verdict:
    """A tool call that failed (status ``error``) or whose dry run was refused by a rule (``proposed`` with an
    error code) is followed, in the same turn's reply, by the tool's Korean message for that code. The rubric's
    ``also_explains`` maps a code to further reply templates (``section.key``) that explain it as well."""
    from sangdam.orchestrator.format import templates

    extra: dict[str, list[str]] = params.get("also_explains") or {
        "verification_closed": ["identity.closed"], "too_many_attempts": ["identity.closed"]}
    first = None
    for trace in facts.traces:
        reply = trace.get("reply") or ""
        for call in _calls(trace):
            code = call.get("error_code")
            if not code or call.get("status") not in ("error", "proposed"):
                continue
            candidates = _error_templates(code) + [_template(templates(), key) for key in extra.get(code, [])]
            if not any(says_reason(reply, t) for t in candidates if t):
                return _at(trace, False, f"{call.get('name')} refused ({code}) but the reply does not say why")
            first = first or trace
    if first is None:
        return _at(None, None, "no tool call was refused or failed")
    return _at(first, True, "every refusal was explained with the tool's Korean message")


def _template(tree: dict[str, Any], key: str) -> str:
    node: Any = tree
    for part in key.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, str) else ""


# -- grounding ------------------------------------------------------------------------------------------------
@check("grounded_facts")
def grounded_facts(facts: QaFacts, params: dict[str, Any]) -> Verdict:
    """The verifier passed every checked reply: no unsupported number, no claim of an action that did not run,
    no other customer's data."""
    checked = [t for t in facts.traces if isinstance(t.get("verifier"), dict)]
    for trace in checked:
        verdict = trace["verifier"]
        if not verdict.get("passed"):
            problems = [*verdict.get("unsupported", []), *verdict.get("unexecuted_claims", []),
                        *(["foreign PII"] if verdict.get("foreign_pii") else [])]
            return _at(trace, False, "verifier failed: " + (", ".join(map(str, problems))[:160] or "no reason"))
    if not checked:
        return _at(None, None, "no reply was verified")
    return _at(checked[-1], True, f"verifier passed all {len(checked)} replies")


# -- handoff --------------------------------------------------------------------------------------------------
_UNANSWERED = ("knowledge.not_found", "fallback.nothing", "fallback.safe", "smalltalk.out_of_scope",
               "confirm.unclear")


def _transfers(trace: dict[str, Any]) -> bool:
    return any(c.get("name") == "transfer_to_human" and c.get("status") in ("ok", "proposed") and not c.get("error_code")
               for c in _calls(trace))


def failed_turn(trace: dict[str, Any], unanswered: tuple[str, ...] = _UNANSWERED) -> bool:
    """A turn in which the bot did not help: the verifier failed, a tool failed, the request was out of scope,
    or the reply is one of the could-not-answer templates."""
    from sangdam.orchestrator.format import templates

    reply = trace.get("reply") or ""
    intents = set(trace.get("intents") or [])
    verdict = trace.get("verifier")
    return bool(
        (isinstance(verdict, dict) and not verdict.get("passed"))
        or any(c.get("status") == "error" for c in _calls(trace))
        or (intents and intents <= {"out_of_scope"})
        or any(says_template(reply, _template(templates(), key)) for key in unanswered)
    )


@check("handoff_when_needed")
def handoff_when_needed(facts: QaFacts, params: dict[str, Any]) -> Verdict:
    """An explicit request for a person (intent ``agent.human``) is followed by a transfer (proposed or done) in
    that turn or the next; and within ``stuck_turns`` failed turns in a row, by the reply to the last of them,
    the bot offered an agent (a reply with one of ``offer_cues``, or a transfer)."""
    stuck_turns = int(params.get("stuck_turns", 3))
    cues = list(params.get("offer_cues") or ["상담사"])
    unanswered = tuple(params.get("unanswered_templates") or _UNANSWERED)
    traces = facts.traces
    evidence = None
    for i, trace in enumerate(traces):
        if "agent.human" in (trace.get("intents") or []):
            if not any(_transfers(t) for t in traces[i:i + 2]) and facts.mode != "human":
                return _at(trace, False, "the customer asked for a person and no transfer followed")
            evidence = evidence or _at(trace, True, "the customer asked for a person and a transfer followed")
    run: list[dict[str, Any]] = []
    for trace in traces:
        run = [*run, trace] if failed_turn(trace, unanswered) else []
        if len(run) == stuck_turns:
            offered = any(_transfers(t) or any(c in (t.get("reply") or "") for c in cues) for t in run)
            if not offered:
                return _at(trace, False, f"{stuck_turns} failed turns in a row and no agent was offered")
            evidence = evidence or _at(trace, True, f"{stuck_turns} failed turns in a row; an agent was offered")
    return evidence or _at(None, None, "no request for a person and never stuck")


# -- resolution -----------------------------------------------------------------------------------------------
_RESOLVED = frozenset({"resolved", "answered", "handed_off", "declined", "refused"})
_UNRESOLVED = frozenset({"failed", "unresolved", "awaiting_confirmation", "awaiting_customer"})


@check("resolution")
def resolution(facts: QaFacts, params: dict[str, Any]) -> Verdict:
    """The after-call summary's outcome (summary.py, the same reading of the trace): served, declined, refused
    with a reason or handed off passes; failed, unmet or left waiting fails; no request is not applicable."""
    from sangdam.contact_center.summary import outcome_key

    outcome = outcome_key(facts.mode, facts.state, facts.transcript, facts.traces)
    last = facts.traces[-1] if facts.traces else None
    passed = True if outcome in _RESOLVED else False if outcome in _UNRESOLVED else None
    return _at(last, passed, f"outcome: {outcome}")


# -- politeness -----------------------------------------------------------------------------------------------
# A finished sentence (ending in . ? !) whose last word ends in a plain or casual ending: -다 (not -니다), -어/-아,
# -야, -지 (not -죠), -냐, -니 (a question), -해, -게, -래, -걸, -군, -거든, -잖아, and the contracted -돼/-봐/-줘/-워/-써. Polite endings (-요, -니다,
# -니까, -시오, -죠) never match. Fragments without terminal punctuation (list lines, headings, citations) are
# not judged: nouns end them, not verbs.
_SENTENCE = re.compile(r"[^.?!\n]*[.?!]+")
_CASUAL = re.compile(r"(?:(?<!니)다|어|아|야|지|냐|(?<![습읍])니|해|게|래|걸|군|거든|잖아|돼|봐|줘|워|써)$")
_POLITE = re.compile(r"(?:요|니다|니까|시오|죠)$")


def casual_sentence(reply: str) -> str | None:
    """The first finished sentence of ``reply`` that ends in a casual (반말) or plain form, else None."""
    for match in _SENTENCE.finditer(reply):
        sentence = match.group(0).strip()
        words = re.sub(r"[.?!~\"'”’)\]\s]+$", "", sentence).split()
        if not words or not re.search(r"[가-힣]$", words[-1]):
            continue
        if not _POLITE.search(words[-1]) and _CASUAL.search(words[-1]):
            return sentence
    return None


@check("polite_register")
def polite_register(facts: QaFacts, params: dict[str, Any]) -> Verdict:
    """Every bot reply keeps the 존댓말 register (``casual_sentence`` finds no plain or casual ending)."""
    replied = [t for t in facts.traces if (t.get("reply") or "").strip()]
    for trace in replied:
        casual = casual_sentence(trace["reply"])
        if casual is not None:
            return _at(trace, False, f"casual ending: '…{casual[-24:]}'")
    if not replied:
        return _at(None, None, "the bot never replied")
    return _at(replied[-1], True, f"all {len(replied)} replies polite")


# -- latency --------------------------------------------------------------------------------------------------
@check("response_latency")
def response_latency(facts: QaFacts, params: dict[str, Any]) -> Verdict:
    """The 95th percentile (nearest rank) of the turns' total latency is at most ``p95_ms``."""
    limit = float(params.get("p95_ms", 3000))
    timed = [t for t in facts.traces if isinstance((t.get("latency_ms") or {}).get("total"), (int, float))]
    if not timed:
        return _at(None, None, "no timed turn")
    totals = sorted(float(t["latency_ms"]["total"]) for t in timed)
    p95 = totals[max(0, math.ceil(0.95 * len(totals)) - 1)]
    slowest = max(timed, key=lambda t: float(t["latency_ms"]["total"]))
    return _at(slowest, p95 <= limit, f"p95 {p95:.0f} ms over {len(totals)} turns (limit {limit:.0f} ms)")
