"""The automatic QA scorecard of a conversation (issue 16, docs/qa.md): the rubric (YAML an operator edits),
scoring a stored conversation against it, and storing the verdicts in ``qa_scores``.

Deterministic items are decided by ``qa_checks`` from the traces. ``llm`` items are judged by the strong model
only when its profile may write customer-facing Korean (``capable_writer``): a weak or embedded model's opinion
is not evidence, so without a trusted model those items are not applicable and no model is called.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, field_serializer
from sqlalchemy import Engine, delete, select

from sangdam.contact_center.qa_checks import CHECKS, QaEvidence, QaFacts, Verdict
from sangdam.domain.db import session_scope
from sangdam.domain.insight_models import QaScore

RUBRIC_ENV = "SANGDAM_QA_RUBRIC"  # path of an operator's own rubric file


class RubricItem(BaseModel):
    """One criterion: ``kind`` names a deterministic check (``qa_checks.CHECKS``) or is ``llm``."""

    id: str = Field(max_length=60)
    label_ko: str
    description: str = ""
    kind: str
    weight: float = Field(default=1.0, ge=0)
    params: dict[str, Any] = Field(default_factory=dict)


class Rubric(BaseModel):
    """The rubric file: a version (stored with every score) and its items."""

    version: str = Field(max_length=40)
    items: list[RubricItem]

    def model_post_init(self, _: Any) -> None:
        unknown = [i.kind for i in self.items if i.kind != "llm" and i.kind not in CHECKS]
        if unknown:
            raise ValueError(f"unknown QA check kind(s) {unknown}; known: llm, {', '.join(sorted(CHECKS))}")
        ids = [i.id for i in self.items]
        if len(ids) != len(set(ids)):
            raise ValueError("rubric item ids must be unique")


class QaItem(BaseModel):
    """One item's verdict: ``passed`` True (통과), False (미통과) or None (해당 없음)."""

    item: str
    label_ko: str
    passed: bool | None
    evidence: QaEvidence


class QaScorecard(BaseModel):
    """The scorecard of one conversation (``GET /api/v1/conversations/{id}/qa``, ``sangdam qa score``).
    ``score``: passed weight over applicable weight, 0..1 (1.0 when no item applies)."""

    conversation_id: str
    rubric_version: str
    items: list[QaItem]
    score: float = Field(ge=0, le=1)
    scored_at: dt.datetime | None = None

    @field_serializer("scored_at")
    def _with_zone(self, value: dt.datetime | None) -> dt.datetime | None:
        """Stored naive in the orchestrator's local clock; sent with its offset (RFC 3339, as the API promises)."""
        return value.astimezone() if value is not None and value.tzinfo is None else value


@lru_cache(maxsize=8)
def _parse(text: str) -> Rubric:
    return Rubric.model_validate(yaml.safe_load(text))


def load_rubric(path: str | Path | None = None) -> Rubric:
    """The rubric at ``path``, else at ``$SANGDAM_QA_RUBRIC``, else the packaged one."""
    path = path or os.environ.get(RUBRIC_ENV)
    if path:
        return _parse(Path(path).read_text(encoding="utf-8"))
    packaged = resources.files("sangdam.resources").joinpath("contact_center").joinpath("qa_rubric.yaml")
    return _parse(packaged.read_text(encoding="utf-8"))


def load_facts(engine: Engine, conversation_id: str) -> QaFacts:
    """The stored conversation as the checks read it (``ConversationNotFound`` when there is none)."""
    from sangdam.orchestrator.store import ConversationStore

    store = ConversationStore(engine)
    conv, state = store.load(conversation_id)
    return QaFacts(conversation_id=conversation_id, mode=conv.mode, state=state.model_dump(mode="json"),
                   traces=store.traces(conversation_id), transcript=store.transcript(conversation_id))


def score_facts(facts: QaFacts, rubric: Rubric, llm: Any = None, now: dt.datetime | None = None) -> QaScorecard:
    """Score ``facts`` against ``rubric`` (pure except for the optional judge call)."""
    judge = llm if llm is not None and _trusted(llm) else None
    items = []
    for item in rubric.items:
        if item.kind == "llm":
            verdict = judge_item(judge, item, facts) if judge is not None else Verdict(
                None, QaEvidence(note="no trusted model configured for soft criteria"))
        else:
            verdict = CHECKS[item.kind](facts, item.params)
        items.append(QaItem(item=item.id, label_ko=item.label_ko, passed=verdict.passed, evidence=verdict.evidence))
    return QaScorecard(conversation_id=facts.conversation_id, rubric_version=rubric.version, items=items,
                       score=weighted_score(rubric, {i.item: i.passed for i in items}), scored_at=now)


def weighted_score(rubric: Rubric, passed: dict[str, bool | None]) -> float:
    """Passed weight over applicable weight; 1.0 when nothing applies."""
    weights = {i.id: i.weight for i in rubric.items}
    applicable = sum(weights.get(k, 0) for k, v in passed.items() if v is not None)
    if applicable <= 0:
        return 1.0
    return round(sum(weights.get(k, 0) for k, v in passed.items() if v) / applicable, 4)


def score_conversation(engine: Engine, conversation_id: str, *, rubric: Rubric | None = None,
                       llm: Any = None, now: dt.datetime | None = None) -> QaScorecard:
    """Score one stored conversation (nothing is written). ``now``: the orchestrator's clock (its "today" may be
    pinned), so ``scored_at`` compares with the conversation's own timestamps."""
    return score_facts(load_facts(engine, conversation_id), rubric or load_rubric(), llm, now=now or _now())


def score_and_store(engine: Engine, conversation_id: str, *, rubric: Rubric | None = None,
                    llm: Any = None, now: dt.datetime | None = None) -> QaScorecard:
    """Score one conversation and replace its stored rows in one transaction: re-scoring (a retried batch item,
    a changed rubric) never leaves duplicates or items of an older rubric behind."""
    card = score_conversation(engine, conversation_id, rubric=rubric, llm=llm, now=now)
    with session_scope(engine) as s:
        s.execute(delete(QaScore).where(QaScore.conversation_id == conversation_id))
        for item in card.items:
            s.add(QaScore(conversation_id=conversation_id, item=item.item, passed=item.passed,
                          evidence=item.evidence.model_dump(mode="json"), rubric_version=card.rubric_version,
                          scored_at=card.scored_at))
    return card


def stored_scorecard(engine: Engine, conversation_id: str, rubric: Rubric | None = None) -> QaScorecard | None:
    """The stored scorecard, when it was made with this rubric's version after the conversation's last change."""
    from sangdam.domain.conversation_models import Conversation

    rubric = rubric or load_rubric()
    with session_scope(engine) as s:
        rows = s.scalars(select(QaScore).where(QaScore.conversation_id == conversation_id)).all()
        updated = s.scalar(select(Conversation.updated_at).where(Conversation.id == conversation_id))
        if not rows or any(r.rubric_version != rubric.version for r in rows):
            return None
        scored = min(r.scored_at for r in rows)
        if updated is not None and scored <= updated:  # same second: a turn may have followed the scoring
            return None
        by_id = {r.item: r for r in rows}
        items = [QaItem(item=i.id, label_ko=i.label_ko, passed=by_id[i.id].passed,
                        evidence=QaEvidence.model_validate(by_id[i.id].evidence or {}))
                 for i in rubric.items if i.id in by_id]
    if len(items) != len(rubric.items):
        return None
    return QaScorecard(conversation_id=conversation_id, rubric_version=rubric.version, items=items,
                       score=weighted_score(rubric, {i.item: i.passed for i in items}), scored_at=scored)


def scorecard(engine: Engine, conversation_id: str, *, llm: Any = None,
              now: dt.datetime | None = None) -> QaScorecard:
    """The stored scorecard if current, else a fresh one (scored and stored): what the console shows."""
    rubric = load_rubric()
    return stored_scorecard(engine, conversation_id, rubric) or score_and_store(
        engine, conversation_id, rubric=rubric, llm=llm, now=now)


# -- the optional judge ---------------------------------------------------------------------------------------
class JudgeAnswer(BaseModel):
    """The judge's structured answer for one soft criterion."""

    passed: bool | None = Field(description="true: met; false: not met; null: the conversation gives no occasion")
    turn: int | None = Field(default=None, description="turn index that shows it best")
    note: str = Field(default="", max_length=200, description="one short English sentence")


_JUDGE_SYSTEM = (
    "You review a Korean telecom customer-service conversation between a customer and a bot. "
    "Judge only the criterion given. Answer in JSON: passed (true, false, or null when the conversation gives "
    "no occasion to apply the criterion), turn (the turn index that shows it best), note (one short English "
    "sentence). The customer's personal data is masked; do not guess it."
)


def _trusted(llm: Any) -> bool:
    from sangdam.orchestrator.responder import capable_writer

    try:
        return capable_writer(llm)
    except Exception:  # noqa: BLE001 - an unknown profile is not a trusted one
        return False


def judge_item(llm: Any, item: RubricItem, facts: QaFacts) -> Verdict:
    """Ask the strong model about one ``llm`` item; a failed call makes the item not applicable, never a fail."""
    from sangdam.llm.errors import LLMError

    turns = [{"turn": t.get("turn_index"), "customer": t.get("user", ""), "bot": t.get("reply", "")}
             for t in facts.traces]
    prompt = f"Criterion: {item.description or item.label_ko}\n\nConversation:\n" + json.dumps(turns, ensure_ascii=False)
    try:
        result = llm.chat([{"role": "system", "content": _JUDGE_SYSTEM}, {"role": "user", "content": prompt}],
                          role="strong", json_schema=JudgeAnswer, max_tokens=200, temperature=0)
        answer = result.data if isinstance(result.data, JudgeAnswer) else JudgeAnswer.model_validate(result.data)
    except (LLMError, ValueError) as exc:
        return Verdict(None, QaEvidence(note=f"judge unavailable: {type(exc).__name__}"))
    trace = next((t for t in facts.traces if t.get("turn_index") == answer.turn), None)
    return Verdict(answer.passed, QaEvidence(turn=answer.turn if trace else None,
                                             trace_id=trace.get("id") if trace else None,
                                             note=("llm judge: " + answer.note)[:200]))


def _now() -> dt.datetime:
    """The orchestrator's default clock: the configured today at the current time of day."""
    from sangdam.config import get_settings

    clock = dt.datetime.now().time().replace(microsecond=0)
    return dt.datetime.combine(get_settings().today_date(), clock)
