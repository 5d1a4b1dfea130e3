"""Korean particles after names: 으로/로, 이/가, 을/를, 은/는 follow the word's last sound (issue 10, item 8)."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import load_fixtures
from orchestrator_fixtures import orchestrator

# A plan whose name ends in a vowel (스탠다드): "(으)로" and "으로" are both wrong after it.
_STANDARD = {"id": "P-5G-STD", "name": "5G 스탠다드", "network": "5G", "monthly_fee": 69000, "data_gb": 110,
             "throttle_kbps": 5000, "refill_price_per_gb": 2200}


@pytest.mark.parametrize(("word", "wanted", "expected"), [
    ("5G 스탠다드", "으로", "5G 스탠다드로"),
    ("5G 슬림", "으로", "5G 슬림으로"),
    ("5G 스탠다드(월 69,000원)", "으로", "5G 스탠다드(월 69,000원)로"),
    ("5G 슬림(월 55,000원)", "로", "5G 슬림(월 55,000원)으로"),
    ("서울", "으로", "서울로"),
    ("이메일", "으로", "이메일로"),
    ("앱 알림", "로", "앱 알림으로"),
    ("문자", "으로", "문자로"),
    ("5G 스탠다드", "은", "5G 스탠다드는"),
    ("LTE 플러스", "은", "LTE 플러스는"),
    ("5G 프리미엄", "는", "5G 프리미엄은"),
    ("5G 스탠다드", "이", "5G 스탠다드가"),
    ("LTE 무제한", "가", "LTE 무제한이"),
    ("아시아 5일", "을", "아시아 5일을"),
    ("글로벌 15", "를", "글로벌 15를"),
    ("미주 7", "으로", "미주 7로"),
    ("10", "을", "10을"),
    ("2", "을", "2를"),
    ("12GB", "을", "12GB를"),
    ("LTE", "과", "LTE와"),
    ("HTML", "으로", "HTML로"),
    ("iPhone", "을", "iPhone을"),
    ("Galaxy", "을", "Galaxy를"),
])
def test_particle_follows_the_last_sound_of_the_word(word: str, wanted: str, expected: str) -> None:
    from sangdam.korean.particles import attach

    assert attach(word, wanted) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("요금제를 5G 스탠다드(으)로 변경", "요금제를 5G 스탠다드로 변경"),
    ("5G 슬림(월 55,000원)(으)로 변경", "5G 슬림(월 55,000원)으로 변경"),
    ("5G 스탠다드은(는) 5G", "5G 스탠다드는 5G"),
    ("LTE 무제한이(가) 좋아요", "LTE 무제한이 좋아요"),
    ("아이폰 16을(를) 분실", "아이폰 16을 분실"),
    ("갤럭시 S25 울트라를(을) 분실", "갤럭시 S25 울트라를 분실"),
    ("아시아 5일(이)나 일본 3일", "아시아 5일이나 일본 3일"),
    ("(월 69,000원) 그대로", "(월 69,000원) 그대로"),
])
def test_double_notation_keeps_the_form_that_fits(text: str, expected: str) -> None:
    from sangdam.korean.particles import resolve

    assert resolve(text) == expected


def test_template_particle_renders_the_right_form() -> None:
    from sangdam.orchestrator.format import say

    assert say("preferences.saved", channel="이메일").startswith("앞으로 안내는 이메일로 ")
    assert say("preferences.saved", channel="앱 알림").startswith("앞으로 안내는 앱 알림으로 ")
    assert say("plans.changed_now", new="5G 스탠다드").startswith("요금제를 5G 스탠다드로 변경했습니다")
    assert say("plans.changed_next", new="5G 슬림", date="2026년 12월 1일").startswith("요금제를 5G 슬림으로 ")


def test_plan_detail_uses_neun_after_a_vowel_ending_name(db_engine) -> None:
    orch = orchestrator(db_engine)  # plan.info's details: the plan_info procedure's plans.detail template
    with session_scope(db_engine) as s:
        load_fixtures(s, {"plans": [{**_STANDARD, "description": ""}]})
    reply = orch.handle(orch.start_conversation(), "5G 스탠다드 요금제 알려 주세요")
    assert reply.reply.startswith("5G 스탠다드는 5G 요금제로 월 69,000원, 기본 데이터 110GB입니다. 기본 데이터 소진 후")


def test_plan_change_to_a_vowel_ending_plan_reads_naturally(db_engine) -> None:
    orch = orchestrator(db_engine)
    with session_scope(db_engine) as s:
        load_fixtures(s, {"plans": [_STANDARD]})
    conv = orch.start_conversation(customer_id="C1")
    proposed = orch.handle(conv, "5G 스탠다드로 요금제 변경해 주세요")
    assert "5G 스탠다드(월 69,000원)로 변경합니다" in proposed.reply
    done = orch.handle(conv, "네")
    assert "5G 스탠다드로 변경 신청했습니다" in done.reply
    for reply in (proposed.reply, done.reply):
        assert "(으)" not in reply and "스탠다드(월 69,000원)으로" not in reply


# {field} (optionally followed by an aside "(…)") directly before one fixed particle
_JOINED = re.compile(r"\{(\w+)\}(\((?!으\)|이\))[^()]*\))?(으로|로|은|는|이|가|을|를|과|와)(?=[\s.,!?)\"']|$)")
# fields whose formatted value always ends the same way (원, GB, 일, 월): their particle is fixed text
_FIXED_ENDING = re.compile(r"(amount|total|fee|cost|price|charge|payback|installment|discount|diff|saving|extra|left"
                           r"|used|remaining|allowance|available|gb|data|date|due|period|_krw)$")


def _resource_texts() -> list[tuple[str, str]]:
    root = resources.files("sangdam.resources")
    out = []
    for folder in ("templates", "messages", "contact_center", "agents"):
        for entry in root.joinpath(folder).iterdir():
            if entry.name.endswith(".yaml"):
                out.append((f"{folder}/{entry.name}", entry.read_text(encoding="utf-8")))
    return out


def test_no_template_joins_a_name_with_a_fixed_particle() -> None:
    """A name's particle is written "(으)로", "은(는)", …; only values with a fixed ending (원, GB, 일) take a fixed one."""
    problems = []
    for name, text in _resource_texts():
        for number, line in enumerate(text.splitlines(), 1):
            for match in _JOINED.finditer(line):
                if not _FIXED_ENDING.search(match.group(1)):
                    problems.append(f"{name}:{number}: {{{match.group(1)}}} + {match.group(3)}")
    assert problems == []
