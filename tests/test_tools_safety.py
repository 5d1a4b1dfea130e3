"""Cross-cutting guarantees: identity, ownership, audit, idempotency, previews, validation, schemas."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
from tools_fixtures import audit_rows, count, ctx_for, get, world, world_any, world_template  # noqa: F401 - fixtures

from sangdam.domain.models import AuditLog, Bill, Line, Ticket, ToolExecution
from sangdam.tools import RiskTier, ToolError, all_tools, get_tool, openai_tools
from sangdam.tools import messages
from sangdam.tools.registry import CANONICAL_NAMES

WRITE_CALLS = {
    "change_plan": {"line_id": "L-A1", "plan_id": "P-5G-STD"},
    "refill_data": {"line_id": "L-A1", "gb": 2},
    "enable_roaming": {"line_id": "L-A1", "pass_id": "R-JP3"},
    "disable_roaming": {"line_id": "L-A1"},
    "suspend_line": {"line_id": "L-A1", "reason": "temporary"},
    "resume_line": {"line_id": "L-A1"},
    "pay_bill": {"bill_id": "B-A1-10"},
    "create_ticket": {"category": "billing", "summary": "요금 문의"},
    "transfer_to_human": {"summary": "상담사 요청"},
    "request_cancellation": {"line_id": "L-A1"},
}
READ_CALLS_ON_LINE = ["get_line", "get_data_usage", "recommend_plans", "get_contract", "check_line_diagnostics"]


def snapshot(engine) -> tuple:  # noqa: ANN001
    """Everything a write could change (audit excluded)."""
    from sangdam.domain.db import session_scope

    with session_scope(engine) as s:
        lines = tuple((ln.id, ln.plan_id, ln.pending_plan_id, ln.status, ln.roaming_enabled, ln.data_refill_gb)
                      for ln in s.query(Line).order_by(Line.id))
        bills = tuple((b.id, b.amount, b.status, len(b.items)) for b in s.query(Bill).order_by(Bill.id))
        return lines, bills, s.query(Ticket).count(), s.query(ToolExecution).count()


# --- identity and ownership --------------------------------------------------------------------------------
@pytest.mark.parametrize("tool", [t.name for t in all_tools() if t.needs_customer])
def test_customer_tools_refuse_without_verified_customer(world, tool):
    args = WRITE_CALLS.get(tool) or ({"line_id": "L-A1"} if tool in READ_CALLS_ON_LINE else {})
    if tool == "explain_bill":
        args = {"bill_id": "B-A1-10"}
    with pytest.raises(ToolError) as info:
        get_tool(tool).run(ctx_for(world, None), args)
    assert info.value.code == "identity_required" and "본인 확인" in info.value.message_ko


@pytest.mark.parametrize("tool", READ_CALLS_ON_LINE + ["change_plan", "refill_data", "suspend_line",
                                                       "enable_roaming", "request_cancellation"])
def test_other_customers_line_reads_as_not_found(world, tool):
    args = {**WRITE_CALLS.get(tool, {}), "line_id": "L-B1"}
    with pytest.raises(ToolError) as foreign:
        get_tool(tool).run(ctx_for(world, "C-A"), args)
    with pytest.raises(ToolError) as missing:
        get_tool(tool).run(ctx_for(world, "C-A"), {**args, "line_id": "L-NOPE"})
    assert foreign.value.code == missing.value.code == "not_found"
    assert foreign.value.message_ko == missing.value.message_ko  # nothing tells "exists" from "not yours"


def test_other_customers_bill_cannot_be_read_or_paid(world):
    for tool in ("explain_bill", "pay_bill"):
        with pytest.raises(ToolError) as info:
            get_tool(tool).run(ctx_for(world, "C-A"), {"bill_id": "B-B1-09"})
        assert info.value.code == "not_found"
    assert get(world, Bill, "B-B1-09").status == "overdue"


def test_bill_list_holds_only_the_customers_own_bills(world):
    bills = get_tool("get_bills").run(ctx_for(world, "C-A"), {}).bills
    assert {b.id for b in bills} == {"B-A1-09", "B-A1-10"}


# --- audit -------------------------------------------------------------------------------------------------
def test_every_executed_write_is_audited(world):
    for tool, args in WRITE_CALLS.items():
        if tool in ("resume_line", "disable_roaming"):
            continue
        ctx = ctx_for(world, "C-A", actor="agent:42")
        if tool == "suspend_line":
            args = {"line_id": "L-A2", "reason": "temporary"}
        get_tool(tool).run(ctx, args)
        row = audit_rows(world, tool)[-1]
        assert row.who == "agent:42" and row.result["ok"] is True and row.args == get_tool(tool).parse_args(
            args).model_dump(mode="json")
        assert row.result["context"]["customer_id"] == "C-A" and row.at.date() == ctx.today


def test_refused_write_is_audited_with_its_error_code(world_any):
    world = world_any  # SQLite and PostgreSQL
    with pytest.raises(ToolError):
        get_tool("resume_line").run(ctx_for(world, "C-B"), {"line_id": "L-B1"})
    row = audit_rows(world, "resume_line")[-1]
    assert row.result["ok"] is False and row.result["error"] == "overdue_bill" and row.args == {"line_id": "L-B1"}


def test_invalid_and_unverified_write_attempts_are_audited(world):
    with pytest.raises(ToolError):
        get_tool("refill_data").run(ctx_for(world, "C-A"), {"line_id": "L-A1", "gb": "lots"})
    with pytest.raises(ToolError):
        get_tool("refill_data").run(ctx_for(world, None), {"line_id": "L-A1", "gb": 1})
    codes = [r.result["error"] for r in audit_rows(world, "refill_data")]
    assert codes == ["invalid_args", "identity_required"]


def test_reads_do_not_write_audit_rows(world):
    get_tool("get_line").run(ctx_for(world), {"line_id": "L-A1"})
    get_tool("get_bills").run(ctx_for(world), {})
    assert count(world, AuditLog) == 0


# --- idempotency -------------------------------------------------------------------------------------------
def test_same_idempotency_key_charges_once(world_any):
    world = world_any  # SQLite and PostgreSQL
    ctx = ctx_for(world, "C-A", key="turn-7")
    first = get_tool("refill_data").run(ctx, {"line_id": "L-A1", "gb": 2})
    second = get_tool("refill_data").run(ctx, {"line_id": "L-A1", "gb": 2})
    assert first == second
    assert get(world, Line, "L-A1").data_refill_gb == 2
    assert get(world, Bill, first.bill_id).amount == 4400
    rows = audit_rows(world, "refill_data")
    assert [r.result.get("replayed", False) for r in rows] == [False, True]


def test_same_key_with_different_args_is_a_conflict(world_any):
    world = world_any  # SQLite and PostgreSQL
    ctx = ctx_for(world, "C-A", key="turn-8")
    get_tool("refill_data").run(ctx, {"line_id": "L-A1", "gb": 2})
    with pytest.raises(ToolError) as info:
        get_tool("refill_data").run(ctx, {"line_id": "L-A1", "gb": 3})
    assert info.value.code == "idempotency_conflict"
    assert get(world, Line, "L-A1").data_refill_gb == 2


def test_refused_write_does_not_consume_its_key(world):
    ctx = ctx_for(world, "C-B", key="turn-9")
    with pytest.raises(ToolError):
        get_tool("resume_line").run(ctx, {"line_id": "L-B1"})
    assert count(world, ToolExecution) == 0


def test_without_key_each_run_executes(world):
    for _ in range(2):
        get_tool("refill_data").run(ctx_for(world), {"line_id": "L-A1", "gb": 1})
    assert get(world, Line, "L-A1").data_refill_gb == 2


# --- previews ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tool", sorted(WRITE_CALLS))
def test_preview_writes_nothing(world, tool):
    customer = "C-B" if tool == "resume_line" else "C-A"
    args = {"line_id": "L-B1"} if tool == "resume_line" else WRITE_CALLS[tool]
    before, audits = snapshot(world), count(world, AuditLog)
    try:
        proposal = get_tool(tool).preview(ctx_for(world, customer), args)
    except ToolError as exc:  # resume_line (overdue) and disable_roaming (off) are refused in preview too
        assert exc.code in ("overdue_bill", "roaming_not_enabled")
    else:
        assert proposal.tool == tool and proposal.summary_ko and "{" not in proposal.summary_ko
    assert snapshot(world) == before and count(world, AuditLog) == audits


def test_refill_preview_states_price_and_matches_the_run(world):
    ctx = ctx_for(world)
    proposal = get_tool("refill_data").preview(ctx, {"line_id": "L-A1", "gb": 2})
    assert proposal.effect["charge_krw"] == 4400 and "4,400원" in proposal.summary_ko
    assert get_tool("refill_data").run(ctx, proposal.args).charge_krw == proposal.effect["charge_krw"]


def test_change_plan_preview_states_fee_and_effective_date(world):
    proposal = get_tool("change_plan").preview(ctx_for(world), {"line_id": "L-A1", "plan_id": "P-5G-STD"})
    assert "5G 스탠다드" in proposal.summary_ko and "69,000원" in proposal.summary_ko
    assert "2026년 12월 1일" in proposal.summary_ko


def test_preview_applies_business_rules(world):
    with pytest.raises(ToolError) as info:
        get_tool("refill_data").preview(ctx_for(world), {"line_id": "L-A2", "gb": 1})
    assert info.value.code == "unlimited_plan"


def test_preview_of_a_read_tool_is_refused(world):
    with pytest.raises(ToolError) as info:
        get_tool("get_line").preview(ctx_for(world), {"line_id": "L-A1"})
    assert info.value.code == "not_a_write_tool"


# --- validation --------------------------------------------------------------------------------------------
def test_missing_argument_names_the_field(world):
    with pytest.raises(ToolError) as info:
        get_tool("refill_data").run(ctx_for(world), {"line_id": "L-A1"})
    err = info.value
    assert err.code == "invalid_args" and "'gb'" in err.message_en and "Field required" in err.message_en
    assert "충전량" in err.message_ko


def test_unknown_argument_is_rejected(world):
    with pytest.raises(ToolError) as info:
        get_tool("get_line").run(ctx_for(world), {"line_id": "L-A1", "customer_id": "C-B"})
    assert info.value.code == "invalid_args" and "customer_id" in info.value.message_en
    assert info.value.message_ko == messages.text("errors", "invalid_args_general")


def test_wrong_enum_value_lists_the_allowed_ones(world):
    with pytest.raises(ToolError) as info:
        get_tool("change_plan").run(ctx_for(world), {"line_id": "L-A1", "plan_id": "P-5G-STD", "effective": "now"})
    assert "'next_cycle' or 'immediate'" in info.value.message_en


def test_non_object_arguments_are_rejected(world):
    with pytest.raises(ToolError) as info:
        get_tool("get_line").run(ctx_for(world), ["L-A1"])  # type: ignore[arg-type]
    assert info.value.code == "invalid_args"


def test_unknown_tool_name_is_a_typed_error():
    with pytest.raises(ToolError) as info:
        get_tool("delete_customer")
    assert info.value.code == "unknown_tool"


# --- registry and schemas ----------------------------------------------------------------------------------
def test_registry_holds_exactly_the_canonical_tools_with_tiers():
    tools = {t.name: t for t in all_tools()}
    assert list(tools) == list(CANONICAL_NAMES) and len(tools) == 23
    assert tools["request_cancellation"].risk is RiskTier.irreversible
    writes = {n for n, t in tools.items() if t.risk is RiskTier.write}
    assert writes == set(WRITE_CALLS) - {"request_cancellation"}
    assert not tools["verify_identity"].needs_customer and not tools["transfer_to_human"].needs_customer


@pytest.mark.parametrize("schema", openai_tools(), ids=lambda s: s["function"]["name"])
def test_openai_schema_is_valid_json_schema(schema):
    assert schema["type"] == "function" and set(schema["function"]) == {"name", "description", "parameters"}
    params = schema["function"]["parameters"]
    jsonschema.Draft202012Validator.check_schema(params)
    assert params["type"] == "object" and params["additionalProperties"] is False
    assert "$ref" not in str(params) and "$defs" not in params
    assert set(params["required"]) <= set(params["properties"])
    assert schema["function"]["description"]


def test_schema_rejects_what_the_tool_rejects():
    params = get_tool("refill_data").openai_schema()["function"]["parameters"]
    validator = jsonschema.Draft202012Validator(params)
    assert validator.is_valid({"line_id": "L1", "gb": 2})
    assert not validator.is_valid({"line_id": "L1", "gb": 9})
    assert not validator.is_valid({"line_id": "L1"})
    assert not validator.is_valid({"line_id": "L1", "gb": 2, "extra": 1})


def test_every_tool_has_a_korean_description():
    assert all(t.description_ko and t.description_en for t in all_tools())
    assert openai_tools(["get_bills"], lang="ko")[0]["function"]["description"] == get_tool("get_bills").description_ko


def test_every_raised_error_code_has_a_korean_message():
    from sangdam import backends

    src = Path(messages.__file__).parent, Path(backends.__file__).parent  # the tool layer and the adapters
    source = "\n".join(p.read_text("utf-8") for folder in src for p in folder.rglob("*.py"))
    codes = set(re.findall(r'ToolError\(\s*"([a-z_]+)"', source))
    assert {"overdue_bill", "refill_limit_exceeded", "not_found", "identity_required"} <= codes
    missing = codes - set(messages.catalog()["errors"])
    assert not missing, f"error codes without a Korean message: {sorted(missing)}"
