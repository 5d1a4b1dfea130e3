"""Self-contained scenarios (issue 15, item 5): a scenario that declares plans or roaming passes runs in a world
with exactly those; one that declares neither keeps the operator catalogue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from sangdam.evaluation.fixtures_bridge import catalogue_parts, fixture_problems
from test_domain_fixtures import ISSUE_EXAMPLE

# The documented example (issue 7, docs/scenarios.md) with its own fixtures: its own "5G 슬림" and "아시아 5일",
# whose names the operator catalogue also uses — it used to be refused ("plan name '5G 슬림' is already used").
OWN_WORLD = {
    "id": "own-world",
    "description": "자기 요금제와 로밍 패스만 있는 세계",
    "fixtures": yaml.safe_load(ISSUE_EXAMPLE),
    "session": {"customer_id": "C1"},
    "turns": [
        {"user": "요금제 종류 알려주세요",
         "expect": {"reply_contains": ["5G 슬림", "59,000원|59000원"], "reply_not_contains": ["5G 스탠다드", "LTE 미니"]}},
        {"user": "다음 주에 일본 가는데 로밍 켜주세요",
         "expect": {"reply_contains": ["19,800원|19800원"], "reply_not_contains": ["일본 3일", "글로벌"]}},
        {"user": "네, 아시아 5일짜리로 해주세요", "expect": {"tools_called": ["enable_roaming"]}},
    ],
    "final": {"db": {"lines": {"L1": {"roaming_enabled": True, "roaming_pass_id": "R-ASIA5"}}},
              "bills_total_delta": {"C1": 19800}},
}


def test_a_scenario_declaring_its_own_catalogue_loads_and_runs_in_that_world(tmp_path: Path) -> None:
    path = tmp_path / "own_world.yaml"
    path.write_text(yaml.safe_dump([OWN_WORLD], allow_unicode=True), encoding="utf-8")
    sangdam = Path(sys.executable).parent / "sangdam"
    out = subprocess.run([str(sangdam), "eval", str(path), "--json", "--llm", "scripted"],
                         capture_output=True, text=True, timeout=300)
    report = json.loads(out.stdout)
    (scenario,) = report["scenarios"]
    assert scenario["passed"], scenario["failures"]


def test_declaring_plans_replaces_only_the_catalogue_plans() -> None:
    fixtures = yaml.safe_load(ISSUE_EXAMPLE)
    only_plans = {k: v for k, v in fixtures.items() if k != "roaming_passes"}
    assert catalogue_parts(only_plans) == ("roaming_passes",)
    # a catalogue pass may still be referenced; a catalogue plan may not (the scenario replaced the plans)
    only_plans["customers"][0]["lines"][0]["roaming_pass_id"] = "R-JP3"
    assert fixture_problems(only_plans) == []
    only_plans["customers"][0]["lines"][0]["plan_id"] = "P-5G-STD"
    assert any("P-5G-STD" in message for _, message in fixture_problems(only_plans))


def test_a_scenario_declaring_neither_keeps_the_operator_catalogue() -> None:
    assert catalogue_parts({"today": "2026-11-15", "customers": []}) == ("plans", "roaming_passes")
    assert catalogue_parts(None) == ("plans", "roaming_passes")
