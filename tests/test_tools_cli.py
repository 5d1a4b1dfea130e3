"""``sangdam tools list`` and ``sangdam tools call`` against a real database."""

from __future__ import annotations

import json

import pytest
from tools_fixtures import get, world, world_template  # noqa: F401 - fixtures
from typer.testing import CliRunner

from sangdam.cli import app
from sangdam.config import reset_settings
from sangdam.domain.models import AuditLog, Line

runner = CliRunner()


@pytest.fixture
def cli_env(world, monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    monkeypatch.setenv("SANGDAM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SANGDAM_DATABASE_URL", str(world.url))
    monkeypatch.setenv("SANGDAM_TODAY", "2026-11-29")
    reset_settings()
    yield world
    reset_settings()


def test_tools_list_json_has_every_tool_with_risk_and_schema():
    result = runner.invoke(app, ["tools", "list", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert len(rows) == 23
    row = next(r for r in rows if r["name"] == "request_cancellation")
    assert row["risk"] == "irreversible" and row["needs_customer"] is True
    assert row["description_ko"] and row["schema"]["function"]["parameters"]["required"] == ["line_id"]
    assert set(rows[0]) == {"name", "risk", "needs_customer", "description_en", "description_ko", "schema", "source"}
    assert {r["source"] for r in rows} == {"builtin"}


def test_tools_list_table_names_tools():
    result = runner.invoke(app, ["tools", "list"])
    assert result.exit_code == 0 and "refill_data" in result.stdout


def test_tools_call_prints_typed_result_and_writes_as_cli(cli_env):
    result = runner.invoke(app, ["tools", "call", "refill_data", "--args", '{"line_id": "L-A1", "gb": 2}',
                                 "--customer", "C-A"])
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["charge_krw"] == 4400
    assert get(cli_env, Line, "L-A1").data_refill_gb == 2
    from tools_fixtures import audit_rows

    assert [r.who for r in audit_rows(cli_env)] == ["cli"]


def test_tools_call_prints_typed_error_with_nonzero_exit(cli_env):
    result = runner.invoke(app, ["tools", "call", "resume_line", "--args", '{"line_id": "L-B1"}',
                                 "--customer", "C-B"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "overdue_bill" and "overdue" in error["message_en"] and "미납" in error["message_ko"]


def test_tools_call_preview_changes_nothing(cli_env):
    result = runner.invoke(app, ["tools", "call", "change_plan", "--preview", "--customer", "C-A",
                                 "--args", '{"line_id": "L-A1", "plan_id": "P-5G-STD"}'])
    assert result.exit_code == 0
    assert "2026년 12월 1일" in json.loads(result.stdout)["summary_ko"]
    assert get(cli_env, Line, "L-A1").pending_plan_id is None and get(cli_env, AuditLog, 1) is None


@pytest.mark.parametrize(("name", "args", "code"), [
    ("get_line", "{not json", "invalid_args"),
    ("get_line", "[1]", "invalid_args"),
    ("no_such_tool", "{}", "unknown_tool"),
    ("get_line", '{"line_id": "L-A1"}', "identity_required"),
])
def test_tools_call_bad_input_is_a_typed_error(cli_env, name, args, code):
    result = runner.invoke(app, ["tools", "call", name, "--args", args])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == code
