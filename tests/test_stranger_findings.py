"""Found by strangers' conversations (issue 13's closing round), each a class of message nobody wrote a rule for."""

from __future__ import annotations

import pytest
from orchestrator_fixtures import orchestrator
from sqlalchemy import Engine

from sangdam.orchestrator import dialogue


@pytest.mark.parametrize("text", ["그럼해지안할게요", "해지는 하지 않을게요", "충전은 안 해도 돼요", "로밍 켜지 마세요"])
def test_saying_not_to_make_a_change_proposes_nothing(db_engine: Engine, text: str) -> None:
    """"그럼해지안할게요" after asking what cancelling would cost was read as the cancellation itself: the bot
    proposed it, and one "네" later the line would have gone to the cancellation desk."""
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    out = orch.handle(conv, text)
    assert out.pending_action is None and [c for c in out.tool_calls if c.status == "proposed"] == []
    assert "진행하지 않을게요" in out.reply, out.reply


@pytest.mark.parametrize(("text", "declines"), [
    ("로밍 안 켤게요", True), ("요금 안 낼래요", True), ("충전 필요 없어요", True),
    ("로밍이 안 켜져요", False), ("데이터가 안 터져요", False), ("인터넷이 안 돼요", False),
    ("해지 안 하면 위약금 없죠?", False), ("안내해 주세요", False),
])
def test_a_refusal_is_told_from_a_fault_report(text: str, declines: bool) -> None:
    assert dialogue.declines_doing(text) is declines


def test_a_chained_unservable_request_is_answered_not_dropped(db_engine: Engine) -> None:
    """"멤버십 포인트 조회하고 데이터 잔여량도 알려줘": the first clause shares the second's request verb; it was
    dropped without a word."""
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    out = orch.handle(conv, "멤버십 포인트 조회하고 데이터 잔여량도 알려줘")
    assert "도와드릴 수 없는 요청" in out.reply and "멤버십 포인트" in out.reply, out.reply
    assert "get_data_usage" in [c.name for c in out.tool_calls if c.status == "ok"]


@pytest.mark.parametrize(("pick", "pass_id"), [("cheapest one", "R-JP3"), ("the second one", "R-ASIA5"),
                                               ("마지막 거요", "R-ASIA5")])
def test_an_english_or_last_pick_from_a_listing(db_engine: Engine, pick: str, pass_id: str) -> None:
    """"cheapest one" after the passes were listed was routed out of scope."""
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    listed = orch.handle(conv, "일본 로밍 켜줘")
    assert listed.pending_action is None and "일본 3일" in listed.reply
    picked = orch.handle(conv, pick)
    assert picked.pending_action is not None, picked.reply
    assert picked.pending_action["calls"][0]["args"]["pass_id"] == pass_id


def test_the_cheapest_of_the_recommended_plans(db_engine: Engine) -> None:
    """"제일 싼 걸로 바꿔줘" after a recommendation asked which plan, listing the whole catalogue."""
    from sangdam.domain.seed import seed
    from sangdam.orchestrator import Orchestrator
    import datetime as dt

    today = dt.date(2026, 11, 29)
    seed(db_engine, today=today)
    orch = Orchestrator(db_engine, today=today)
    conv = orch.start_conversation(customer_id="C-DEMO-LIGHT")
    rec = orch.handle(conv, "나한테 맞는 요금제 뭐야")
    assert "5G 라이트" in rec.reply and "5G 슬림" in rec.reply, rec.reply
    change = orch.handle(conv, "제일 싼 걸로 바꿔줘")
    assert change.pending_action is not None, change.reply
    assert change.pending_action["calls"][0]["args"]["plan_id"] == "P-5G-LITE"
    second = orch.handle(conv, "아 아니 두 번째 걸로요")
    assert second.pending_action is not None and second.pending_action["calls"][0]["args"]["plan_id"] != "P-5G-LITE"


def test_a_bare_request_after_a_what_if_takes_it_up(db_engine: Engine) -> None:
    """"5G 라이트로 바꾸면 한달에 얼마 아껴요?" was read as plan information, and "그럼 바꿔줘" then asked which plan
    (the whole catalogue). The question previews the change; the bare request proposes that change (its own yes
    still needed); a request that names another plan is a request of its own."""
    import datetime as dt

    from sangdam.domain.seed import seed
    from sangdam.orchestrator import Orchestrator

    today = dt.date(2026, 11, 29)
    seed(db_engine, today=today)
    orch = Orchestrator(db_engine, today=today)
    conv = orch.start_conversation(customer_id="C-DEMO-LIGHT")
    preview = orch.handle(conv, "5G 라이트로 바꾸면 한달에 얼마 아껴요?")
    assert preview.pending_action is None and "5G 라이트" in preview.reply, preview.reply
    assert [c.name for c in preview.tool_calls if c.status == "proposed"] == ["change_plan"]
    taken = orch.handle(conv, "그럼 바꿔줘")
    assert taken.pending_action is not None and taken.pending_action["calls"][0]["args"]["plan_id"] == "P-5G-LITE"
    other = orch.start_conversation(customer_id="C-DEMO-LIGHT")
    orch.handle(other, "5G 라이트로 바꾸면 한달에 얼마 아껴요?")
    named = orch.handle(other, "5G 슬림으로 바꿔줘")
    assert named.pending_action is not None and named.pending_action["calls"][0]["args"]["plan_id"] == "P-5G-SLIM"


@pytest.mark.parametrize("text", ["로밍 켜둔 회선 있나요?", "어느 회선 로밍 켜져 있어요?", "로밍 켜놓은 번호 있어요?"])
def test_a_roaming_status_question_across_lines_answers_for_every_line(db_engine: Engine, text: str) -> None:
    """"로밍 켜둔 회선 있나요?" (issue 14's own example) was read as a request to turn roaming on, and asked which
    line. Over several lines it now says each line's status, those with roaming on first; nothing is proposed."""
    import datetime as dt

    from sangdam.domain.db import session_scope
    from sangdam.domain.models import Line
    from sangdam.domain.seed import seed
    from sangdam.orchestrator import Orchestrator

    today = dt.date(2026, 11, 29)
    seed(db_engine, today=today)
    with session_scope(db_engine) as s:  # his second line (010-9000-0013) is abroad with a pass
        line = s.get(Line, "L-DEMO-LOST-2")
        line.roaming_enabled, line.roaming_pass_id = True, "R-JP3"
    orch = Orchestrator(db_engine, today=today)
    conv = orch.start_conversation(customer_id="C-DEMO-LOST")
    out = orch.handle(conv, text)
    assert out.reply.splitlines() == ["끝자리 0013 회선은 로밍이 켜져 있습니다. 이용 중인 로밍 요금제는 일본 3일입니다.",
                                      "끝자리 0003 회선은 로밍이 꺼져 있습니다."], out.reply
    assert out.pending_action is None and not [c for c in out.tool_calls if c.status == "proposed"]


@pytest.mark.parametrize(("text", "reply"), [("0013 로밍 켜져있어요?", "현재 로밍이 켜져 있습니다."),
                                             ("로밍 켜놨나요?", None), ("로밍 켜 주세요", None)])
def test_one_line_status_and_the_enable_request_are_unchanged(db_engine: Engine, text: str, reply: str | None) -> None:
    import datetime as dt

    from sangdam.domain.db import session_scope
    from sangdam.domain.models import Line
    from sangdam.domain.seed import seed
    from sangdam.orchestrator import Orchestrator

    today = dt.date(2026, 11, 29)
    seed(db_engine, today=today)
    with session_scope(db_engine) as s:
        s.get(Line, "L-DEMO-LOST-2").roaming_enabled = True
    orch = Orchestrator(db_engine, today=today)
    conv = orch.start_conversation(customer_id="C-DEMO-LOST")
    out = orch.handle(conv, text)
    if reply is not None:
        assert out.reply == reply
    else:  # one line to name: the question of which, as before (a status question or the start of an enable)
        assert out.reply.startswith("어느 회선에 대한 요청인지") and out.pending_action is None


def test_that_lines_plan_after_a_question_about_that_line(db_engine: Engine) -> None:
    """"그 회선 요금제는 뭐예요?" right after the data of line 0013 listed the whole catalogue: "그 회선" is the
    customer's own line, the one just talked about. "이 번호 요금제" with two lines asks which; "요금제 종류" is still
    the catalogue."""
    import datetime as dt

    from sangdam.domain.seed import seed
    from sangdam.orchestrator import Orchestrator

    today = dt.date(2026, 11, 29)
    seed(db_engine, today=today)
    orch = Orchestrator(db_engine, today=today)
    conv = orch.start_conversation(customer_id="C-DEMO-LOST")
    orch.handle(conv, "0013 회선 데이터 얼마 남았어요?")
    out = orch.handle(conv, "그 회선 요금제는 뭐예요?")
    assert "LTE 미니" in out.reply and "5G 시그니처" not in out.reply, out.reply
    other = orch.start_conversation(customer_id="C-DEMO-LOST")
    assert orch.handle(other, "이 번호 요금제 뭐에요").reply.startswith("어느 회선에 대한 요청인지")
    assert "5G 시그니처" in orch.handle(other, "요금제 종류 알려주세요").reply
