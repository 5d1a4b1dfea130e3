"""Answering a ``CannotHandle`` clause: say plainly that this part cannot be done here, and how to reach a person.

The reply names what the customer asked for in their own words — the nouns of the clause ("포인트 조회도 해줘"
→ "포인트 조회") — so the customer sees that the part was read, not dropped.
"""

from __future__ import annotations

from sangdam.korean.particles import attach
from sangdam.orchestrator.format import say

_NOUNS = ("NNG", "NNP", "SL", "SN", "SH")
MAX_TOPIC_CHARS = 24


def topic_of(clause: str) -> str | None:
    """The clause's nouns, in order (consecutive nouns joined as written), or None when it has none."""
    from sangdam.korean.analyzer import get_kiwi
    from sangdam.orchestrator.dialogue import lexicon

    stop = set(lexicon()["topic_stopwords"])
    words: list[str] = []
    last_end = -1
    for tok in get_kiwi().tokenize(clause):
        if tok.tag not in _NOUNS or tok.form in stop or "⟪" in tok.form or "[" in tok.form:
            continue
        piece = clause[tok.start: tok.start + tok.len]
        if words and tok.start == last_end:  # "멤버십포인트" stays one word
            words[-1] += piece
        else:
            words.append(piece)
        last_end = tok.start + tok.len
    topic = " ".join(words).strip()
    if not topic or len(topic) > MAX_TOPIC_CHARS:
        return None
    return topic


def cannot_handle_message(clause: str) -> str:
    """The Korean sentence that answers an unservable clause (with the way to a human agent)."""
    topic = topic_of(clause)
    if topic is None:
        return say("understanding.cannot_handle_other")
    return say("understanding.cannot_handle", topic=attach(topic, "은"))
