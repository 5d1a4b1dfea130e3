"""``detect`` and ``mask``: run the recognisers on the normalised text, keep the best non-overlapping
candidates, and map them back to the original text."""

from __future__ import annotations

from sangdam.korean.normalize import normalize
from sangdam.korean.pii.lexicon import get_lexicon, placeholder
from sangdam.korean.pii.models import Entity, MaskResult, PiiType
from sangdam.korean.pii.pieces import PIECE_RECOGNIZERS
from sangdam.korean.pii.recognizers import RECOGNIZERS, THRESHOLD, Candidate, Context

# On equal scores the more specific shape wins (a driver's licence also looks like an account number).
_PRIORITY = {
    PiiType.EMAIL: 0,
    PiiType.RRN: 1,
    PiiType.FOREIGNER_RRN: 1,
    PiiType.DRIVER_LICENSE: 2,
    PiiType.CARD: 3,
    PiiType.IMEI: 3,
    PiiType.PHONE: 4,
    PiiType.PASSPORT: 5,
    PiiType.ACCOUNT: 6,
    PiiType.CARD_EXPIRY: 7,
    PiiType.CARD_CVC: 7,
    PiiType.BIRTH_DATE: 8,
}


def _resolve(candidates: list[Candidate]) -> list[Candidate]:
    """Greedy: best score first (then longer, then more specific); drop anything overlapping a kept one."""
    kept: list[Candidate] = []
    order = sorted(candidates, key=lambda c: (-c.score, -(c.end - c.start), _PRIORITY[c.type], c.start))
    for cand in order:
        if cand.score < THRESHOLD:
            break
        if all(cand.end <= k.start or cand.start >= k.end for k in kept):
            kept.append(cand)
    return sorted(kept, key=lambda c: c.start)


def detect(text: str) -> list[Entity]:
    """Personal data in ``text``, as typed spans of the original string in reading order."""
    if not text:
        return []
    norm = normalize(text)
    ctx = Context(norm.text, get_lexicon())
    candidates = [c for recognizer in (*RECOGNIZERS, *PIECE_RECOGNIZERS) for c in recognizer(ctx)]
    entities = []
    for cand in _resolve(candidates):
        start, end = norm.to_original(cand.start, cand.end)
        entities.append(Entity(type=cand.type, start=start, end=end, score=round(cand.score, 3)))
    return entities


def apply_mask(text: str, entities: list[Entity], labels: list[str] | None = None) -> str:
    """``text`` with each entity's span replaced by its placeholder (or by ``labels[i]`` when given)."""
    out: list[str] = []
    pos = 0
    for i, ent in enumerate(entities):
        out.append(text[pos : ent.start])
        out.append(labels[i] if labels is not None else placeholder(ent.type))
        pos = ent.end
    out.append(text[pos:])
    return "".join(out)


def mask(text: str) -> MaskResult:
    """Detect personal data and replace each occurrence by its typed placeholder (``[전화번호]`` …)."""
    entities = detect(text)
    return MaskResult(masked=apply_mask(text, entities), entities=entities)
