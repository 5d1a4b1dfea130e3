"""Consultation aggregates for a date range, computed in the database (one SQL query each, GROUP BY there).

Used by the insights report and the dashboard; sized for 100k conversations (bench/insights/aggregate.py). Every
function takes ``since``/``until`` as dates, both inclusive, and works on SQLite and PostgreSQL (``date(ts)``
exists on both; SQLite returns it as text, which the models parse).

Definitions (docs/insights.md):
- a conversation counts on the day it was created (``conversations.created_at``), and only when the customer
  wrote at least one message (a chat page opened and left is not a consultation);
- handed off: a human took part — the conversation is in mode ``human`` now, or ever was: an agent wrote in it
  or a handoff notice (a ``system`` message: agent joined, AI resumed) was stored; contained: the rest. The same
  definitions as the dashboard's (contact_center/dashboard.py), so the report and the page agree;
- call drivers: ``turn_intents`` rows (one per routed intent of a customer turn) by their own ``at``;
- QA pass rate: ``qa_scores`` of the range's conversations, per rubric item; not-applicable verdicts (NULL)
  count in neither the numerator nor the denominator;
- sentiment: ``turn_signals`` by their ``at``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, computed_field
from sqlalchemy import Engine, and_, case, distinct, exists, func, or_, select

from sangdam.domain.conversation_models import Conversation, Message
from sangdam.domain.insight_models import QaScore, TurnIntent, TurnSignal


class DayCount(BaseModel):
    """Conversations opened on one day."""

    day: dt.date
    conversations: int


class Containment(BaseModel):
    """Conversations of a range (or of one day) with and without a human."""

    day: dt.date | None = None
    conversations: int
    contained: int
    handed_off: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def containment_rate(self) -> float:
        return self.contained / self.conversations if self.conversations else 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def handoff_rate(self) -> float:
        return self.handed_off / self.conversations if self.conversations else 0.0


class DriverCount(BaseModel):
    """One intent's customer turns (and the conversations they occurred in) over the range."""

    intent: str
    turns: int
    conversations: int


class DriverDay(BaseModel):
    """One intent's customer turns on one day."""

    day: dt.date
    intent: str
    turns: int


class QaItemRate(BaseModel):
    """Verdicts of one rubric item over the range's conversations."""

    item: str
    passed: int
    failed: int
    not_applicable: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pass_rate(self) -> float | None:
        judged = self.passed + self.failed
        return self.passed / judged if judged else None


class SentimentDay(BaseModel):
    """Customer-turn sentiment of one day."""

    day: dt.date
    turns: int
    average_score: float
    negative: int
    angry: int
    escalations: int


def _bounds(since: dt.date, until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[since 00:00, the day after until 00:00): both days inclusive, index-friendly on timestamps."""
    return dt.datetime.combine(since, dt.time()), dt.datetime.combine(until + dt.timedelta(days=1), dt.time())


def _in_range(column, since: dt.date, until: dt.date):  # noqa: ANN001, ANN202 - SQL expressions
    start, end = _bounds(since, until)
    return and_(column >= start, column < end)


def _day(column):  # noqa: ANN001, ANN202
    return func.date(column)


def _counted(since: dt.date, until: dt.date):  # noqa: ANN202
    """SQL condition: a conversation created in the range in which the customer wrote something."""
    wrote = exists().where(Message.conversation_id == Conversation.id, Message.role == "customer")
    return and_(_in_range(Conversation.created_at, since, until), wrote)


def _handed_off():  # noqa: ANN202
    """SQL condition: a human took part in the conversation (see the module docstring)."""
    staffed = exists().where(Message.conversation_id == Conversation.id, Message.role.in_(("agent", "system")))
    return or_(Conversation.mode == "human", staffed)


def volume_per_day(engine: Engine, since: dt.date, until: dt.date) -> list[DayCount]:
    """Conversations opened per day (days without any are absent)."""
    day = _day(Conversation.created_at)
    query = (select(day.label("day"), func.count().label("n"))
             .where(_counted(since, until)).group_by(day).order_by(day))
    with engine.connect() as conn:
        return [DayCount(day=row.day, conversations=row.n) for row in conn.execute(query)]


def containment(engine: Engine, since: dt.date, until: dt.date) -> Containment:
    """Conversations of the range, how many stayed with the bot and how many were handed to a human."""
    handed = func.coalesce(func.sum(case((_handed_off(), 1), else_=0)), 0)
    query = (select(func.count().label("n"), handed.label("handed"))
             .where(_counted(since, until)))
    with engine.connect() as conn:
        row = conn.execute(query).one()
    return Containment(conversations=row.n, contained=row.n - row.handed, handed_off=row.handed)


def containment_per_day(engine: Engine, since: dt.date, until: dt.date) -> list[Containment]:
    """``containment`` for each day of the range that has conversations."""
    day = _day(Conversation.created_at)
    handed = func.sum(case((_handed_off(), 1), else_=0))
    query = (select(day.label("day"), func.count().label("n"), handed.label("handed"))
             .where(_counted(since, until)).group_by(day).order_by(day))
    with engine.connect() as conn:
        return [Containment(day=row.day, conversations=row.n, contained=row.n - row.handed, handed_off=row.handed)
                for row in conn.execute(query)]


def top_drivers(engine: Engine, since: dt.date, until: dt.date, limit: int = 10) -> list[DriverCount]:
    """The most frequent intents of the range's customer turns, most frequent first."""
    turns = func.count().label("turns")
    query = (select(TurnIntent.intent, turns, func.count(distinct(TurnIntent.conversation_id)).label("convs"))
             .where(_in_range(TurnIntent.at, since, until))
             .group_by(TurnIntent.intent).order_by(turns.desc(), TurnIntent.intent).limit(limit))
    with engine.connect() as conn:
        return [DriverCount(intent=r.intent, turns=r.turns, conversations=r.convs) for r in conn.execute(query)]


def drivers_per_day(engine: Engine, since: dt.date, until: dt.date,
                    intents: list[str] | None = None) -> list[DriverDay]:
    """Customer turns per day and intent (only ``intents`` when given), by day then intent."""
    day = _day(TurnIntent.at)
    query = select(day.label("day"), TurnIntent.intent, func.count().label("turns")).where(
        _in_range(TurnIntent.at, since, until))
    if intents:
        query = query.where(TurnIntent.intent.in_(intents))
    query = query.group_by(day, TurnIntent.intent).order_by(day, TurnIntent.intent)
    with engine.connect() as conn:
        return [DriverDay(day=r.day, intent=r.intent, turns=r.turns) for r in conn.execute(query)]


def qa_pass_rates(engine: Engine, since: dt.date, until: dt.date) -> list[QaItemRate]:
    """Per rubric item: passed, failed and not-applicable verdicts of the conversations opened in the range."""
    def count_where(condition):  # noqa: ANN001, ANN202
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    query = (select(QaScore.item,
                    count_where(QaScore.passed.is_(True)).label("passed"),
                    count_where(QaScore.passed.is_(False)).label("failed"),
                    count_where(QaScore.passed.is_(None)).label("na"))
             .join(Conversation, Conversation.id == QaScore.conversation_id)
             .where(_counted(since, until))
             .group_by(QaScore.item).order_by(QaScore.item))
    with engine.connect() as conn:
        return [QaItemRate(item=r.item, passed=r.passed, failed=r.failed, not_applicable=r.na)
                for r in conn.execute(query)]


def sentiment_trend(engine: Engine, since: dt.date, until: dt.date) -> list[SentimentDay]:
    """Per day: scored customer turns, their mean score (-1 angry … +1 positive), negative/angry turns and
    turns that called for a human."""
    day = _day(TurnSignal.at)

    def count_where(condition):  # noqa: ANN001, ANN202
        return func.sum(case((condition, 1), else_=0))

    query = (select(day.label("day"), func.count().label("turns"), func.avg(TurnSignal.score).label("avg"),
                    count_where(TurnSignal.sentiment == "negative").label("negative"),
                    count_where(TurnSignal.sentiment == "angry").label("angry"),
                    count_where(TurnSignal.escalate.is_(True)).label("esc"))
             .where(_in_range(TurnSignal.at, since, until)).group_by(day).order_by(day))
    with engine.connect() as conn:
        return [SentimentDay(day=r.day, turns=r.turns, average_score=round(float(r.avg or 0.0), 4),
                             negative=r.negative, angry=r.angry, escalations=r.esc) for r in conn.execute(query)]


def knowledge_gap_clusters(engine: Engine, since: dt.date, until: dt.date, *, llm: Any = None) -> list[Any]:
    """The range's knowledge-gap clusters (``gaps.GapCluster``, largest first) for the dashboard. Not one query:
    the gap utterances are read in SQL, then embedded and clustered (seconds at thousands of utterances)."""
    from sangdam.insights.gaps import build_gap_report

    total = containment(engine, since, until).conversations
    return build_gap_report(engine, since, until, conversations_in_range=total, llm=llm).clusters
