"""The customer's answer to "휴대폰 번호와 생년월일을 말씀해 주세요" when it is not yet enough to verify.

The privacy stage reads and holds the parts (``Privacy.held``): what was given stays until a verification
succeeds or is refused for good, so a customer who corrects one part is checked with the other part kept.
This module decides what to say when nothing can be verified yet: ask for the part still missing; name the
part of a birth date that is missing ("12월 4일" without a year); and after ``MISSES_BEFORE_EXAMPLE`` answers in
a row in which nothing could be read, say exactly which part is missing, with an example form. A message that
is clearly another request ("상담사 연결해 주세요") is routed instead. After ``MAX_FAILURES`` failed checks the
conversation is closed to verification (``closed``): nothing offered is checked again.
"""

from __future__ import annotations

from typing import Any

from sangdam.domain import policy
from sangdam.korean.normalize import normalize
from sangdam.korean.pii.validators import digits_of
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.format import say
from sangdam.orchestrator.privacy import HeldIdentity
from sangdam.orchestrator.resources import load_resource
from sangdam.orchestrator.state import Awaiting, ConversationState
from sangdam.orchestrator.turn import Turn

# Unreadable answers in a row after which the reply names what is missing and shows an example form.
MISSES_BEFORE_EXAMPLE = 2
# A message routed to a task with at least this confidence is a new request, not an identity answer.
NEW_REQUEST_CONFIDENCE = 0.7
_NOT_TASKS = frozenset({"chitchat", "out_of_scope"})
# Failed checks after which a conversation never verifies again (the tool refuses a further one too).
MAX_FAILURES = policy.IDENTITY_CONVERSATION_MAX_FAILURES


def closed(state: ConversationState) -> bool:
    """Whether identity checks failed too often in this conversation to be tried again: the customer is told so
    (and offered an agent) instead of being asked for their number."""
    return state.verify_attempts >= MAX_FAILURES


def prompt_key(held: HeldIdentity, misses: int) -> str:
    """The template (``identity.*``) that asks for exactly what is still missing."""
    if held.phone and held.birth:  # both given, the check failed, nothing new since: which one is wrong?
        return "identity.need_correction"
    if not held.birth and held.birth_month_day:
        return "identity.need_birth_year"
    if not held.birth and held.birth_year:
        return "identity.need_birth_day"
    if misses >= MISSES_BEFORE_EXAMPLE:
        missing = "birth_date" if held.phone else "phone" if held.birth else "both"
        return f"identity.missing_{missing}"
    return "identity.need_birth_date" if held.phone else "identity.need_phone" if held.birth else "identity.retry"


def talks_about_identity(text: str) -> bool:
    """Whether ``text`` answers or discusses the identity question: a cue of ``dialogue/identity.yaml``
    ("기억이 안 나요", "생일은…", "본인 확인 꼭 해야 돼요?") or a long run of digits, written or spoken."""
    cues = load_resource("dialogue/identity.yaml")
    if any(cue in dialogue.compact(text) for cue in cues["remarks"]):
        return True
    return len(digits_of(normalize(text).text)) >= cues["min_digits"]


def other_request(router: Any, text: str) -> Any | None:
    """The route of ``text`` when it confidently asks for a task and is not about the identity question."""
    if talks_about_identity(text):
        return None
    route = router.route(text)
    tasks = [i for i in route.intents if i not in _NOT_TASKS]
    return route if tasks and route.confidence >= NEW_REQUEST_CONFIDENCE else None


def refuse(turn: Turn, held: HeldIdentity, router: Any, message: str, *, asked: bool) -> bool:
    """Verification cannot happen now (closed in this conversation, or a wait): say ``message``. The identity
    question stays open, so a further identity answer gets the same reply; a clear new request is routed instead
    (False), and the identity gate answers it."""
    if asked and not held.in_last_message and (route := other_request(router, turn.ctx.text)) is not None:
        turn.route = route
        turn.state.awaiting = None
        return False
    turn.state.awaiting = Awaiting(kind="identity")
    turn.messages.append(message)
    return True


def answer_without_attempt(turn: Turn, held: HeldIdentity, router: Any) -> bool:
    """Reply to an identity answer that cannot be verified yet. False: the message is a new request (the
    identity question is dropped and the message is routed; what was given stays held)."""
    state, text = turn.state, turn.ctx.text
    misses = state.awaiting.misses if state.awaiting and state.awaiting.kind == "identity" else 0
    if held.in_last_message:
        misses = 0
    else:
        if (route := other_request(router, text)) is not None:
            turn.route = route
            state.awaiting = None
            return False
        misses += 1
    state.awaiting = Awaiting(kind="identity", misses=misses)
    turn.messages.append(say(prompt_key(held, misses)))
    return True
