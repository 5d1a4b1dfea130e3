"""The insights dashboard (issue 16, item 4): ``GET /api/v1/insights/summary`` and the page ``/console/insights``,
on a real server. The API's numbers are checked against counts computed here, in Python, from the very rows the
test inserts; the page is driven in Debian chromium (screenshots in ``test-artifacts/``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from sangdam.domain.conversation_models import Conversation, Message, TurnTrace
from sangdam.domain.db import session_scope
from sangdam.domain.insight_models import QaScore, TurnIntent, TurnSignal
from sangdam.server.app import create_app
from sangdam.server.keys import create_key
from server_support import populate_server_world, running_server

TODAY = dt.date(2026, 11, 29)
FIRST_DAY = dt.date(2026, 11, 1)
INTENTS = ("billing.inquiry", "plan.change", "data.refill", "roaming.enable", "out_of_scope", "agent.human")
SENTIMENTS = ("positive", "neutral", "negative", "angry")
QA_ITEMS = ("identity_before_disclosure", "confirmation_before_write", "polite_register")
GAP_TEXT = "외계인 전용 요금제도 있나요?"  # every out-of-scope turn says it: one cluster, no embedding needed
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@dataclass
class Planned:
    """One conversation the test inserts, and everything the expected numbers are computed from."""

    id: str
    created: dt.datetime
    mode: str
    roles: list[str]  # stored messages' roles, in order
    intents: list[tuple[int, str, dt.datetime]] = field(default_factory=list)
    signals: list[tuple[int, str, dt.datetime]] = field(default_factory=list)
    qa: dict[str, bool | None] = field(default_factory=dict)

    @property
    def counted(self) -> bool:
        return "customer" in self.roles

    @property
    def reached_human(self) -> bool:
        return self.mode == "human" or "agent" in self.roles or "system" in self.roles


def plan_world(seed: int = 16, n: int = 90) -> list[Planned]:
    """Conversations over November 2026 (and a few in October and December, outside the ranges asked)."""
    rng = random.Random(seed)
    planned = []
    for i in range(n):
        day = FIRST_DAY + dt.timedelta(days=rng.randrange(-5, 34))
        created = dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)))
        shape = rng.random()
        if shape < 0.08:
            roles, mode = [], "bot"  # a chat page opened and left: not a consultation
        elif shape < 0.25:
            roles, mode = ["customer", "bot"], "human"  # the bot transferred it, nobody joined yet
        elif shape < 0.35:
            roles, mode = ["customer", "bot", "system", "agent", "system"], "bot"  # taken over, handed back
        elif shape < 0.40:
            roles, mode = ["customer", "bot", "system", "agent"], "closed"
        else:
            roles, mode = ["customer", "bot"] * rng.randrange(1, 4), rng.choice(["bot", "bot", "closed"])
        p = Planned(f"CV-{i:04d}", created, mode, roles)
        for turn in range(roles.count("customer")):
            at = created + dt.timedelta(minutes=turn)
            for intent in rng.sample(INTENTS, rng.randrange(1, 3)):
                p.intents.append((turn, intent, at))
            p.signals.append((turn, rng.choice(SENTIMENTS), at))
        if p.counted:
            p.qa = {item: rng.choice([True, True, False, None]) for item in rng.sample(QA_ITEMS, rng.randrange(1, 4))}
        planned.append(p)
    return planned


def insert(engine: Engine, planned: list[Planned]) -> None:
    with session_scope(engine) as s:
        for p in planned:
            s.add(Conversation(id=p.id, channel="web", mode=p.mode, state={}, created_at=p.created, updated_at=p.created))
        s.flush()
        for p in planned:
            for idx, role in enumerate(p.roles):
                s.add(Message(conversation_id=p.id, idx=idx, role=role, text="…", at=p.created))
            for turn, intent, at in p.intents:
                s.add(TurnIntent(conversation_id=p.id, turn_index=turn, intent=intent, via="classifier", at=at))
                if intent == "out_of_scope":  # the trace the knowledge-gap collector reads the utterance from
                    s.add(TurnTrace(id=f"TR-{p.id}-{turn}", conversation_id=p.id, turn_index=turn, at=at,
                                    data={"user": GAP_TEXT, "intents": [intent], "reply": "…"}))
            for turn, label, at in p.signals:
                s.add(TurnSignal(conversation_id=p.id, turn_index=turn, sentiment=label, score=0.0,
                                 escalate=label == "angry", at=at))
            for item, passed in p.qa.items():
                s.add(QaScore(conversation_id=p.id, item=item, passed=passed, evidence={}, rubric_version="t",
                              scored_at=dt.datetime(2026, 12, 1)))


def expected(planned: list[Planned], start: dt.date, end: dt.date) -> dict:
    """The dashboard's numbers, counted in Python from the planned rows (not from the database)."""
    inside = lambda at: start <= at.date() <= end  # noqa: E731
    convs = [p for p in planned if p.counted and inside(p.created)]
    human = [p for p in convs if p.reached_human]
    per_day = Counter(p.created.date().isoformat() for p in convs)
    human_day = Counter(p.created.date().isoformat() for p in human)
    qa: dict[str, Counter] = {}
    for p in convs:
        for item, passed in p.qa.items():
            qa.setdefault(item, Counter())[{True: "passed", False: "failed", None: "not_applicable"}[passed]] += 1
    sentiment: dict[str, Counter] = {}
    turns, conversations = Counter(), {}
    for p in planned:
        for _, label, at in p.signals:
            if inside(at):
                sentiment.setdefault(at.date().isoformat(), Counter())[label] += 1
        for _, intent, at in p.intents:
            if inside(at):
                turns[intent] += 1
                conversations.setdefault(intent, set()).add(p.id)
    return {
        "total": len(convs), "handed_off": len(human),
        "per_day": [{"day": d, "conversations": per_day[d], "handed_off": human_day[d]} for d in sorted(per_day)],
        "qa": {item: {k: c[k] for k in ("passed", "failed", "not_applicable")} for item, c in qa.items()},
        "sentiment": {d: {s: c[s] for s in SENTIMENTS} for d, c in sentiment.items()},
        "drivers": {i: (turns[i], len(conversations[i])) for i in turns},
        "gap_turns": turns["out_of_scope"], "gap_conversations": len(conversations.get("out_of_scope", ())),
    }


@dataclass
class Served:
    base: str
    keys: dict[str, str]
    planned: list[Planned]
    database: str = ""

    def summary(self, key: str = "agent", what: str = "summary", **params: str) -> httpx.Response:
        token = self.keys.get(key, key)
        return httpx.get(f"{self.base}/api/v1/insights/{what}", params=params,
                         headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=60)


def serve(engine: Engine) -> Iterator[Served]:
    """The planned world in ``engine``, served on loopback with an agent, an admin and customers' keys."""
    planned = plan_world()
    populate_server_world(engine)  # customers, so a key can be bound to one
    insert(engine, planned)
    keys = {role: create_key(engine, role).key for role in ("agent", "admin", "customer-channel", "channel-trusted")}
    keys["bound"] = create_key(engine, "customer-channel", customer_id="C-C").key
    with running_server(create_app(engine, today=TODAY, rate_per_minute=0)) as base:
        yield Served(base, keys, planned, engine.url.render_as_string(hide_password=False))


@pytest.fixture()
def served_any(db_engine_any: Engine) -> Iterator[Served]:
    yield from serve(db_engine_any)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from sangdam.domain.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('insights') / 'sangdam.db'}")
    migrate(engine)
    try:
        yield from serve(engine)
    finally:
        engine.dispose()


def assert_matches(body: dict, want: dict) -> None:
    volume = body["volume"]
    assert volume["total"] == want["total"] > 0
    assert volume["handed_off"] == want["handed_off"] > 0
    assert volume["contained"] == want["total"] - want["handed_off"]
    assert volume["containment_rate"] == pytest.approx((want["total"] - want["handed_off"]) / want["total"])
    assert volume["handoff_rate"] == pytest.approx(want["handed_off"] / want["total"])
    assert volume["per_day"] == want["per_day"]
    got_qa = {q["item"]: {k: q[k] for k in ("passed", "failed", "not_applicable")} for q in body["qa"]}
    assert got_qa == want["qa"]
    for q in body["qa"]:
        decided = q["passed"] + q["failed"]
        assert q["pass_rate"] == (pytest.approx(q["passed"] / decided) if decided else None)
    assert {d["day"]: d["counts"] for d in body["sentiment"]} == want["sentiment"]
    assert {d["intent"]: (d["turns"], d["conversations"]) for d in body["drivers"]} == want["drivers"]
    ranked = [(d["conversations"], d["turns"]) for d in body["drivers"]]
    assert ranked == sorted(ranked, reverse=True)  # the most frequent first


# -- the API -------------------------------------------------------------------------------------------------
def test_summary_numbers_equal_counts_of_the_inserted_rows(served_any: Served) -> None:
    res = served_any.summary(**{"from": "2026-11-01", "to": "2026-11-29"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["from"], body["to"]) == ("2026-11-01", "2026-11-29")
    assert_matches(body, expected(served_any.planned, dt.date(2026, 11, 1), dt.date(2026, 11, 29)))
    labels = {d["intent"]: d["label"] for d in body["drivers"]}
    assert labels["billing.inquiry"] == "요금 조회" and labels["out_of_scope"] == "상담 범위 외"


def test_qa_items_carry_the_korean_labels_of_the_rubric_in_use(served: Served, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sangdam.contact_center.qa")
    from importlib import resources

    labels = lambda: {q["item"]: q["label"] for q in served.summary().json()["qa"]}  # noqa: E731
    assert labels()["polite_register"] == "존댓말 사용"  # the packaged rubric
    packaged = resources.files("sangdam.resources").joinpath("contact_center").joinpath("qa_rubric.yaml")
    packaged = packaged.read_text(encoding="utf-8")
    own = tmp_path / "rubric.yaml"
    own.write_text(packaged.replace("label_ko: 존댓말 사용", "label_ko: 공손한 말씨"), encoding="utf-8")
    monkeypatch.setenv("SANGDAM_QA_RUBRIC", str(own))  # an operator's edited copy
    assert labels()["polite_register"] == "공손한 말씨"


def test_date_filter_excludes_rows_outside_the_range(served: Served) -> None:
    week = served.summary(**{"from": "2026-11-10", "to": "2026-11-16"}).json()
    want = expected(served.planned, dt.date(2026, 11, 10), dt.date(2026, 11, 16))
    assert_matches(week, want)
    month = served.summary(**{"from": "2026-11-01", "to": "2026-11-30"}).json()
    assert 0 < week["volume"]["total"] < month["volume"]["total"]
    assert all("2026-11-10" <= d["day"] <= "2026-11-16" for d in week["volume"]["per_day"] + week["sentiment"])
    # rows dated in October and December exist, and no November range counts them
    outside = [p for p in served.planned if p.counted and not dt.date(2026, 11, 1) <= p.created.date() <= dt.date(2026, 11, 30)]
    everything = served.summary(**{"from": "2026-10-01", "to": "2026-12-31"}).json()
    assert outside and everything["volume"]["total"] == month["volume"]["total"] + len(outside)
    nothing = served.summary(**{"from": "2025-01-01", "to": "2025-01-31"}).json()
    assert nothing["volume"] == {"total": 0, "contained": 0, "handed_off": 0, "containment_rate": None,
                                 "handoff_rate": None, "per_day": []}
    assert nothing["qa"] == nothing["sentiment"] == nothing["drivers"] == []


def test_knowledge_gaps_come_from_the_insights_package(served: Served) -> None:
    pytest.importorskip("sangdam.insights.gaps")
    res = served.summary(what="gaps", **{"from": "2026-11-01", "to": "2026-11-29"})
    assert res.status_code == 200, res.text
    body = res.json()
    want = expected(served.planned, dt.date(2026, 11, 1), dt.date(2026, 11, 29))
    assert body["available"] is True and want["gap_turns"] > 0
    [cluster] = body["clusters"]
    assert (cluster["size"], cluster["conversations"]) == (want["gap_turns"], want["gap_conversations"])
    assert cluster["examples"] == [GAP_TEXT] and cluster["kinds"] == {"out_of_scope": want["gap_turns"]}
    assert GAP_TEXT in cluster["faq"]
    assert served.summary("customer-channel", what="gaps").status_code == 403
    assert served.summary(what="gaps", **{"from": "2026-11-30", "to": "2026-11-01"}).status_code == 422


def test_dashboard_and_insights_report_count_alike(served: Served) -> None:
    """The page and ``sangdam insights report`` (sangdam.insights.aggregate) share their definitions."""
    aggregate = pytest.importorskip("sangdam.insights.aggregate")
    from sangdam.domain.db import make_engine

    since, until = dt.date(2026, 11, 1), dt.date(2026, 11, 29)
    page = served.summary(**{"from": str(since), "to": str(until)}).json()
    engine = make_engine(served.database)
    try:
        report = aggregate.containment(engine, since, until)
        per_day = aggregate.volume_per_day(engine, since, until)
        qa = aggregate.qa_pass_rates(engine, since, until)
        drivers = aggregate.top_drivers(engine, since, until, limit=50)
        sentiment = aggregate.sentiment_trend(engine, since, until)
    finally:
        engine.dispose()
    volume = page["volume"]
    assert (volume["total"], volume["contained"], volume["handed_off"]) == (
        report.conversations, report.contained, report.handed_off)
    assert [(d["day"], d["conversations"]) for d in volume["per_day"]] == [(str(d.day), d.conversations) for d in per_day]
    assert {(q["item"], q["passed"], q["failed"], q["not_applicable"]) for q in page["qa"]} == {
        (q.item, q.passed, q.failed, q.not_applicable) for q in qa}
    assert {(d["intent"], d["turns"], d["conversations"]) for d in page["drivers"]} == {
        (d.intent, d.turns, d.conversations) for d in drivers}
    assert {d["day"]: (sum(d["counts"].values()), d["counts"]["negative"], d["counts"]["angry"])
            for d in page["sentiment"]} == {str(d.day): (d.turns, d.negative, d.angry) for d in sentiment}


def test_default_range_is_the_last_30_days_of_the_business_date(served: Served) -> None:
    body = served.summary().json()
    assert (body["from"], body["to"]) == ("2026-10-31", "2026-11-29")
    assert body["volume"]["total"] == expected(served.planned, dt.date(2026, 10, 31), TODAY)["total"]


def test_admin_key_sees_the_summary_too(served: Served) -> None:
    assert served.summary("admin").status_code == 200


@pytest.mark.parametrize("who", ["customer-channel", "bound", "channel-trusted", "web-session"])
def test_customer_keys_and_sessions_are_refused(served: Served, who: str) -> None:
    if who == "web-session":
        token = httpx.post(f"{served.base}/api/v1/sessions", json={}, timeout=30).json()["token"]
        res = served.summary(token)
    else:
        res = served.summary(who)
    assert res.status_code == 403
    assert res.json()["error"]["code"] == "forbidden"
    assert "volume" not in res.text


def test_no_key_is_401(served: Served) -> None:
    assert served.summary("").status_code == 401


@pytest.mark.parametrize(("params", "reason"), [
    ({"from": "2026-13-01", "to": "2026-11-29"}, "'from' must be a date as YYYY-MM-DD, got '2026-13-01'"),
    ({"from": "2026-11-01", "to": "yesterday"}, "'to' must be a date as YYYY-MM-DD, got 'yesterday'"),
    ({"from": "2026-11-1", "to": "2026-11-29"}, "'from' must be a date as YYYY-MM-DD, got '2026-11-1'"),
    ({"from": "2026-W44-1", "to": "2026-11-29"}, "'from' must be a date as YYYY-MM-DD, got '2026-W44-1'"),
    ({"from": "2026-02-30", "to": "2026-11-29"}, "'from' must be a date as YYYY-MM-DD, got '2026-02-30'"),
    ({"from": "2026-11-29", "to": "2026-11-01"}, "'from' (2026-11-29) is after 'to' (2026-11-01)"),
    ({"from": "1900-01-01", "to": "2026-11-01"}, "the range spans more than 3660 days"),
])
def test_bad_dates_answer_422_with_the_reason(served: Served, params: dict[str, str], reason: str) -> None:
    res = served.summary(**params)
    assert res.status_code == 422
    assert res.json()["error"] == {"code": "invalid_request", "message": reason,
                                   "message_ko": res.json()["error"]["message_ko"]}


def test_the_page_is_served_under_the_csp_with_the_vendored_chart_library(served: Served) -> None:
    page = httpx.get(f"{served.base}/console/insights", timeout=30)
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    for label in ("상담 건수", "자동 해결률", "상담사 연결률", "QA 통과율", "감정 추이", "주요 문의 유형", "지식 공백"):
        assert label in page.text
    assert '<script src="/static/vendor/chartjs/chart.umd.js">' in page.text and "<script>" not in page.text
    lib = httpx.get(f"{served.base}/static/vendor/chartjs/chart.umd.js", timeout=30)
    assert lib.status_code == 200 and lib.text.startswith("/*!\n * Chart.js v4.6.1")
    assert 'href="/console/insights"' in httpx.get(f"{served.base}/console", timeout=30).text


# -- the page, in a real browser -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


CHART_POINTS = """(id) => { const c = Chart.getChart(document.getElementById(id));
  return c ? c.data.datasets.map((d) => d.data.reduce((a, b) => a + b, 0)) : null; }"""


def test_dashboard_draws_charts_and_follows_the_date_range(browser, served: Served) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    refused: list[str] = []
    # the page's own Content-Security-Policy stays on: Chart.js and the page run under script-src 'self'
    page = browser.new_context(locale="ko-KR", viewport={"width": 1400, "height": 1500}).new_page()
    page.set_default_timeout(60_000)
    failed: list[tuple[str, int]] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("response", lambda r: failed.append((r.url.split("?")[0].removeprefix(served.base), r.status))
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.goto(f"{served.base}/console/insights")
    page.get_by_test_id("key").fill(served.keys["agent"])
    page.get_by_test_id("login").click()
    page.locator("body[data-range='2026-10-31..2026-11-29']").wait_for(state="attached")

    month = expected(served.planned, dt.date(2026, 10, 31), TODAY)
    assert page.get_by_test_id("kpi-volume").inner_text() == f"{month['total']}건"
    rate = (month["total"] - month["handed_off"]) / month["total"] * 100
    assert page.get_by_test_id("kpi-containment").inner_text() == f"{rate:.1f}%"
    for chart in ("chart-volume", "chart-sentiment", "chart-drivers", "chart-qa"):
        canvas = page.get_by_test_id(chart)
        assert canvas.bounding_box()["height"] > 100  # drawn at its panel's size
        assert int(canvas.get_attribute("data-points")) > 0
    assert page.evaluate(CHART_POINTS, "chart-volume") == [month["total"], month["handed_off"]]
    assert sum(page.evaluate(CHART_POINTS, "chart-sentiment")) == sum(sum(c.values()) for c in month["sentiment"].values())
    assert "요금 조회" in page.get_by_test_id("table-drivers").inner_text()
    page.locator("body[data-gaps='2026-10-31..2026-11-29']").wait_for(state="attached")
    assert GAP_TEXT in page.get_by_test_id("gap").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "insights-30-days.png"), full_page=True)

    page.get_by_test_id("from").fill("2026-11-10")
    page.get_by_test_id("to").fill("2026-11-16")
    page.get_by_test_id("apply").click()
    page.locator("body[data-range='2026-11-10..2026-11-16']").wait_for(state="attached")
    week = expected(served.planned, dt.date(2026, 11, 10), dt.date(2026, 11, 16))
    assert week["total"] != month["total"]
    assert page.get_by_test_id("kpi-volume").inner_text() == f"{week['total']}건"
    assert page.evaluate(CHART_POINTS, "chart-volume") == [week["total"], week["handed_off"]]
    assert len(page.evaluate("Chart.getChart(document.getElementById('chart-volume')).data.labels")) == 7
    page.locator("body[data-gaps='2026-11-10..2026-11-16']").wait_for(state="attached")
    page.screenshot(path=str(ARTIFACTS / "insights-one-week.png"), full_page=True)

    page.get_by_test_id("to").fill("2026-11-01")  # before 'from': the server's reason is shown, numbers stay
    page.get_by_test_id("apply").click()
    page.get_by_test_id("error").filter(has_text="요청").wait_for()
    assert page.get_by_test_id("kpi-volume").inner_text() == f"{week['total']}건"
    assert refused == []
    assert failed == [("/api/v1/insights/summary", 422)]


def test_console_links_to_the_dashboard_without_a_second_login(browser, served: Served) -> None:  # noqa: ANN001
    page = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{served.base}/console")
    page.get_by_test_id("key").fill(served.keys["agent"])
    page.get_by_test_id("login").click()
    page.get_by_test_id("conversations").wait_for()
    page.get_by_test_id("insights-link").click()
    page.locator("body[data-range]").wait_for(state="attached")
    assert page.url.endswith("/console/insights")
    assert page.get_by_test_id("kpi-volume").inner_text().endswith("건")


def test_customer_key_cannot_open_the_dashboard(browser, served: Served) -> None:  # noqa: ANN001
    page = browser.new_context(locale="ko-KR").new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{served.base}/console/insights")
    page.get_by_test_id("key").fill(served.keys["customer-channel"])
    page.get_by_test_id("login").click()
    page.locator("#login-error:not(:empty)").wait_for()
    assert page.locator("#dashboard").is_hidden()
