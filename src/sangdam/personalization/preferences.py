"""Preferences the customer states ("문자로 안내해 주세요"), remembered in Sangdam's store across conversations and
merged over the operator's profile when ``get_customer`` reads it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Engine

from sangdam.domain.db import session_scope
from sangdam.domain.models import AuditLog, CustomerPreference

_CHANNEL_WORDS = (
    ("sms", r"(문자|sms|메시지)"),
    ("email", r"(이메일|메일|e-?mail)"),
    ("call", r"(전화|통화)"),
    ("app", r"(앱|어플)\s*(알림)?"),
)
# "문자로 안내해 주세요" (channel, then the verb) or "안내는 문자로 해주세요" (the notice, then the channel).
_CHANNELS = tuple(
    (channel, re.compile(rf"{word}\s*(로|으로)\s*(안내|연락|알려|보내|받|주세요)"
                         rf"|(안내|연락|알림)\s*(은|는|도|을|를)?\s*{word}\s*(로|으로)(?=\s*(해|받|주|부탁))", re.I))
    for channel, word in _CHANNEL_WORDS
)


def detect_preferences(text: str) -> dict[str, Any]:
    """Preferences stated in ``text`` (currently: the contact channel for notices)."""
    for channel, pattern in _CHANNELS:
        if pattern.search(text):
            return {"contact_channel": channel}
    return {}


# What may surround a stated preference without being a request of its own ("앞으로는 문자로 안내해 주세요").
_PREFERENCE_FRAME = re.compile(r"(앞으로(는|도)?|이제(부터)?|다음부터(는)?|모든|안내(는|도)?|연락(은|도)?|알림(은|도)?|저는|제게|저한테"
                               r"|해\s*주세요|해\s*줘요?|해요|주세요|줘요?|주시겠어요|주실래요|받을게요|받고\s*싶어요|원해요|부탁(해요|드려요|드립니다)?"
                               r"|을게요|을래요|고\s*싶어요|아\s*볼게요|요|[\s.,!~?])")


def states_only_preferences(text: str) -> bool:
    """Whether ``text`` only states a preference ("앞으로 이메일로 안내해 주세요"), with no request beside it."""
    for _, pattern in _CHANNELS:
        m = pattern.search(text)
        if m:
            rest = text[: m.start()] + text[m.end():]
            return not _PREFERENCE_FRAME.sub("", rest)
    return False


def save_preferences(engine: Engine, customer_id: str, prefs: dict[str, Any], *, now: dt.datetime,
                     backend: Any = None) -> dict[str, Any]:
    """Merge ``prefs`` into what Sangdam remembers of the customer (its own store, audited); returns the new
    preferences. ``LookupError`` when the operator's systems (``backend``, default: the configured one) do not
    know the customer."""
    if backend is None:
        from sangdam.backends import backend_for

        backend = backend_for(engine)
    if customer_id not in backend.customer_names({customer_id}):
        raise LookupError(customer_id)
    with session_scope(engine) as s:
        row = s.get(CustomerPreference, customer_id)
        if row is None:
            row = CustomerPreference(customer_id=customer_id, preferences={}, updated_at=now)
            s.add(row)
        merged = {**(row.preferences or {}), **prefs}
        row.preferences, row.updated_at = merged, now
        s.add(AuditLog(who="bot", tool="remember_preference", args={"customer_id": customer_id, **prefs},
                       result={"ok": True}, at=now))
    return merged


def stored_preferences(engine: Engine, customer_id: str) -> dict[str, Any]:
    """What the customer told Sangdam (empty when nothing)."""
    with session_scope(engine) as s:
        row = s.get(CustomerPreference, customer_id)
        return dict(row.preferences or {}) if row is not None else {}
