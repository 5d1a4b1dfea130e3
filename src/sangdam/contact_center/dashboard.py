"""The insights dashboard's numbers (``GET /api/v1/insights/summary``, page ``/console/insights``), aggregated in SQL.

Every metric is one ``GROUP BY`` query in the database: the server never loops over conversations, so the
answer stays fast at 100k conversations (bench/insights/dashboard.py). Days are UTC calendar days (timestamps
are stored as naive UTC); a range ``[start, end]`` holds both days.

What each number counts:

- **volume, containment, handoff, QA**: conversations *created* in the range in which the customer wrote at
  least one message (a chat page opened and left is not a consultation). A conversation *reached a human* when it
  is in mode ``human`` now (the bot transferred it or an agent took it over) or ever was: an agent wrote in it or
  a handoff notice was stored (every ``system`` message is one: agent joined, AI resumed). Contained = the rest.
- **QA pass rate per rubric item**: ``qa_scores`` of those conversations; not-applicable verdicts (``passed``
  null) are counted apart and left out of the rate.
- **sentiment trend, call drivers**: customer turns (``turn_signals``, ``turn_intents``) that happened in the
  range, by the turn's own day.

The same definitions as :mod:`sangdam.insights.aggregate` (the report), so the page and the report agree.
Knowledge-gap clusters are not an aggregate (embeddings and clustering, seconds): :func:`knowledge_gaps` serves
them apart (``GET /api/v1/insights/gaps``).
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Engine, and_, case, exists, func, or_, select

from sangdam.contact_center.texts import texts
from sangdam.domain.conversation_models import Conversation, Message
from sangdam.domain.insight_models import QaScore, TurnIntent, TurnSignal

SENTIMENTS = ("positive", "neutral", "negative", "angry")
MAX_SPAN_DAYS = 3660  # ten years: beyond that a range is a typo, not a question


class DateRange(BaseModel):
    """Both days included (UTC)."""

    start: dt.date
    end: dt.date

    @property
    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """``[start 00:00, the day after end 00:00)``: half-open, so an index range scan covers it exactly."""
        return (dt.datetime.combine(self.start, dt.time()),
                dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time()))


class DayVolume(BaseModel):
    day: dt.date
    conversations: int
    handed_off: int


class Volume(BaseModel):
    total: int
    contained: int = Field(description="Conversations that never reached a human.")
    handed_off: int = Field(description="Conversations transferred to, taken over by or served by a human agent.")
    containment_rate: float | None = Field(description="contained / total; null when there is no conversation.")
    handoff_rate: float | None = Field(description="handed_off / total; null when there is no conversation.")
    per_day: list[DayVolume] = Field(description="Only days with conversations, oldest first.")


class QaItemRate(BaseModel):
    item: str
    label: str = Field(description="Korean name of the rubric item (the rubric's label_ko), else the item id.")
    passed: int
    failed: int
    not_applicable: int
    pass_rate: float | None = Field(description="passed / (passed + failed); null when nothing was applicable.")


class SentimentDay(BaseModel):
    day: dt.date
    counts: dict[str, int] = Field(description="Customer turns per label (positive, neutral, negative, angry).")


class CallDriver(BaseModel):
    intent: str
    label: str = Field(description="Korean name of the intent (resources/contact_center/ko.yaml).")
    turns: int
    conversations: int


class InsightsSummary(BaseModel):
    """What the dashboard shows for one date range."""

    start: dt.date = Field(serialization_alias="from")
    end: dt.date = Field(serialization_alias="to")
    volume: Volume
    qa: list[QaItemRate]
    sentiment: list[SentimentDay]
    drivers: list[CallDriver]


class KnowledgeGaps(BaseModel):
    """Knowledge-gap clusters of a range (``sangdam.insights``): what the bot could not handle, grouped by meaning."""

    start: dt.date = Field(serialization_alias="from")
    end: dt.date = Field(serialization_alias="to")
    available: bool = Field(description="False when the insights package is not installed (no clusters then).")
    clusters: list[dict[str, Any]] = Field(default_factory=list, description=(
        "Largest first: size, conversations, kinds, examples (masked), faq (suggested entry), faq_by."))


def summarize(engine: Engine, span: DateRange, *, drivers_limit: int = 15) -> InsightsSummary:
    """All the dashboard's numbers for ``span``: one SQL aggregate per metric, on PostgreSQL from one snapshot
    (turns stored while the four queries run do not make the volume and the drivers disagree)."""
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**options) as conn:
        volume = _volume(conn, span)
        qa = _qa(conn, span)
        sentiment = _sentiment(conn, span)
        drivers = _drivers(conn, span, drivers_limit)
    return InsightsSummary(start=span.start, end=span.end, volume=volume, qa=qa, sentiment=sentiment,
                           drivers=drivers)


def _day(value: Any) -> dt.date:
    """SQLite's ``date()`` answers text, PostgreSQL's a date."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _counted(conv: Any, start: dt.datetime, end: dt.datetime) -> Any:
    """Conversations created in the range in which the customer wrote something."""
    wrote = exists().where(Message.conversation_id == conv.id, Message.role == "customer")
    return and_(conv.created_at >= start, conv.created_at < end, wrote)


def reached_human(conv: Any) -> Any:
    """SQL: the conversation is with a human now, or an agent wrote in it, or a handoff notice was stored."""
    staffed = exists().where(Message.conversation_id == conv.id, Message.role.in_(("agent", "system")))
    return or_(conv.mode == "human", staffed)


def _volume(conn: Any, span: DateRange) -> Volume:
    start, end = span.bounds
    conv = Conversation.__table__.c
    day = func.date(conv.created_at).label("day")
    rows = conn.execute(
        select(day, func.count().label("n"), func.sum(case((reached_human(conv), 1), else_=0)).label("human"))
        .where(_counted(conv, start, end)).group_by(day).order_by(day)
    ).all()
    per_day = [DayVolume(day=_day(d), conversations=n, handed_off=int(h or 0)) for d, n, h in rows]
    total = sum(d.conversations for d in per_day)  # over days, not conversations
    human = sum(d.handed_off for d in per_day)
    return Volume(total=total, contained=total - human, handed_off=human,
                  containment_rate=(total - human) / total if total else None,
                  handoff_rate=human / total if total else None, per_day=per_day)


def _qa(conn: Any, span: DateRange) -> list[QaItemRate]:
    start, end = span.bounds
    conv = Conversation.__table__.c
    q = QaScore.__table__.c
    query = select(q.item, q.passed, func.count())  # one row per (item, verdict): at most three an item
    if conn.dialect.name == "postgresql":  # a join: index probes for a month, a hash join for a year
        query = query.select_from(QaScore.__table__.join(Conversation.__table__, conv.id == q.conversation_id)) \
            .where(_counted(conv, start, end))
    else:  # SQLite runs a semi-join (IN) faster than the join: 0.53 s against 0.80 s over 100k (bench/insights)
        query = query.where(q.conversation_id.in_(select(conv.id).where(_counted(conv, start, end))))
    rows = conn.execute(query.group_by(q.item, q.passed)).all()
    tally: dict[str, dict[bool | None, int]] = {}
    for item, passed, n in rows:
        verdict = None if passed is None else bool(passed)
        tally.setdefault(item, {True: 0, False: 0, None: 0})[verdict] += n
    labels = _rubric_labels()
    return [QaItemRate(item=item, label=labels.get(item, item), passed=t[True], failed=t[False],
                       not_applicable=t[None], pass_rate=t[True] / (t[True] + t[False]) if t[True] + t[False] else None)
            for item, t in sorted(tally.items())]


def _rubric_labels() -> dict[str, str]:
    """Item id → Korean label from the QA rubric in use (``$SANGDAM_QA_RUBRIC`` or the packaged one); an item the
    rubric no longer has (scored under an older version) shows its id."""
    import yaml

    try:
        from sangdam.contact_center.qa import load_rubric

        return {item.id: item.label_ko for item in load_rubric().items}
    except (ImportError, OSError, ValueError, yaml.YAMLError):  # pydantic's ValidationError is a ValueError
        return {}


def _sentiment(conn: Any, span: DateRange) -> list[SentimentDay]:
    start, end = span.bounds
    sig = TurnSignal.__table__.c
    day = func.date(sig.at).label("day")
    rows = conn.execute(
        select(day, sig.sentiment, func.count()).where(sig.at >= start, sig.at < end)
        .group_by(day, sig.sentiment).order_by(day)
    ).all()
    days: dict[dt.date, dict[str, int]] = {}
    for d, label, n in rows:  # one row per (day, label): at most 4 a day
        days.setdefault(_day(d), dict.fromkeys(SENTIMENTS, 0))[label] = n
    return [SentimentDay(day=d, counts=c) for d, c in days.items()]


def _drivers(conn: Any, span: DateRange, limit: int) -> list[CallDriver]:
    start, end = span.bounds
    ti = TurnIntent.__table__.c
    turns, conversations = func.count().label("turns"), func.count(ti.conversation_id.distinct()).label("convs")
    rows = conn.execute(
        select(ti.intent, turns, conversations).where(ti.at >= start, ti.at < end).group_by(ti.intent)
        .order_by(conversations.desc(), turns.desc(), ti.intent).limit(limit)
    ).all()
    labels = texts()["summary"]["categories"]
    return [CallDriver(intent=i, label=str(labels.get(i, i)), turns=t, conversations=c) for i, t, c in rows]


def knowledge_gaps(engine: Engine, span: DateRange) -> KnowledgeGaps:
    """The insights package's knowledge-gap clusters (issue 16, item 3), imported lazily: not one SQL aggregate
    but utterances read in SQL, then embedded and clustered (seconds), so the page asks for them apart from the
    summary. ``available`` is False when the package or its ``knowledge_gap_clusters`` is absent."""
    try:
        aggregate = importlib.import_module("sangdam.insights.aggregate")
    except ImportError:
        return KnowledgeGaps(start=span.start, end=span.end, available=False)
    provider = getattr(aggregate, "knowledge_gap_clusters", None)
    if provider is None:
        return KnowledgeGaps(start=span.start, end=span.end, available=False)
    clusters = [c.model_dump(mode="json") if hasattr(c, "model_dump") else dict(c)
                for c in provider(engine, span.start, span.end)]
    return KnowledgeGaps(start=span.start, end=span.end, available=True, clusters=clusters)
