"""Ellipsis: short messages that lean on the task of the previous turn.

- "4444는요?", "LTE 플러스는요?" — the same question about another line or item (``same_about``);
- "4444도 똑같이 해 주세요" — the same action again for another target, with the previous values (``same_again``);
- "한 번 더 똑같이 해 줘" — the same action, values and target (``repeat``);
- "4444 말고 3333이요" — the same question, about what the customer meant instead;
- "그걸로 해 주세요", "두 번째 걸로 신청", "제일 싼 걸로" right after a list or a recommendation — the action the
  list was shown for (``take_up`` in ``resources/dialogue/lexicon.yaml``: a recommendation → plan.change, a pass
  list → roaming.enable); the pointer is resolved against what was shown (``last_recommended``; ``last_passes``,
  kept by the roaming procedures' functions, ``procedures/functions/roaming.py``).

Only the task of the turn just before counts, and only when the message itself names no confident task of its
own. What this produces is a ``StartTask`` like any other: writes are still previewed and need their own yes.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from sangdam.orchestrator.dialogue import after_correction, compact, lexicon
from sangdam.understanding.commands import ACTION_INTENTS, StartTask

# Slots a repeat carries over from the previous task (the target, a line, is what the new message changes).
CARRIED_SLOTS = ("gb", "plan_id", "pass_id", "effective", "reason", "period")


@lru_cache(maxsize=1)
def _patterns() -> dict[str, list[re.Pattern[str]]]:
    cues = lexicon()["ellipsis"]
    return {k: [re.compile(p) for p in cues[k]] for k in ("same_about", "same_again", "repeat")}


def _points(text: str) -> bool:
    c = compact(text)
    return any(compact(p) in c for p in lexicon()["ellipsis"]["pointers"])


def resolve(text: str, last: dict[str, Any] | None, understood: Any, threshold: float) -> list[Any] | None:
    """Commands for an elliptical ``text`` given the previous turn's task (``{"intent", "slots"}``), or None
    when the message stands on its own."""
    if not last or len(text) > 40:
        return None
    intent, slots = last["intent"], dict(last.get("slots") or {})
    tasks = [c for c in understood.commands if isinstance(c, StartTask)]
    sure = bool(tasks) and understood.confidence >= threshold
    take_up = lexicon()["ellipsis"]["take_up"].get(intent)
    if take_up and _points(text) and not any(c.intent == take_up for c in tasks):
        return [StartTask(intent=take_up, clause=text, generator="dialogue")]
    if sure:
        return None
    if any(p.search(text) for p in _patterns()["repeat"]):  # the task again from its start (a procedure's place
        slots.pop("_procedure", None)                         # in its steps is no value: runner.POSITION_KEY)
        return [StartTask(intent=intent, slots=slots, clause=text, generator="dialogue")]
    if any(p.search(text) for p in _patterns()["same_again"]):
        carried = {k: v for k, v in slots.items() if k in CARRIED_SLOTS}
        return [StartTask(intent=intent, slots=carried, clause=text, generator="dialogue")]
    if any(p.search(text) for p in _patterns()["same_about"]):
        return [StartTask(intent=intent, clause=text, generator="dialogue")]
    takes_back, instead = after_correction(text)
    if takes_back and instead.strip() and intent not in ACTION_INTENTS:
        # "아 죄송 4444 말고 3333이요" after a question answered about 4444: the same question about 3333 (a
        # correction of a proposal is the follow-ups' business: it re-proposes)
        return [StartTask(intent=intent, clause=instead.strip(), generator="dialogue")]
    return None
