"""Scenario files: precise validation errors (file, scenario id, field), discovery, and the shipped suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sangdam.evaluation.loader import ScenarioLoadError, load_scenarios
from sangdam.orchestrator.intents import INTENTS

REPO = Path(__file__).resolve().parents[1]

VALID = """
id: {id}
fixtures:
  today: 2026-11-15
  customers:
    - {{id: C1, name: 김하늘, birth_date: 1990-04-12, phone: 010-2222-3333,
       lines: [{{id: L1, plan_id: P-5G-SLIM}}]}}
session: {{customer_id: C1}}
turns:
  - user: 안녕하세요
    expect: {{intents: [chitchat]}}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _issues(paths: list[Path]) -> list[str]:
    with pytest.raises(ScenarioLoadError) as info:
        load_scenarios(paths)
    return [str(i) for i in info.value.issues]


def test_valid_single_scenario_file_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, "one.yaml", VALID.format(id="ok-1"))
    loaded = load_scenarios([path])
    assert [item.scenario.id for item in loaded] == ["ok-1"]
    assert loaded[0].scenario.today.isoformat() == "2026-11-15"


def test_unknown_expect_key_names_file_scenario_and_field(tmp_path: Path) -> None:
    text = VALID.format(id="typo-1").replace("expect: {intents: [chitchat]}", "expect: {reply_contain: [x]}")
    path = _write(tmp_path, "typo.yaml", text)
    (issue,) = _issues([path])
    assert str(path) in issue
    assert "scenario 'typo-1'" in issue
    assert "turns[0].expect.reply_contain" in issue
    assert "unknown key" in issue


def test_bad_fixture_field_is_reported_with_its_path(tmp_path: Path) -> None:
    text = VALID.format(id="fx-1").replace("plan_id: P-5G-SLIM", "plan_id: P-NOPE, statsu: active")
    path = _write(tmp_path, "fx.yaml", text)
    issues = _issues([path])
    assert any("scenario 'fx-1'" in i and "fixtures.customers[0].lines[0].statsu" in i for i in issues), issues


def test_fixture_reference_to_unknown_plan_is_reported(tmp_path: Path) -> None:
    text = VALID.format(id="fx-2").replace("plan_id: P-5G-SLIM", "plan_id: P-NOPE")
    path = _write(tmp_path, "fx2.yaml", text)
    (issue,) = _issues([path])
    assert "fixtures.customers[0].lines[0].plan_id" in issue and "P-NOPE" in issue


def test_unknown_tool_name_suggests_the_canonical_one(tmp_path: Path) -> None:
    text = VALID.format(id="tool-1").replace("expect: {intents: [chitchat]}", "expect: {tools_called: [enable_roamin]}")
    (issue,) = _issues([_write(tmp_path, "t.yaml", text)])
    assert "turns[0].expect.tools_called" in issue and "did you mean 'enable_roaming'" in issue


def test_unknown_intent_is_rejected(tmp_path: Path) -> None:
    text = VALID.format(id="intent-1").replace("[chitchat]", "[billing.query]")
    (issue,) = _issues([_write(tmp_path, "i.yaml", text)])
    assert "turns[0].expect.intents" in issue and "billing.query" in issue


def test_final_db_unknown_field_is_named(tmp_path: Path) -> None:
    text = VALID.format(id="db-1") + "final:\n  db: {lines: {L1: {roaming: true}}}\n"
    (issue,) = _issues([_write(tmp_path, "d.yaml", text)])
    assert "final.db.lines.L1.roaming" in issue and "roaming_enabled" in issue


def test_session_customer_must_exist_in_fixtures(tmp_path: Path) -> None:
    text = VALID.format(id="s-1").replace("session: {customer_id: C1}", "session: {customer_id: C9}")
    (issue,) = _issues([_write(tmp_path, "s.yaml", text)])
    assert "session.customer_id" in issue and "C9" in issue


def test_duplicate_ids_across_files_are_an_error(tmp_path: Path) -> None:
    first = _write(tmp_path, "a/first.yaml", VALID.format(id="same"))
    second = _write(tmp_path, "b/second.yaml", VALID.format(id="same"))
    (issue,) = _issues([tmp_path])
    assert str(second) in issue and "duplicate scenario id" in issue and str(first) in issue


def test_directories_are_searched_recursively_for_yaml_and_yml(tmp_path: Path) -> None:
    _write(tmp_path, "x/one.yaml", VALID.format(id="r-1"))
    _write(tmp_path, "x/y/two.yml", f"- {VALID.format(id='r-2').strip().replace(chr(10), chr(10) + '  ')}\n")
    _write(tmp_path, "x/notes.txt", "not a scenario")
    assert sorted(i.scenario.id for i in load_scenarios([tmp_path])) == ["r-1", "r-2"]


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    (issue,) = _issues([tmp_path / "nope.yaml"])
    assert "no such file" in issue


def test_empty_reply_alternative_is_rejected(tmp_path: Path) -> None:
    text = VALID.format(id="alt-1").replace("expect: {intents: [chitchat]}", 'expect: {reply_contains: ["a||b"]}')
    (issue,) = _issues([_write(tmp_path, "alt.yaml", text)])
    assert "empty alternative" in issue


def test_cli_exits_2_on_an_invalid_file_and_names_it(tmp_path: Path) -> None:
    from sangdam.cli import app

    path = _write(tmp_path, "bad.yaml", VALID.format(id="cli-1").replace("turns:", "turnz:"))
    result = CliRunner().invoke(app, ["eval", str(path), "--json", "--llm", "scripted"])
    assert result.exit_code == 2
    assert str(path) in result.output and "cli-1" in result.output and "turnz" in result.output


def test_shipped_suite_is_valid_and_covers_every_intent() -> None:
    loaded = load_scenarios([REPO / "evals"])
    assert len(loaded) >= 100
    used = {i for item in loaded for turn in item.scenario.turns for i in (turn.expect.intents or [])}
    assert set(INTENTS) <= used, sorted(set(INTENTS) - used)
    unauthenticated = [i for i in loaded if i.scenario.session is None and not i.scenario.uses_demo_data]
    assert any(t.expect.verified is False for i in unauthenticated for t in i.scenario.turns)
