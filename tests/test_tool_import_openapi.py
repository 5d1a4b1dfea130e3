"""Tools imported from an OpenAPI document: `sangdam tools import openapi`, then the tools run against a real
operator API (tests/operator_api.py, uvicorn on a free port) with every guarantee of a built-in tool.

The mapping is the documented example (docs/examples/importing-tools/fieldops.map.yaml); its base URL and API key
come from FIELDOPS_URL and FIELDOPS_TOKEN.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml
from imported_tools_support import audit, ctx_for, edited, home  # noqa: F401 - fixture
from operator_api import API_KEY, FULL_DATE, bookings_sent, operator_app
from server_support import free_port, running_server
from typer.testing import CliRunner

from sangdam.backends.core import BackendUnavailable
from sangdam.cli import app as cli
from sangdam.config import reset_settings
from sangdam.domain.db import session_scope
from sangdam.domain.models import ToolExecution
from sangdam.tools import messages
from sangdam.tools.base import ToolError
from sangdam.tools.imported.loader import reset_imported
from sangdam.tools.registry import CANONICAL_NAMES, all_tools, get_tool

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_MAP = REPO / "docs" / "examples" / "importing-tools" / "fieldops.map.yaml"
runner = CliRunner()


@pytest.fixture
def fieldops(monkeypatch):  # noqa: ANN001, ANN201
    """The operator API, running; FIELDOPS_URL and FIELDOPS_TOKEN point at it."""
    api = operator_app()
    with running_server(api) as url:
        monkeypatch.setenv("FIELDOPS_URL", url)
        monkeypatch.setenv("FIELDOPS_TOKEN", API_KEY)
        yield api


@pytest.fixture
def spec_file(tmp_path):  # noqa: ANN001, ANN201
    path = tmp_path / "fieldops.openapi.json"
    path.write_text(json.dumps(operator_app().openapi()), encoding="utf-8")
    return path


@pytest.fixture
def imported(home, fieldops, spec_file):  # noqa: ANN001, ANN201
    result = runner.invoke(cli, ["tools", "import", "openapi", str(spec_file), "--map", str(EXAMPLE_MAP)])
    assert result.exit_code == 0, result.output
    return fieldops


VISIT = {"visit_date": "2026-12-03", "slot": "morning", "reason": "5G 신호가 자주 끊겨요"}


# --- import and listing ------------------------------------------------------------------------------------


def test_import_lists_mapped_operations_with_their_source(imported, home):
    rows = json.loads(runner.invoke(cli, ["tools", "list", "--json"]).stdout)
    by_name = {r["name"]: r for r in rows}
    assert set(CANONICAL_NAMES) <= set(by_name) and len(rows) == 26
    assert [r["name"] for r in rows[:23]] == list(CANONICAL_NAMES)  # built-ins first, in the contract's order
    assert {by_name[n]["source"] for n in CANONICAL_NAMES} == {"builtin"}
    coverage, visits, book = (by_name[n] for n in ("check_5g_coverage", "list_technician_visits",
                                                   "book_technician_visit"))
    assert (coverage["risk"], coverage["needs_customer"], coverage["source"]) == ("read", False, "openapi:fieldops")
    assert (visits["risk"], visits["needs_customer"]) == ("read", True)
    assert (book["risk"], book["needs_customer"]) == ("write", True)
    assert book["description_ko"] == "고객님 주소로 기사 방문을 예약합니다."
    params = book["schema"]["function"]["parameters"]
    assert set(params["properties"]) == {"visit_date", "slot", "reason"}  # no subscriber_id, no Idempotency-Key
    assert params["required"] == ["visit_date", "slot", "reason"] and params["additionalProperties"] is False
    assert params["properties"]["slot"]["enum"] == ["morning", "afternoon"]
    assert not any(n.startswith("cancel") for n in by_name)  # no mapping entry: not imported
    saved = home / "tools" / "openapi-fieldops.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600 and API_KEY not in saved.read_text()


def test_yaml_document_imports_like_json(home, fieldops, spec_file, tmp_path):
    as_yaml = tmp_path / "fieldops.openapi.yaml"
    as_yaml.write_text(yaml.safe_dump(json.loads(spec_file.read_text())), encoding="utf-8")
    result = runner.invoke(cli, ["tools", "import", "openapi", str(as_yaml), "--map", str(EXAMPLE_MAP),
                                 "--name", "fieldops-yaml"])
    assert result.exit_code == 0, result.output
    assert get_tool("check_5g_coverage").source == "openapi:fieldops-yaml"


# --- reads ---------------------------------------------------------------------------------------------------


def test_read_runs_and_only_allowed_fields_reach_the_result(imported, db_engine):
    result = get_tool("check_5g_coverage").run(ctx_for(db_engine, None), {"address": "서울 강남구 테헤란로 1"})
    assert result.model_dump() == {"address": "서울 강남구 테헤란로 1", "technology": "5G", "available": True,
                                   "max_speed_mbps": 1500}
    assert "node_id" not in json.dumps(result.model_dump())  # the API sent it; the allow-list dropped it
    call = imported.state.calls[-1]
    assert call["headers"]["x-api-key"] == API_KEY and "technology=5G" in call["query"]


def test_nested_allow_list_keeps_listed_fields_of_each_item(imported, db_engine):
    get_tool("book_technician_visit").run(ctx_for(db_engine, key="k-list"), VISIT)
    visits = get_tool("list_technician_visits").run(ctx_for(db_engine), {}).model_dump()["visits"]
    assert visits == [{"booking_id": "V-0001", "visit_date": "2026-12-03", "slot": "morning", "status": "booked"}]


def test_arguments_are_validated_against_the_operation_schema(imported, db_engine):
    tool = get_tool("book_technician_visit")
    for bad in ({**VISIT, "slot": "evening"}, {"slot": "morning", "reason": "끊김"}, {**VISIT, "visit_date": "내일"},
                {**VISIT, "reason": "x"}):
        with pytest.raises(ToolError) as exc:
            tool.preview(ctx_for(db_engine), bad)
        assert exc.value.code == "invalid_args"
    assert bookings_sent(imported) == []


def test_identity_gate_refuses_without_a_verified_customer(imported, db_engine):
    calls = len(imported.state.calls)
    for name, args in (("list_technician_visits", {}), ("book_technician_visit", VISIT)):
        with pytest.raises(ToolError) as exc:
            get_tool(name).run(ctx_for(db_engine, None, key="k-anon"), args)
        assert exc.value.code == "identity_required" and "본인 확인" in exc.value.message_ko
    assert len(imported.state.calls) == calls


def test_customer_id_comes_from_the_context_never_from_arguments(imported, db_engine):
    calls = len(imported.state.calls)
    for name, args in (("list_technician_visits", {"subscriber_id": "C-B"}),
                       ("book_technician_visit", {**VISIT, "subscriber_id": "C-B"})):
        with pytest.raises(ToolError) as exc:
            get_tool(name).run(ctx_for(db_engine, "C-A", key="k-forged"), args)
        assert exc.value.code == "invalid_args" and "subscriber_id" in exc.value.message_en
    assert len(imported.state.calls) == calls  # nothing reached the API
    get_tool("list_technician_visits").run(ctx_for(db_engine, "C-A"), {})
    assert imported.state.calls[-1]["path"] == "/subscribers/C-A/visits"


# --- writes --------------------------------------------------------------------------------------------------


def test_write_previews_without_calling_then_commits_once_under_a_key_and_is_audited(imported, db_engine):
    tool = get_tool("book_technician_visit")
    proposal = tool.preview(ctx_for(db_engine), VISIT)
    assert proposal.summary_ko == "2026년 12월 3일 오전에 기사 방문을 예약합니다. 방문 사유: 5G 신호가 자주 끊겨요"
    assert bookings_sent(imported) == [] and audit(db_engine) == []  # a preview sends and writes nothing

    first = tool.run(ctx_for(db_engine, key="conv-1:p1:0"), proposal.args)
    again = tool.run(ctx_for(db_engine, key="conv-1:p1:0"), proposal.args)
    assert first == again
    assert first.model_dump(mode="json") == {"booking_id": "V-0001", "visit_date": "2026-12-03", "slot": "morning",
                                             "status": "booked"}
    sent = bookings_sent(imported)
    assert len(sent) == 1 and sent[0]["headers"]["idempotency-key"] == "conv-1:p1:0"
    assert sent[0]["path"] == "/subscribers/C-A/visits" and "subscriber_id" not in sent[0]["body"]
    outcomes = [row.result for row in audit(db_engine)]
    assert [o.get("replayed", False) for o in outcomes] == [False, True]
    assert outcomes[0]["result"] == first.model_dump(mode="json") and "technician_phone" not in json.dumps(outcomes)
    assert all(o["context"]["customer_id"] == "C-A" for o in outcomes)


def test_a_lost_answer_is_retried_under_the_same_key_and_the_api_books_once(imported, db_engine):
    """Sangdam's record is gone (the answer was lost before it was stored): the API's key record answers."""
    tool = get_tool("book_technician_visit")
    first = tool.run(ctx_for(db_engine, key="k-lost"), VISIT)
    with session_scope(db_engine) as s:
        s.delete(s.get(ToolExecution, "k-lost"))
    second = tool.run(ctx_for(db_engine, key="k-lost"), VISIT)
    assert second == first and len(imported.state.bookings) == 1 and len(bookings_sent(imported)) == 2


def test_refusal_reaches_the_customer_in_the_mappings_korean(imported, db_engine):
    with pytest.raises(ToolError) as exc:
        get_tool("book_technician_visit").run(ctx_for(db_engine, key="k-full"),
                                              {**VISIT, "visit_date": FULL_DATE.isoformat()})
    assert exc.value.code == "backend_refused" and "409" in exc.value.message_en
    assert exc.value.message_ko.startswith("선택하신 날짜에는 방문 예약이 모두 찼습니다")
    assert audit(db_engine)[-1].result["error"] == "backend_refused"
    assert get_tool("book_technician_visit").service.breaker.state == "closed"  # a refusal is a healthy answer


# --- faults --------------------------------------------------------------------------------------------------


def test_timeout_and_5xx_are_backend_unavailable_with_the_korean_message(imported, db_engine):
    unavailable_ko = messages.error_ko("backend_unavailable", {})
    imported.state.delay_s = 4.0  # check_5g_coverage waits 3 s
    with pytest.raises(BackendUnavailable) as exc:
        get_tool("check_5g_coverage").run(ctx_for(db_engine, None), {"address": "서울 강남구"})
    assert "within 3 s" in exc.value.message_en and exc.value.message_ko == unavailable_ko
    imported.state.delay_s = 0.0
    imported.state.fail_next = 1
    with pytest.raises(BackendUnavailable) as exc:
        get_tool("check_5g_coverage").run(ctx_for(db_engine, None), {"address": "서울 강남구"})
    assert "HTTP 503" in exc.value.message_en and exc.value.message_ko == unavailable_ko


def test_a_sent_write_without_an_answer_is_an_unknown_outcome_kept_for_retry(imported, db_engine):
    imported.state.fail_next = 1
    with pytest.raises(ToolError) as exc:
        get_tool("book_technician_visit").run(ctx_for(db_engine, key="k-503"), VISIT)
    assert exc.value.code == "backend_outcome_unknown" and "중복 처리 없이" in exc.value.message_ko
    retried = get_tool("book_technician_visit").run(ctx_for(db_engine, key="k-503"), VISIT)
    assert retried.booking_id == "V-0001" and len(imported.state.bookings) == 1


def test_a_write_that_never_left_is_reported_as_not_done(home, spec_file, monkeypatch, db_engine):
    monkeypatch.setenv("FIELDOPS_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("FIELDOPS_TOKEN", API_KEY)
    assert runner.invoke(cli, ["tools", "import", "openapi", str(spec_file), "--map", str(EXAMPLE_MAP)]).exit_code == 0
    with pytest.raises(ToolError) as exc:
        get_tool("book_technician_visit").run(ctx_for(db_engine, key="k-down"), VISIT)
    assert exc.value.code == "backend_unavailable" and exc.value.details["sent"] is False
    assert "처리된 내용은 없습니다" in exc.value.message_ko
    assert get_tool("list_technician_visits") is not None and len(all_tools()) == 26  # built-ins untouched


def test_circuit_opens_after_repeated_failures_then_half_opens(imported, db_engine):
    tool = get_tool("check_5g_coverage")
    now = [1000.0]
    tool.service.breaker.clock = lambda: now[0]
    imported.state.fail_next = 10
    for _ in range(3):  # the mapping's circuit: 3 failures
        with pytest.raises(BackendUnavailable):
            tool.run(ctx_for(db_engine, None), {"address": "서울"})
    reached = len(imported.state.calls)
    with pytest.raises(BackendUnavailable) as exc:
        tool.run(ctx_for(db_engine, None), {"address": "서울"})
    assert exc.value.details["circuit"] == "openapi:fieldops" and len(imported.state.calls) == reached  # fast
    with pytest.raises(ToolError) as exc:  # a write is refused too, as not done
        get_tool("book_technician_visit").run(ctx_for(db_engine, key="k-open"), VISIT)
    assert exc.value.code == "backend_unavailable" and len(imported.state.calls) == reached

    now[0] += 30  # half-open: one trial; it fails (the API still answers 503) → open again
    with pytest.raises(BackendUnavailable):
        tool.run(ctx_for(db_engine, None), {"address": "서울"})
    assert len(imported.state.calls) == reached + 1 and tool.service.breaker.state == "open"
    imported.state.fail_next = 0
    now[0] += 30  # the next trial succeeds → closed
    assert tool.run(ctx_for(db_engine, None), {"address": "서울"}).available is True
    assert tool.service.breaker.state == "closed"


# --- the CLI -------------------------------------------------------------------------------------------------


def test_tools_call_runs_imported_reads_and_writes(imported, db_engine, monkeypatch):
    monkeypatch.setenv("SANGDAM_DATABASE_URL", str(db_engine.url))
    reset_settings()
    read = runner.invoke(cli, ["tools", "call", "check_5g_coverage", "--args", '{"address": "강원 산골마을"}'])
    assert read.exit_code == 0 and json.loads(read.stdout)["available"] is False
    args = json.dumps(VISIT, ensure_ascii=False)
    preview = runner.invoke(cli, ["tools", "call", "book_technician_visit", "--preview", "--customer", "C-A",
                                  "--args", args])
    assert preview.exit_code == 0 and "오전에 기사 방문" in json.loads(preview.stdout)["summary_ko"]
    assert bookings_sent(imported) == []
    done = runner.invoke(cli, ["tools", "call", "book_technician_visit", "--customer", "C-A", "--args", args,
                               "--idempotency-key", "cli-1"])
    assert done.exit_code == 0 and json.loads(done.stdout)["booking_id"] == "V-0001"
    assert [r.who for r in audit(db_engine)] == ["cli"]
    refused = runner.invoke(cli, ["tools", "call", "list_technician_visits"])
    assert refused.exit_code == 1 and json.loads(refused.stdout)["error"]["code"] == "identity_required"


# --- adding a tool: one mapping entry, no Python (the worked example of docs/importing-tools.md) -------------

NEW_ENTRIES = """
  getVisit:
    tool: get_technician_visit
    description_ko: 기사 방문 예약 한 건의 내용을 조회합니다.
    description_en: One of the verified customer's technician visits.
    customer_param: subscriber_id
    result_fields: [booking_id, visit_date, slot, status]
    refusals: {"404": 말씀하신 방문 예약을 찾지 못했습니다. 예약 번호를 다시 확인해 주세요.}

  cancelVisit:
    tool: cancel_technician_visit
    description_ko: 기사 방문 예약을 취소합니다.
    description_en: Cancel one of the verified customer's technician visits.
    customer_param: subscriber_id
    confirm_ko: "예약 번호 {booking_id} 기사 방문을 취소합니다."
    result_fields: []
"""


def test_a_new_read_and_write_tool_is_one_mapping_entry_each(imported, home, spec_file, tmp_path, db_engine):
    map_file = tmp_path / "fieldops.map.yaml"
    map_file.write_text(EXAMPLE_MAP.read_text(encoding="utf-8") + NEW_ENTRIES, encoding="utf-8")
    result = runner.invoke(cli, ["tools", "import", "openapi", str(spec_file), "--map", str(map_file)])
    assert result.exit_code == 0, result.output
    booking = get_tool("book_technician_visit").run(ctx_for(db_engine, key="k-new"), VISIT).booking_id

    visit = get_tool("get_technician_visit").run(ctx_for(db_engine), {"booking_id": booking})
    assert visit.model_dump(mode="json") == {"booking_id": booking, "visit_date": "2026-12-03", "slot": "morning",
                                             "status": "booked"}
    cancel = get_tool("cancel_technician_visit")
    assert (cancel.risk, cancel.source) == ("write", "openapi:fieldops")
    proposal = cancel.preview(ctx_for(db_engine), {"booking_id": booking})
    assert proposal.summary_ko == f"예약 번호 {booking} 기사 방문을 취소합니다." and imported.state.bookings
    assert cancel.run(ctx_for(db_engine, key="k-cancel"), proposal.args).model_dump() == {}
    assert imported.state.bookings == {}
    with pytest.raises(ToolError) as exc:
        get_tool("get_technician_visit").run(ctx_for(db_engine), {"booking_id": booking})
    assert exc.value.message_ko == "말씀하신 방문 예약을 찾지 못했습니다. 예약 번호를 다시 확인해 주세요."


# --- bad input -----------------------------------------------------------------------------------------------


def _mapping(**changes: object) -> dict:
    return edited(yaml.safe_load(EXAMPLE_MAP.read_text(encoding="utf-8")), **changes)


BAD_MAPPINGS = [
    (_mapping(operations__nope={"tool": "nope_tool", "description_ko": "가", "description_en": "a",
                                "result_fields": []}), "operations.nope", "no operation with this operationId"),
    (_mapping(operations__bookVisit__confirm_ko=None), "operations.bookVisit.confirm_ko", "needs confirm_ko"),
    (_mapping(operations__checkCoverage__risk="dangerous"), "operations.checkCoverage.risk", "'read'"),
    (_mapping(operations__listVisits__customer_param="msisdn"), "operations.listVisits.customer_param",
     "'msisdn' is not a parameter"),
    (_mapping(operations__checkCoverage__tool="get_bills"), "operations.checkCoverage.tool", "a built-in tool"),
    (_mapping(operations__bookVisit__confirm_ko="{visit_day}에 방문합니다."), "operations.bookVisit.confirm_ko",
     "{visit_day} is not an argument"),
    (_mapping(operations__checkCoverage__result_fields=["adress"]), "operations.checkCoverage.result_fields",
     "'adress' is not a field"),
    (_mapping(operations__checkCoverage__needs_customer=False, operations__listVisits__needs_customer=False),
     "operations.listVisits", "customer_param needs needs_customer: true"),
    (_mapping(operations__checkCoverage__timeout_s=-1), "operations.checkCoverage.timeout_s", "greater than 0"),
    (_mapping(operations__checkCoverage__colour="blue"), "operations.checkCoverage.colour", "unknown key"),
]


@pytest.mark.parametrize(("mapping", "path", "reason"), BAD_MAPPINGS, ids=[p for _, p, _ in BAD_MAPPINGS])
def test_bad_mapping_names_file_path_and_reason_and_registers_nothing(home, spec_file, tmp_path, mapping, path,
                                                                      reason):
    map_file = tmp_path / "bad.map.yaml"
    map_file.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(cli, ["tools", "import", "openapi", str(spec_file), "--map", str(map_file)])
    assert result.exit_code == 1
    assert f"error: {map_file}: {path}: " in result.stderr and reason in result.stderr, result.stderr
    assert "nothing was imported" in result.stderr
    assert not (home / "tools").exists() and len(all_tools()) == 23


def _spec(spec_file: Path, change) -> dict:  # noqa: ANN001
    spec = json.loads(spec_file.read_text())
    change(spec)
    return spec


def _external_ref(spec: dict) -> None:
    body = spec["paths"]["/subscribers/{subscriber_id}/visits"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = {"$ref": "https://example.com/visit.json"}


def _form_body(spec: dict) -> None:
    body = spec["paths"]["/subscribers/{subscriber_id}/visits"]["post"]["requestBody"]
    body["content"] = {"application/x-www-form-urlencoded": body["content"]["application/json"]}


BAD_SPECS = [
    (lambda spec: spec.update(openapi="2.0"), "openapi", "only OpenAPI 3.x"),
    (lambda spec: spec.pop("paths"), "paths", "missing"),
    (_external_ref, "paths./subscribers/{subscriber_id}/visits.post.requestBody.content.application/json.schema.$ref",
     "only local references"),
    (_form_body, "paths./subscribers/{subscriber_id}/visits.post.requestBody.content",
     "only application/json request bodies"),
]


@pytest.mark.parametrize(("change", "path", "reason"), BAD_SPECS, ids=[p for _, p, _ in BAD_SPECS])
def test_bad_document_names_file_path_and_reason_and_registers_nothing(home, spec_file, tmp_path, change, path,
                                                                       reason):
    bad = tmp_path / "bad.openapi.json"
    bad.write_text(json.dumps(_spec(spec_file, change)), encoding="utf-8")
    result = runner.invoke(cli, ["tools", "import", "openapi", str(bad), "--map", str(EXAMPLE_MAP)])
    assert result.exit_code == 1
    assert f"error: {bad}: {path}: " in result.stderr and reason in result.stderr, result.stderr
    assert not (home / "tools").exists() and len(all_tools()) == 23


def test_unreadable_document_gives_line_and_column(home, tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("openapi: 3.1.0\npaths: {\n  /x: [\n", encoding="utf-8")
    result = runner.invoke(cli, ["tools", "import", "openapi", str(bad), "--map", str(EXAMPLE_MAP)])
    assert result.exit_code == 1 and f"error: {bad}: (top level): not valid YAML/JSON at line" in result.stderr


def test_a_failed_reimport_leaves_the_previous_import_as_it_was(imported, home, spec_file, tmp_path):
    saved = home / "tools" / "openapi-fieldops.json"
    before = saved.read_bytes()
    map_file = tmp_path / "bad.map.yaml"
    map_file.write_text(yaml.safe_dump(BAD_MAPPINGS[1][0], allow_unicode=True), encoding="utf-8")
    result = runner.invoke(cli, ["tools", "import", "openapi", str(spec_file), "--map", str(map_file)])
    assert result.exit_code == 1 and saved.read_bytes() == before
    assert get_tool("book_technician_visit").risk == "write"


def test_reimport_under_the_same_name_replaces_and_another_name_clashes(imported, home, spec_file):
    again = runner.invoke(cli, ["tools", "import", "openapi", str(spec_file), "--map", str(EXAMPLE_MAP)])
    assert again.exit_code == 0, again.output
    other = runner.invoke(cli, ["tools", "import", "openapi", str(spec_file), "--map", str(EXAMPLE_MAP),
                                "--name", "fieldops2"])
    assert other.exit_code == 1 and "operations.checkCoverage.tool: 'check_5g_coverage' is already a tool " \
        f"(imported in {home / 'tools' / 'openapi-fieldops.json'})" in other.stderr


def test_a_running_process_keeps_its_tools_when_a_saved_import_breaks(imported, home, db_engine):
    assert get_tool("check_5g_coverage").run(ctx_for(db_engine, None), {"address": "서울"}).available is True
    (home / "tools" / "openapi-fieldops.json").write_text("{not json", encoding="utf-8")
    assert get_tool("check_5g_coverage").run(ctx_for(db_engine, None), {"address": "서울"}).available is True
    reset_imported()  # a process started now refuses the broken file, naming it
    result = runner.invoke(cli, ["tools", "list"])
    assert result.exit_code == 1 and "openapi-fieldops.json: (top level): cannot read the saved import" in result.stderr


def test_a_saved_import_clashing_with_a_built_in_is_a_configuration_error_naming_the_file(imported, home):
    saved = home / "tools" / "openapi-fieldops.json"
    doc = json.loads(saved.read_text())
    doc["tools"][0]["tool"] = "get_bills"
    saved.write_text(json.dumps(doc), encoding="utf-8")
    reset_imported()  # a fresh process: no earlier good set to fall back on
    result = runner.invoke(cli, ["tools", "list", "--json"])
    assert result.exit_code == 1
    assert f"error: {saved}: tools.get_bills: 'get_bills' is already a tool (a built-in tool)" in result.stderr
