"""Grading of one turn against its ``expect`` block; failures say which turn and what differed."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sangdam.evaluation.scenario import TurnExpect

# Tool-call statuses that mean the tool actually ran (successfully or refused by a business rule).
EXECUTED_STATUSES = frozenset({"ok", "error"})


def _normalise(text: str) -> str:
    """NFC, case-folded, without whitespace: Korean spacing varies ("로밍 켜기"/"로밍켜기") and is not a fact."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", text)).casefold()


def matches(reply: str, item: str) -> bool:
    """Whether ``reply`` contains one of the ``|``-separated alternatives of ``item``."""
    text = _normalise(reply)
    return any(_normalise(alt) in text for alt in item.split("|") if alt.strip())


def matching_alternative(reply: str, item: str) -> str | None:
    """The first alternative of ``item`` found in ``reply`` (for "must not contain" messages)."""
    text = _normalise(reply)
    for alt in item.split("|"):
        if alt.strip() and _normalise(alt) in text:
            return alt
    return None


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def tool_calls_of(result: Any) -> list[tuple[str, str, str | None]]:
    """(name, status, error_code) of each tool call of a turn result."""
    return [(_get(c, "name"), _get(c, "status"), _get(c, "error_code")) for c in _get(result, "tool_calls", []) or []]


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_turn(index: int, user: str, expect: TurnExpect, result: Any) -> list[str]:
    """Failures of one turn (empty when it meets every expectation).

    Each failure starts with ``turn N ("user text")`` so a report reader finds the turn at once.
    """
    where = f"turn {index + 1} ({_short(user, 60)!r})"
    reply: str = _get(result, "reply", "") or ""
    intents: list[str] = list(_get(result, "intents", []) or [])
    calls = tool_calls_of(result)
    executed = [n for n, s, _ in calls if s in EXECUTED_STATUSES]
    proposed = [n for n, s, _ in calls if s == "proposed"]
    failed = [n for n, s, _ in calls if s == "error"]
    calls_text = ", ".join(f"{n}:{s}" + (f"({c})" if c else "") for n, s, c in calls) or "none"
    failures: list[str] = []

    if expect.intents is not None and intents != expect.intents:
        failures.append(f"{where}: intents: expected {expect.intents}, got {intents}")
    for item in expect.tools_called:
        if not any(alt in executed for alt in item.split("|")):
            failures.append(f"{where}: tools_called: expected {item} to run; tool calls: {calls_text}")
    for item in expect.tools_not_called:
        ran = [alt for alt in item.split("|") if alt in executed]
        if ran:
            failures.append(f"{where}: tools_not_called: {ran[0]} ran; tool calls: {calls_text}")
    for item in expect.tools_proposed:
        if not any(alt in proposed for alt in item.split("|")):
            failures.append(f"{where}: tools_proposed: expected {item} to be proposed; tool calls: {calls_text}")
    for item in expect.tools_failed:
        if not any(alt in failed for alt in item.split("|")):
            failures.append(f"{where}: tools_failed: expected {item} to be refused (error); tool calls: {calls_text}")
    for item in expect.reply_contains:
        if not matches(reply, item):
            failures.append(f"{where}: reply_contains: expected {item!r} in reply {_short(reply)!r}")
    for item in expect.reply_not_contains:
        hit = matching_alternative(reply, item)
        if hit is not None:
            failures.append(f"{where}: reply_not_contains: found {hit!r} in reply {_short(reply)!r}")
    if expect.pending_action is not None:
        pending = _get(result, "pending_action") is not None
        if pending != expect.pending_action:
            failures.append(f"{where}: pending_action: expected {expect.pending_action}, got {pending}")
    if expect.handed_off is not None:
        handed_off = bool(_get(result, "handed_off", False))
        if handed_off != expect.handed_off:
            failures.append(f"{where}: handed_off: expected {expect.handed_off}, got {handed_off}")
    if expect.verified is not None:
        verified = _get(result, "verified_customer_id") is not None
        if verified != expect.verified:
            failures.append(
                f"{where}: verified: expected {expect.verified}, got {verified} "
                f"(verified_customer_id={_get(result, 'verified_customer_id')!r})"
            )
    return failures
