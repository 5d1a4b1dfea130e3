"""Call drivers, knowledge gaps and the insights report (issue 16, items 3 and 6), on traffic generated through the
real orchestrator and on hand-made rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, select

from sangdam.domain.conversation_models import Conversation, Message, TurnTrace
from sangdam.domain.db import make_engine, migrate, session_scope
from sangdam.domain.insight_models import QaScore, TurnIntent, TurnSignal
from sangdam.domain.seed import seed
from sangdam.insights import aggregate
from sangdam.insights.gaps import cluster_utterances, collect_gaps, suggest_faq
from sangdam.insights.report import DRIVER_COLUMNS, GAP_COLUMNS, build_report
from sangdam.insights.traffic import generate_traffic, plan_traffic

TODAY = dt.date(2026, 11, 15)
DAYS = 5
SINCE, UNTIL = TODAY - dt.timedelta(days=DAYS), TODAY - dt.timedelta(days=1)


def _fresh_engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    seed(engine, today=TODAY)
    return engine


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    engine = _fresh_engine(tmp_path_factory.mktemp("insights") / "traffic.db")
    report = generate_traffic(engine, 30, seed=11, days=DAYS, today=TODAY)
    yield engine, report
    engine.dispose()


def _rows(engine: Engine, model):  # noqa: ANN001, ANN202
    with session_scope(engine) as s:
        rows = s.scalars(select(model)).all()
        s.expunge_all()
        return rows


# -- the generator ----------------------------------------------------------------------------------------------
def test_generated_conversations_are_stored_inside_the_requested_days(traffic) -> None:  # noqa: ANN001
    engine, report = traffic
    start, end = dt.datetime.combine(SINCE, dt.time()), dt.datetime.combine(TODAY, dt.time())
    conversations = _rows(engine, Conversation)
    assert len(conversations) == report.conversations == 30
    assert all(start <= c.created_at <= c.updated_at < end for c in conversations)
    assert all(start <= t.at < end for t in _rows(engine, TurnIntent))
    assert all(start <= m.at < end for m in _rows(engine, Message))
    assert len({c.created_at.date() for c in conversations}) >= 3  # spread, not one day
    customer_turns = [m for m in _rows(engine, Message) if m.role == "customer"]
    assert len(customer_turns) == report.turns > report.conversations
    assert len(report.scenarios) >= 8  # varied


def test_generator_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    assert plan_traffic(40, seed=5, days=3, today=TODAY) == plan_traffic(40, seed=5, days=3, today=TODAY)
    assert plan_traffic(40, seed=5, days=3, today=TODAY) != plan_traffic(40, seed=6, days=3, today=TODAY)

    def story(engine: Engine) -> list[tuple]:
        with session_scope(engine) as s:
            convs = s.scalars(select(Conversation).order_by(Conversation.created_at)).all()
            out = []
            for c in convs:
                texts = s.scalars(select(Message.text).where(Message.conversation_id == c.id,
                                                             Message.role == "customer").order_by(Message.idx)).all()
                out.append((c.created_at, c.customer_id, c.mode, tuple(texts)))
            return out

    first, second = _fresh_engine(tmp_path / "a.db"), _fresh_engine(tmp_path / "b.db")
    generate_traffic(first, 8, seed=7, days=2, today=TODAY)
    generate_traffic(second, 8, seed=7, days=2, today=TODAY)
    assert story(first) == story(second)
    assert len(story(first)) == 8


# -- aggregates -------------------------------------------------------------------------------------------------
def test_aggregates_agree_with_counts_from_the_transcripts_and_traces(traffic) -> None:  # noqa: ANN001
    engine, _ = traffic
    conversations = _rows(engine, Conversation)
    traces = _rows(engine, TurnTrace)
    volume = aggregate.volume_per_day(engine, SINCE, UNTIL)
    assert {d.day: d.conversations for d in volume} == Counter(c.created_at.date() for c in conversations)

    # independent of the mode column: a conversation was handed off when one of its turns transferred it
    transferred = {t.conversation_id for t in traces
                   if any(c["name"] == "transfer_to_human" and c["status"] == "ok" for c in t.data["tool_calls"])}
    stats = aggregate.containment(engine, SINCE, UNTIL)
    assert stats.handed_off == len(transferred) > 0
    assert stats.contained == len(conversations) - len(transferred)
    assert stats.handoff_rate + stats.containment_rate == pytest.approx(1.0)
    per_day = aggregate.containment_per_day(engine, SINCE, UNTIL)
    assert sum(d.handed_off for d in per_day) == stats.handed_off

    # drivers from the traces' routed intents, not from turn_intents
    expected = Counter(i for t in traces for i in dict.fromkeys(t.data["intents"]))
    drivers = aggregate.top_drivers(engine, SINCE, UNTIL, limit=100)
    assert {d.intent: d.turns for d in drivers} == expected
    assert [d.turns for d in drivers] == sorted((d.turns for d in drivers), reverse=True)
    assert {"out_of_scope", "agent.human", "policy.question"} <= set(expected)
    daily = aggregate.drivers_per_day(engine, SINCE, UNTIL)
    assert sum(d.turns for d in daily) == sum(expected.values())
    only = aggregate.drivers_per_day(engine, SINCE, UNTIL, intents=["agent.human"])
    assert sum(d.turns for d in only) == expected["agent.human"]
    # a range before the traffic holds nothing
    assert aggregate.containment(engine, SINCE - dt.timedelta(days=30), SINCE - dt.timedelta(days=1)).conversations == 0


def _at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour)


def test_aggregates_on_hand_made_rows(db_engine_any: Engine) -> None:
    engine = db_engine_any
    # CV-D: an agent wrote, then handed back to the bot; CV-E: only a handoff notice; CV-OLD: out of range;
    # CV-EMPTY: opened, nothing written (not a consultation)
    convs = [("CV-A", "bot", 10), ("CV-B", "human", 10), ("CV-C", "bot", 11), ("CV-D", "bot", 11),
             ("CV-E", "bot", 11), ("CV-OLD", "human", 1), ("CV-EMPTY", "bot", 11)]
    with session_scope(engine) as s:
        for cid, mode, day in convs:
            s.add(Conversation(id=cid, channel="api", mode=mode, state={}, created_at=_at(day), updated_at=_at(day)))
        s.flush()
        for cid, _, day in convs[:-1]:
            s.add(Message(conversation_id=cid, idx=0, role="customer", text="요금 알려 주세요", at=_at(day)))
        s.add(Message(conversation_id="CV-D", idx=1, role="agent", text="안녕하세요 상담사입니다", at=_at(11)))
        s.add(Message(conversation_id="CV-E", idx=1, role="system", text="상담사가 연결되었습니다", at=_at(11)))
        for cid, turn, intent, day in [("CV-A", 1, "billing.inquiry", 10), ("CV-A", 2, "billing.inquiry", 10),
                                       ("CV-B", 1, "agent.human", 10), ("CV-C", 1, "billing.inquiry", 11),
                                       ("CV-C", 1, "data.usage", 11), ("CV-OLD", 1, "data.usage", 1)]:
            s.add(TurnIntent(conversation_id=cid, turn_index=turn, intent=intent, via="classifier", at=_at(day)))
        for cid, item, passed in [("CV-A", "identity_first", True), ("CV-B", "identity_first", False),
                                  ("CV-C", "identity_first", None), ("CV-A", "polite", True),
                                  ("CV-OLD", "polite", False)]:
            s.add(QaScore(conversation_id=cid, item=item, passed=passed, evidence={}, rubric_version="v1",
                          scored_at=_at(12)))
        for cid, turn, sentiment, score, esc, day in [("CV-A", 1, "neutral", 0.0, False, 10),
                                                       ("CV-B", 1, "angry", -1.0, True, 10),
                                                       ("CV-C", 1, "positive", 0.5, False, 11)]:
            s.add(TurnSignal(conversation_id=cid, turn_index=turn, sentiment=sentiment, score=score, escalate=esc,
                             at=_at(day)))
    since, until = dt.date(2026, 11, 10), dt.date(2026, 11, 11)

    assert [(d.day, d.conversations) for d in aggregate.volume_per_day(engine, since, until)] == [
        (dt.date(2026, 11, 10), 2), (dt.date(2026, 11, 11), 3)]
    stats = aggregate.containment(engine, since, until)
    assert (stats.conversations, stats.contained, stats.handed_off) == (5, 2, 3)
    assert stats.model_dump()["handoff_rate"] == 0.6  # the rates serialise for the dashboard's JSON
    assert [(d.day, d.handed_off) for d in aggregate.containment_per_day(engine, since, until)] == [
        (dt.date(2026, 11, 10), 1), (dt.date(2026, 11, 11), 2)]
    drivers = aggregate.top_drivers(engine, since, until)
    assert [(d.intent, d.turns, d.conversations) for d in drivers] == [
        ("billing.inquiry", 3, 2), ("agent.human", 1, 1), ("data.usage", 1, 1)]
    assert [(d.day, d.intent, d.turns) for d in aggregate.drivers_per_day(engine, since, until)] == [
        (dt.date(2026, 11, 10), "agent.human", 1), (dt.date(2026, 11, 10), "billing.inquiry", 2),
        (dt.date(2026, 11, 11), "billing.inquiry", 1), (dt.date(2026, 11, 11), "data.usage", 1)]
    qa = {q.item: q for q in aggregate.qa_pass_rates(engine, since, until)}
    assert (qa["identity_first"].passed, qa["identity_first"].failed, qa["identity_first"].not_applicable) == (1, 1, 1)
    assert qa["identity_first"].pass_rate == 0.5
    assert qa["polite"].pass_rate == 1.0  # CV-OLD's failure is outside the range
    trend = aggregate.sentiment_trend(engine, since, until)
    assert [(t.day, t.turns, t.angry, t.escalations) for t in trend] == [
        (dt.date(2026, 11, 10), 2, 1, 1), (dt.date(2026, 11, 11), 1, 0, 0)]
    assert trend[0].average_score == pytest.approx(-0.5)


# -- knowledge gaps ---------------------------------------------------------------------------------------------
POINTS = ["멤버십 포인트 얼마나 남았어요?", "포인트 조회해 주세요", "적립된 포인트 확인하고 싶어요", "포인트로 결제할 수 있나요?"]
NETFLIX = ["넷플릭스 구독 해지해 주세요", "넷플릭스 요금 얼마예요?", "넷플릭스 계정 비밀번호 잊어버렸어요", "넷플릭스 결합 상품 있나요?"]
STOCKS = ["주식 추천해 주세요", "오늘 삼성전자 주가 어때요?", "주식 투자 어떻게 해요?"]


def test_points_and_netflix_questions_land_in_different_clusters() -> None:
    labels = cluster_utterances(POINTS + NETFLIX + STOCKS + [POINTS[1]])
    points, netflix, stocks = (set(labels[i:i + n]) for i, n in ((0, 4), (4, 4), (8, 3)))
    assert len(points) == len(netflix) == len(stocks) == 1  # each topic is one cluster …
    assert len(points | netflix | stocks) == 3  # … and the topics are apart
    assert labels[-1] == labels[1]  # the same text, the same cluster


def test_gaps_of_generated_traffic_have_each_kind_and_masked_text(traffic) -> None:  # noqa: ANN001
    engine, _ = traffic
    gaps = collect_gaps(engine, SINCE, UNTIL)
    kinds = Counter(g.kind for g in gaps)
    assert set(kinds) == {"out_of_scope", "knowledge_refusal", "handoff"}
    traces = {(t.conversation_id, t.turn_index): t.data for t in _rows(engine, TurnTrace)}
    for gap in gaps:
        data = traces[(gap.conversation_id, gap.turn_index)]
        assert gap.text == data["user"]  # the stored (masked) utterance
        if gap.kind == "out_of_scope":
            assert "out_of_scope" in data["intents"]
    assert kinds["out_of_scope"] == sum("out_of_scope" in d["intents"] for d in traces.values())
    assert not any("010-9000" in g.text for g in gaps)  # phone numbers never leave masked
    # the handoff utterance is the customer's reason, not the request for a person
    assert any(g.kind == "handoff" and "상담" not in g.text for g in gaps)
    assert collect_gaps(engine, SINCE - dt.timedelta(days=9), SINCE - dt.timedelta(days=1)) == []
    clusters = aggregate.knowledge_gap_clusters(engine, SINCE, UNTIL)  # what the dashboard shows
    assert sum(c.size for c in clusters) == len(gaps) and clusters[0].size >= clusters[-1].size


def _trace(s, cid: str, turn: int, user: str, intents: list[str], reply: str = "", transfer: bool = False) -> None:  # noqa: ANN001
    calls = [{"name": "transfer_to_human", "status": "ok"}] if transfer else []
    s.add(TurnTrace(id=f"TR-{cid}-{turn}", conversation_id=cid, turn_index=turn, at=_at(10, turn),
                    data={"user": user, "reply": reply, "intents": intents, "tool_calls": calls}))
    for intent in intents:
        s.add(TurnIntent(conversation_id=cid, turn_index=turn, intent=intent, via="classifier", at=_at(10, turn)))


def test_each_gap_kind_and_the_reason_behind_a_transfer(db_engine_any: Engine) -> None:
    db_engine = db_engine_any
    from sangdam.orchestrator.format import say

    with session_scope(db_engine) as s:
        for cid, mode in [("CV-OFFER", "human"), ("CV-ASK", "human"), ("CV-OOS", "human"), ("CV-KB", "bot")]:
            s.add(Conversation(id=cid, channel="api", mode=mode, state={}, created_at=_at(10), updated_at=_at(10)))
        s.flush()
        # the bot offered a person after anger; the reason is the last task turn before accepting
        _trace(s, "CV-OFFER", 1, "요금이 왜 이렇게 많이 나왔어요?", ["billing.inquiry"])
        _trace(s, "CV-OFFER", 2, "진짜 짜증나네요", ["tech.troubleshoot"])
        _trace(s, "CV-OFFER", 3, "네", [], transfer=True)
        # asked for a person after an unanswered question
        _trace(s, "CV-ASK", 1, "넷플릭스 결합 상품 있나요?", ["billing.inquiry"])
        _trace(s, "CV-ASK", 2, "상담사 연결해 주세요", ["agent.human"])
        _trace(s, "CV-ASK", 3, "네", [], transfer=True)
        # the reason is already an out-of-scope gap: not counted twice
        _trace(s, "CV-OOS", 1, "주식 추천해 주세요", ["out_of_scope"])
        _trace(s, "CV-OOS", 2, "사람이랑 얘기할래요", ["agent.human"])
        _trace(s, "CV-OOS", 3, "네", [], transfer=True)
        # a refused knowledge question, and an answered one (not a gap)
        _trace(s, "CV-KB", 1, "eSIM 개통 되나요?", ["policy.question"], reply=say("knowledge.not_found"))
        _trace(s, "CV-KB", 2, "유심 교체는 어디서 하나요?", ["policy.question"], reply="가까운 매장에서 …")
    gaps = collect_gaps(db_engine, dt.date(2026, 11, 10), dt.date(2026, 11, 10))
    assert sorted((g.conversation_id, g.kind, g.text) for g in gaps) == [
        ("CV-ASK", "handoff", "넷플릭스 결합 상품 있나요?"),
        ("CV-KB", "knowledge_refusal", "eSIM 개통 되나요?"),
        ("CV-OFFER", "handoff", "진짜 짜증나네요"),
        ("CV-OOS", "out_of_scope", "주식 추천해 주세요"),
    ]


def test_faq_is_drafted_by_the_llm_only_when_the_profile_is_capable() -> None:
    calls = []

    def chat(messages, **kwargs):  # noqa: ANN001, ANN202
        calls.append(messages)
        return SimpleNamespace(text="Q. 포인트는 어떻게 조회하나요?\nA. [확인 필요]")

    capable = SimpleNamespace(capable_writer=True, chat=chat)
    text, by = suggest_faq(POINTS[:2], 2, capable)
    assert by == "llm" and text.startswith("Q. 포인트") and POINTS[0] in calls[0][1]["content"]
    text, by = suggest_faq(POINTS[:2], 2, SimpleNamespace(capable_writer=False, chat=chat))
    assert by == "template" and len(calls) == 1
    assert all(p in text for p in POINTS[:2]) and "2건" in text

    def broken(messages, **kwargs):  # noqa: ANN001, ANN202
        raise RuntimeError("model down")

    assert suggest_faq(POINTS[:1], 1, SimpleNamespace(capable_writer=True, chat=broken))[1] == "template"


# -- the report -------------------------------------------------------------------------------------------------
def test_report_writes_markdown_and_csv_with_the_columns(traffic, tmp_path: Path) -> None:  # noqa: ANN001
    engine, _ = traffic
    summary = build_report(engine, SINCE, UNTIL, tmp_path / "out")
    stats = aggregate.containment(engine, SINCE, UNTIL)
    assert summary.conversations == 30 and summary.handoff_rate == round(stats.handoff_rate, 4)
    assert {p.name for p in summary.files} >= {"report.md", "drivers.csv", "gaps.csv"}
    with (tmp_path / "out" / "drivers.csv").open(encoding="utf-8-sig") as fh:
        drivers = list(csv.DictReader(fh))
    assert tuple(drivers[0]) == DRIVER_COLUMNS
    assert sum(int(r["turns"]) for r in drivers) == sum(d.turns for d in aggregate.top_drivers(engine, SINCE, UNTIL, 100))
    with (tmp_path / "out" / "gaps.csv").open(encoding="utf-8-sig") as fh:
        gaps = list(csv.DictReader(fh))
    assert tuple(gaps[0]) == GAP_COLUMNS
    assert sum(int(r["size"]) for r in gaps) == summary.gap_utterances == len(collect_gaps(engine, SINCE, UNTIL))
    assert [int(r["size"]) for r in gaps] == sorted((int(r["size"]) for r in gaps), reverse=True)
    assert all(r["faq_by"] == "template" and r["examples"] for r in gaps)
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    for heading in ("# 상담 인사이트 리포트", "## 개요", "## 주요 문의 유형", "## 처리하지 못한 문의"):
        assert heading in markdown
    assert f"| {stats.conversations} | {stats.contained} | {stats.handed_off} |" in markdown


# -- the commands -----------------------------------------------------------------------------------------------
def test_demo_traffic_and_insights_report_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from sangdam.cli import app
    from sangdam.config import reset_settings

    engine = _fresh_engine(tmp_path / "cli.db")
    monkeypatch.setenv("SANGDAM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SANGDAM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SANGDAM_TODAY", TODAY.isoformat())
    reset_settings()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["demo", "traffic", "--conversations", "4", "--seed", "3", "--days", "2"])
        assert result.exit_code == 0, result.output
        assert "conversations/s" in result.output
        assert len(_rows(engine, Conversation)) == 4
        out = tmp_path / "report"
        args = ["insights", "report", "--since", "2026-11-13", "--until", "2026-11-14", "--out", str(out), "--llm", "none"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "4 conversations" in result.output
        assert {p.name for p in out.iterdir()} >= {"report.md", "drivers.csv", "gaps.csv"}
        reversed_range = ["insights", "report", "--since", "2026-11-14", "--until", "2026-11-13", "--out", str(out)]
        assert runner.invoke(app, reversed_range).exit_code == 2
    finally:
        reset_settings()
