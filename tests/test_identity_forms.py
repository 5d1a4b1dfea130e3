"""Identity answers in every common Korean form (issue 10, item 3): dates and phone numbers as customers type
and say them, what is kept between turns, and what the bot says when it cannot read the answer."""

from __future__ import annotations

import datetime as dt

import pytest

from sangdam.korean.extract import extract_birth_date, extract_phone
from sangdam.orchestrator.format import say
from orchestrator_fixtures import TODAY, orchestrator

BIRTH = dt.date(1998, 12, 4)


@pytest.mark.parametrize(
    "text",
    [
        "1998-12-04", "19981204", "981204", "98.12.04", "98/12/04", "98-12-04", "98.12.4", "98. 12. 04",
        "1998.12.04", "1998/12/4", "1998년 12월 4일", "1998년12월4일", "98년 12월 4일", "98년12월4일",
        "98년생이고 생일은 12월 4일이에요", "98년생 12월 4일", "98년생12월4일", "12월 4일 98년생",
        "생일은 12월 4일이고 98년생이에요", "1998년생 12월 4일생입니다", "98년 12월 4일생",
        "구팔일이공사", "천구백구십팔년 십이월 사일", "구십팔년 십이월 사일", "98 12 04",
    ],
)
def test_common_korean_birth_date_forms_are_read(text: str) -> None:
    assert extract_birth_date(text, today=TODAY) == BIRTH


@pytest.mark.parametrize(
    "text",
    [
        "12월 요금 알려주세요", "3기가 충전해 주세요", "5G 요금제로 바꿔 주세요", "12월 4일에 납부했어요",
        "2026년 12월 4일", "2030-01-01", "98년생이에요", "아이폰 15 프로 쓰고 있어요", "이월 데이터 있나요",
        "1588-0114로 전화했어요", "2.5기가 남았어요", "청구서 B-2026-10-001234",
    ],
)
def test_ordinary_text_and_impossible_dates_are_not_birth_dates(text: str) -> None:
    assert extract_birth_date(text, today=TODAY) is None


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("010-1234-5678", "010-1234-5678"), ("01012345678", "010-1234-5678"), ("010 1234 5678", "010-1234-5678"),
        ("+82 10-1234-5678", "010-1234-5678"), ("공일공 일이삼사 오육칠팔", "010-1234-5678"),
        ("영일영 일이삼사 오육칠팔", "010-1234-5678"), ("공일공일이삼사오육칠팔이요", "010-1234-5678"),
        ("공일공 구천 공공공팔", "010-9000-0008"), ("공일공 구천 공공공팔이에요", "010-9000-0008"),
        ("공일공에 구천에 공공공팔", "010-9000-0008"), ("공일공 이천이백이십이 삼천삼백삼십삼", "010-2222-3333"),
    ],
)
def test_common_phone_forms_are_read(text: str, phone: str) -> None:
    assert extract_phone(text) == phone


def _ask(orch) -> str:
    conv = orch.start_conversation()
    first = orch.handle(conv, "제 요금 얼마 나왔어요?")
    assert "본인 확인" in first.reply
    return conv


@pytest.mark.parametrize(
    "answer",
    [
        "010-2222-3333 90.04.12", "010-2222-3333, 90/04/12", "01022223333 90년생이고 생일은 4월 12일이에요",
        "4월 12일 90년생이고 번호는 010 2222 3333", "공일공 이이이이 삼삼삼삼 구공공사일이",
        "공일공 이천이백이십이 삼천삼백삼십삼, 1990년 4월 12일", "+82 10-2222-3333 / 900412",
    ],
)
def test_identity_answer_in_any_common_form_is_accepted(db_engine, answer: str) -> None:
    orch = orchestrator(db_engine)
    conv = _ask(orch)
    done = orch.handle(conv, answer)
    assert done.verified_customer_id == "C1"
    assert "61,200원" in done.reply


def test_one_factor_is_kept_while_the_other_is_asked_for(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = _ask(orch)
    half = orch.handle(conv, "90년 4월 12일이요")
    assert half.verified_customer_id is None
    assert half.reply.startswith(say("identity.need_phone").split(".")[0])
    done = orch.handle(conv, "공일공 이이이이 삼삼삼삼")
    assert done.verified_customer_id == "C1"


@pytest.mark.parametrize(
    ("wrong", "fixed"),
    [
        # the birth date: the phone given a turn earlier is kept
        ("010-2222-3333이고 생년월일은 1991년 4월 12일이에요", "아 죄송해요, 생일은 1990년 4월 12일이에요"),
        # the phone: the birth date is kept
        ("010-2222-3334, 1990년 4월 12일", "번호를 잘못 말했네요 010-2222-3333입니다"),
        # only the day: the year and the phone are kept
        ("010-2222-3333, 1990년 4월 13일", "아 12일이요, 4월 12일"),
    ],
)
def test_correcting_one_part_keeps_what_was_given_before(db_engine, wrong: str, fixed: str) -> None:
    orch = orchestrator(db_engine)
    conv = _ask(orch)
    assert orch.handle(conv, wrong).verified_customer_id is None
    done = orch.handle(conv, fixed)
    assert done.verified_customer_id == "C1"
    assert "61,200원" in done.reply


def test_after_two_unreadable_answers_the_bot_says_exactly_what_is_missing_with_an_example(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = _ask(orch)
    orch.handle(conv, "010-2222-3333이요")
    first = orch.handle(conv, "그건 좀 기억이 안 나는데요")
    assert first.verified_customer_id is None
    second = orch.handle(conv, "음 잘 모르겠어요")
    assert second.reply != first.reply  # not the same request forever
    assert say("identity.missing_birth_date") in second.reply
    assert extract_birth_date(say("identity.missing_birth_date"), today=TODAY) is not None  # shows an example


def test_after_two_unreadable_answers_without_any_factor_both_are_named(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = _ask(orch)
    orch.handle(conv, "잘 모르겠어요")
    second = orch.handle(conv, "음...")
    assert say("identity.missing_both") in second.reply
    assert "휴대폰 번호" in second.reply and "생년월일" in second.reply


def test_a_new_request_while_identity_is_asked_still_routes(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = _ask(orch)
    other = orch.handle(conv, "그냥 상담사 연결해 주세요")
    assert "transfer_to_human" in [c.name for c in other.tool_calls if c.status == "ok"]  # a person, at once


@pytest.mark.parametrize(
    ("text", "birth"),
    [("천구백팔십칠년 유월 이십일일", dt.date(1987, 6, 21)), ("시월 삼일 팔칠년생이에요", dt.date(1987, 10, 3)),
     ("공일공 구천 공공공사 팔이년 팔월 삼십일", dt.date(1982, 8, 30))],
)
def test_irregular_month_names_and_a_year_in_words_after_a_spoken_phone_are_read(text: str, birth: dt.date) -> None:
    assert extract_birth_date(text, today=TODAY) == birth


def test_year_and_day_given_in_separate_messages_are_put_together(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = _ask(orch)
    year = orch.handle(conv, "90년생이에요")
    assert year.reply == say("identity.need_birth_day")
    day = orch.handle(conv, "4월 12일이요")
    assert day.reply == say("identity.need_phone")
    done = orch.handle(conv, "010-2222-3333")
    assert done.verified_customer_id == "C1"
    customer_lines = [m["text"] for m in orch.transcript(conv) if m["role"] == "customer"]
    assert customer_lines[1:3] == ["[생년월일#1]이에요", "[생년월일#2]이요"]


def test_mobile_number_said_without_010_is_accepted_and_masked_when_asked(db_engine) -> None:
    orch = orchestrator(db_engine)
    conv = _ask(orch)
    half = orch.handle(conv, "번호는 2222-3333이에요")
    assert half.reply == say("identity.need_birth_date")
    assert orch.handle(conv, "90년 4월 12일").verified_customer_id == "C1"
    customer_lines = [m["text"] for m in orch.transcript(conv) if m["role"] == "customer"]
    assert customer_lines[1] == "번호는 [전화번호#1]이에요"
