"""The ``rest`` adapter against a live reference BSS: every canonical tool answers exactly what the ``sql`` adapter
answers on an identical database; writes preview, commit and replay alike and change the BSS once; faults are
``BackendUnavailable``; the circuit breaker opens and recovers; a lost commit answer is retried under its key and
charged once; bad mapping files name file, path and reason.

Each side runs the real tool layer: ``get_tool(name).run(ToolContext(..., backend=…))`` with the ``sql`` adapter on
one copy of the seeded demo database and the ``rest`` adapter on the BSS serving another copy.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from bss_support import (
    TODAY,
    copy_db,
    count_rows,
    make_demo_template,
    operator_snapshot,
    rest_section,
    running_bss,
    write_openapi,
)
from sangdam.backends import BackendConfigError, BackendUnavailable
from sangdam.backends.mapping import LOOKUPS, resolve_mapping_path
from sangdam.backends.resilience import CircuitOpen
from sangdam.backends.rest import RestBackend
from sangdam.backends.sql import SqlBackend
from sangdam.domain.db import make_engine
from sangdam.tools.base import ToolContext, ToolError
from sangdam.tools.registry import CANONICAL_NAMES, get_tool

REFERENCE = resolve_mapping_path("builtin:reference-bss", Path("."))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_template(tmp_path_factory.mktemp("demo"))


class Pair:
    """The same demo data twice: ``sql`` (the sql adapter on it) and ``bss`` (served by a live BSS, read through
    the rest adapter; Sangdam's store for the rest side is a third, untouched copy)."""

    def __init__(self, sql_engine: Engine, store: Engine, bss: Any, rest: RestBackend) -> None:
        self.sql_engine, self.store, self.bss, self.rest = sql_engine, store, bss, rest

    def ctx(self, side: str, customer: str | None, key: str | None = None) -> ToolContext:
        if side == "sql":
            return ToolContext(engine=self.sql_engine, today=TODAY, customer_id=customer, idempotency_key=key,
                               backend=SqlBackend(self.sql_engine))
        return ToolContext(engine=self.store, today=TODAY, customer_id=customer, idempotency_key=key,
                           backend=self.rest)

    def run(self, side: str, tool: str, customer: str | None, args: dict[str, Any], key: str | None = None) -> Any:
        return get_tool(tool).run(self.ctx(side, customer, key), args)

    def both(self, tool: str, customer: str | None, args: dict[str, Any], key: str | None = None) -> list[Any]:
        """Both sides' outcome: the result's JSON, or ``("error", code, message_ko)``."""
        out = []
        for side in ("sql", "rest"):
            try:
                out.append(self.run(side, tool, customer, args, key).model_dump(mode="json"))
            except ToolError as exc:
                out.append(("error", exc.code, exc.message_ko))
        return out


@pytest.fixture
def make_pair(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    opened: list[Any] = []

    def make(**rest_overrides: Any) -> Pair:
        folder = tmp_path_factory.mktemp("pair")
        sql_engine = make_engine(f"sqlite:///{copy_db(template, folder / 'sql.db')}")
        store = make_engine(f"sqlite:///{copy_db(template, folder / 'store.db')}")
        context = running_bss(copy_db(template, folder / "bss.db"))
        bss = context.__enter__()
        rest = RestBackend.from_config(rest_section(bss.base, folder, **rest_overrides), folder)
        opened.append((context, rest, sql_engine, store))
        return Pair(sql_engine, store, bss, rest)

    yield make
    for context, rest, sql_engine, store in opened:
        rest.close()
        context.__exit__(None, None, None)
        sql_engine.dispose()
        store.dispose()


@pytest.fixture(scope="module")
def reads(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """One pair for every read (reads and previews change nothing)."""
    folder = tmp_path_factory.mktemp("reads")
    sql_engine = make_engine(f"sqlite:///{copy_db(template, folder / 'sql.db')}")
    store = make_engine(f"sqlite:///{copy_db(template, folder / 'store.db')}")
    with running_bss(copy_db(template, folder / "bss.db")) as bss:
        rest = RestBackend.from_config(rest_section(bss.base, folder), folder)
        yield Pair(sql_engine, store, bss, rest)
        rest.close()
    sql_engine.dispose()
    store.dispose()


# --- reads -----------------------------------------------------------------------------------------------------
READS = [
    ("verify_identity", None, {"phone": "010-9000-0001", "birth_date": "1987-06-21"}),
    ("verify_identity", None, {"phone": "01090000001", "birth_date": "1999-01-01"}),
    ("get_customer", "C-DEMO-LOST", {}),
    ("list_lines", "C-DEMO-LOST", {}),
    ("get_line", "C-DEMO-OVERDUE", {"line_id": "L-DEMO-OVERDUE"}),
    ("get_line", "C-DEMO-CONTRACT", {"line_id": "L-DEMO-CONTRACT"}),
    ("get_bills", "C-DEMO-OVERDUE", {}),
    ("get_bills", "C-DEMO-LOST", {"line_id": "L-DEMO-LOST-2", "status": "paid", "months": 2}),
    ("explain_bill", "C-DEMO-HEAVY", {"bill_id": "<latest>"}),
    ("get_data_usage", "C-DEMO-HEAVY", {"line_id": "L-DEMO-HEAVY"}),
    ("get_data_usage", "C-DEMO-LIGHT", {"line_id": "L-DEMO-LIGHT"}),
    ("list_plans", None, {}),
    ("list_plans", None, {"network": "LTE"}),
    ("recommend_plans", "C-DEMO-LIGHT", {"line_id": "L-DEMO-LIGHT"}),
    ("recommend_plans", "C-DEMO-HEAVY", {"line_id": "L-DEMO-HEAVY"}),
    ("get_contract", "C-DEMO-CONTRACT", {"line_id": "L-DEMO-CONTRACT"}),
    ("list_roaming_passes", None, {}),
    ("list_roaming_passes", None, {"country": "일본"}),
    ("list_roaming_passes", None, {"country": "Spain"}),
    ("check_line_diagnostics", "C-DEMO-OVERDUE", {"line_id": "L-DEMO-OVERDUE"}),
    ("check_line_diagnostics", "C-DEMO-HEAVY", {"line_id": "L-DEMO-HEAVY"}),
    ("get_outages", None, {}),
    ("get_outages", None, {"area": "서울 관악구"}),
    # refusals: the same code and the same Korean message
    ("get_line", "C-DEMO-LOST", {"line_id": "L-DEMO-HEAVY"}),  # another customer's line: not found
    ("explain_bill", "C-DEMO-LOST", {"bill_id": "B-NOPE"}),
    ("get_contract", "C-DEMO-LOST", {"line_id": "L-DOES-NOT-EXIST"}),
    ("list_roaming_passes", None, {"country": "아틀란티스"}),
]


def _latest_bill(pair: Pair, customer: str) -> str:
    bills = pair.run("sql", "get_bills", customer, {}).bills
    return bills[0].id


@pytest.mark.parametrize(("tool", "customer", "args"), READS, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(READS)])
def test_every_read_tool_through_rest_equals_the_sql_tool(reads: Pair, tool: str, customer: str | None,
                                                         args: dict[str, Any]) -> None:
    if args.get("bill_id") == "<latest>":
        args = {**args, "bill_id": _latest_bill(reads, customer)}
    sql, rest = reads.both(tool, customer, args)
    assert rest == sql


def test_the_reads_cover_every_canonical_read_tool() -> None:
    read_tools = {n for n in CANONICAL_NAMES if not get_tool(n).is_write}
    assert read_tools <= {tool for tool, _, _ in READS}


def test_lookups_outside_the_tools_answer_like_sql(reads: Pair) -> None:
    sql = SqlBackend(reads.sql_engine)
    assert sorted(reads.rest.plan_names()) == sorted(sql.plan_names())
    ids = {"C-DEMO-LOST", "C-DEMO-HEAVY", "C-NOBODY"}
    assert reads.rest.customer_names(ids) == sql.customer_names(ids) == {"C-DEMO-LOST": "김영호",
                                                                         "C-DEMO-HEAVY": "박준서"}
    assert reads.rest.find_customer("010-9000-0003", TODAY.replace(year=1968, month=11, day=3)) == \
        ("C-DEMO-LOST", "김영호")
    assert reads.rest.find_customer("010-9000-0003", TODAY) is None


# --- writes ----------------------------------------------------------------------------------------------------
# (tool, customer, args, set-up writes run on both databases first)
WRITES = [
    ("change_plan", "C-DEMO-CONTRACT", {"line_id": "L-DEMO-CONTRACT", "plan_id": "P-5G-SLIM",
                                        "effective": "immediate"}, []),
    ("change_plan", "C-DEMO-LIGHT", {"line_id": "L-DEMO-LIGHT", "plan_id": "P-5G-LITE"}, []),
    ("refill_data", "C-DEMO-HEAVY", {"line_id": "L-DEMO-HEAVY", "gb": 2}, []),
    ("enable_roaming", "C-DEMO-ROAMING", {"line_id": "L-DEMO-ROAMING", "pass_id": "R-JP3"}, []),
    ("disable_roaming", "C-DEMO-ROAMING", {"line_id": "L-DEMO-ROAMING"},
     [("enable_roaming", {"line_id": "L-DEMO-ROAMING", "pass_id": "R-ASIA5"})]),
    ("suspend_line", "C-DEMO-LOST", {"line_id": "L-DEMO-LOST", "reason": "lost"}, []),
    ("resume_line", "C-DEMO-LOST", {"line_id": "L-DEMO-LOST"},
     [("suspend_line", {"line_id": "L-DEMO-LOST", "reason": "temporary"})]),
    ("pay_bill", "C-DEMO-OVERDUE", {"bill_id": "<overdue>"}, []),
    ("create_ticket", "C-DEMO-HEAVY", {"category": "tech_support", "summary": "데이터가 자꾸 끊겨요",
                                       "line_id": "L-DEMO-HEAVY"}, []),
    ("transfer_to_human", "C-DEMO-LIGHT", {"summary": "요금제 변경 상담 원함"}, []),
    ("request_cancellation", "C-DEMO-CONTRACT", {"line_id": "L-DEMO-CONTRACT"}, []),
]
GENERATED = {"ticket_id"}  # ids each system makes up


def _resolve(pair: Pair, customer: str, args: dict[str, Any]) -> dict[str, Any]:
    if args.get("bill_id") == "<overdue>":
        overdue = pair.run("sql", "get_bills", customer, {"status": "overdue"}).bills
        return {**args, "bill_id": min(overdue, key=lambda b: b.period).id}
    return args


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in GENERATED}


@pytest.mark.parametrize(("tool", "customer", "args", "setup"), WRITES,
                         ids=[f"{t}-{i}" for i, (t, _, _, _) in enumerate(WRITES)])
def test_every_write_previews_commits_and_replays_like_the_sql_tool(make_pair: Any, tool: str, customer: str,
                                                                    args: dict[str, Any], setup: list) -> None:
    pair = make_pair()
    for n, (setup_tool, setup_args) in enumerate(setup):
        for side in ("sql", "rest"):
            pair.run(side, setup_tool, customer, setup_args, key=f"setup-{n}")
    args = _resolve(pair, customer, args)
    before = operator_snapshot(pair.bss.engine)

    previews = [get_tool(tool).preview(pair.ctx(side, customer), args) for side in ("sql", "rest")]
    assert previews[1].effect == previews[0].effect
    assert previews[1].summary_ko == previews[0].summary_ko
    assert operator_snapshot(pair.bss.engine) == before  # a preview writes nothing

    sql = pair.run("sql", tool, customer, args, key="k-1").model_dump(mode="json")
    rest = pair.run("rest", tool, customer, args, key="k-1").model_dump(mode="json")
    assert _strip(rest) == _strip(sql)
    after_one = operator_snapshot(pair.bss.engine)
    assert after_one != before
    assert after_one == operator_snapshot(pair.sql_engine)  # the BSS changed exactly as the sql database did

    again = pair.rest.commit(tool, pair.ctx("rest", customer, "k-1"), get_tool(tool).parse_args(args), "k-1")
    assert again.model_dump(mode="json") == rest  # the BSS answered the first result …
    assert operator_snapshot(pair.bss.engine) == after_one  # … and wrote nothing more


def test_every_canonical_write_is_exercised() -> None:
    writes = {n for n in CANONICAL_NAMES if get_tool(n).is_write}
    assert writes == {tool for tool, _, _, _ in WRITES}


REFUSALS = [
    ("change_plan", "C-DEMO-LIGHT", {"line_id": "L-DEMO-LIGHT", "plan_id": "P-5G-SIG"}),  # same_plan
    ("change_plan", "C-DEMO-LIGHT", {"line_id": "L-DEMO-LIGHT", "plan_id": "P-NOPE"}),  # not_found (plan)
    ("refill_data", "C-DEMO-LIGHT", {"line_id": "L-DEMO-LIGHT", "gb": 1}),  # unlimited_plan
    ("refill_data", "C-DEMO-HEAVY", {"line_id": "L-DEMO-HEAVY", "gb": 9}),  # refill_amount_out_of_range
    ("refill_data", "C-DEMO-OVERDUE", {"line_id": "L-DEMO-OVERDUE", "gb": 1}),  # line_not_active
    ("resume_line", "C-DEMO-OVERDUE", {"line_id": "L-DEMO-OVERDUE"}),  # overdue_bill
    ("resume_line", "C-DEMO-HEAVY", {"line_id": "L-DEMO-HEAVY"}),  # line_not_suspended
    ("suspend_line", "C-DEMO-OVERDUE", {"line_id": "L-DEMO-OVERDUE", "reason": "lost"}),  # line_already_suspended
    ("disable_roaming", "C-DEMO-ROAMING", {"line_id": "L-DEMO-ROAMING"}),  # roaming_not_enabled
    ("enable_roaming", "C-DEMO-ROAMING", {"line_id": "L-DEMO-ROAMING", "pass_id": "R-NOPE"}),  # not_found (pass)
    ("pay_bill", "C-DEMO-LOST", {"bill_id": "<paid>"}),  # bill_already_paid
    ("pay_bill", "C-DEMO-LOST", {"bill_id": "<other>"}),  # another customer's bill: not found
    ("request_cancellation", "C-DEMO-LOST", {"line_id": "L-DEMO-HEAVY"}),  # another customer's line
]


@pytest.mark.parametrize(("tool", "customer", "args"), REFUSALS, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(REFUSALS)])
def test_refusals_carry_the_same_code_and_korean_message(reads: Pair, tool: str, customer: str,
                                                         args: dict[str, Any]) -> None:
    if args.get("bill_id") == "<paid>":
        args = {"bill_id": reads.run("sql", "get_bills", customer, {"status": "paid"}).bills[0].id}
    elif args.get("bill_id") == "<other>":
        args = {"bill_id": _latest_bill(reads, "C-DEMO-HEAVY")}
    outcomes = []
    for side in ("sql", "rest"):
        with pytest.raises(ToolError) as caught:
            get_tool(tool).preview(reads.ctx(side, customer), args)
        outcomes.append((caught.value.code, caught.value.message_ko))
    assert outcomes[1] == outcomes[0]
    assert "{" not in outcomes[1][1]  # every placeholder of the Korean text was filled


def test_a_refusal_sangdam_has_no_code_for_is_told_in_the_operators_korean_words(make_pair: Any) -> None:
    pair = make_pair()
    args = {"category": "other", "summary": "문의"}
    for n in range(5):  # the BSS's own rule: at most five open tickets
        pair.run("rest", "create_ticket", "C-DEMO-HEAVY", {**args, "summary": f"문의 {n}"}, key=f"t-{n}")
    with pytest.raises(ToolError) as caught:
        pair.run("rest", "create_ticket", "C-DEMO-HEAVY", args, key="t-6")
    assert caught.value.code == "backend_refused"
    assert caught.value.message_ko.startswith("이미 접수된 문의가 5건 있어")
    assert "TOO_MANY_OPEN_TICKETS" in caught.value.message_en
    pair.bss.fault(kind="error", status=409, code="ACCOUNT_UNDER_REVIEW", message="fraud review", count=1)
    with pytest.raises(ToolError) as unknown:  # a code the mapping does not know: the generic refusal text
        get_tool("get_line").run(pair.ctx("rest", "C-DEMO-HEAVY"), {"line_id": "L-DEMO-HEAVY"})
    assert unknown.value.code == "backend_refused"
    assert unknown.value.details == {"backend_code": "ACCOUNT_UNDER_REVIEW", "status": 409}


# --- faults ----------------------------------------------------------------------------------------------------
def _bill_total(pair: Pair, customer: str) -> int:
    return sum(b.amount_krw for b in pair.run("sql", "get_bills", customer, {}).bills)


@pytest.mark.parametrize("mode", ["disconnect", "bad_gateway"])
def test_a_commit_whose_answer_was_lost_is_retried_with_its_key_and_charged_once(make_pair: Any, mode: str) -> None:
    pair = make_pair()
    args = {"line_id": "L-DEMO-HEAVY", "gb": 3}
    pair.bss.fault(kind="lose_response", operation_id="orderDataTopUp", mode=mode)
    result = pair.run("rest", "refill_data", "C-DEMO-HEAVY", args, key="lost-1")
    expected = pair.run("sql", "refill_data", "C-DEMO-HEAVY", args, key="lost-1")
    assert result.model_dump() == expected.model_dump()
    assert pair.bss.calls("orderDataTopUp") == 2  # the lost one, then the retry under the same key
    assert count_rows(pair.bss.engine, "backend_requests") == 1
    assert operator_snapshot(pair.bss.engine) == operator_snapshot(pair.sql_engine)  # charged once


@pytest.mark.parametrize(("fault", "reason"), [
    ({"kind": "delay", "delaySeconds": 2.0}, "timeout"),
    ({"kind": "fail", "status": 500}, "http_500"),
    ({"kind": "fail", "status": 503, "count": 2}, "http_503"),
    ({"kind": "malformed", "shape": "text"}, "malformed"),
    ({"kind": "malformed", "shape": "json"}, None),  # JSON of the wrong shape: the result model rejects it
    ({"kind": "error", "status": 401, "code": "UNAUTHENTICATED"}, "http_401"),
])
def test_timeouts_5xx_and_malformed_answers_are_backend_unavailable(make_pair: Any, fault: dict[str, Any],
                                                                    reason: str | None) -> None:
    pair = make_pair(timeout_s=0.5)
    pair.bss.fault(operationId="getUsageSummary", **fault)
    with pytest.raises(BackendUnavailable) as caught:
        get_tool("get_data_usage").run(pair.ctx("rest", "C-DEMO-HEAVY"), {"line_id": "L-DEMO-HEAVY"})
    assert caught.value.code == "backend_unavailable"
    if reason is not None:
        assert caught.value.details["reason"] == reason
    assert caught.value.message_ko.startswith("지금 고객 정보 시스템에 연결되지 않아")


def test_a_backend_that_refuses_connections_is_unavailable_and_a_commit_says_nothing_was_sent(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    section = rest_section(f"http://127.0.0.1:{port}", tmp_path, openapi=str(write_openapi(tmp_path / "o.json")))
    rest = RestBackend.from_config(section, tmp_path)
    ctx = ToolContext(engine=None, today=TODAY, customer_id="C-DEMO-HEAVY", backend=rest)  # type: ignore[arg-type]
    with pytest.raises(BackendUnavailable) as read:
        rest.read("get_line", ctx, get_tool("get_line").parse_args({"line_id": "L-DEMO-HEAVY"}))
    assert read.value.details["reason"] == "connection"
    with pytest.raises(ToolError) as write:
        rest.commit("refill_data", ctx, get_tool("refill_data").parse_args({"line_id": "L-DEMO-HEAVY", "gb": 1}), "k")
    assert write.value.code == "backend_unavailable" and write.value.details["sent"] is False
    assert not isinstance(write.value, BackendUnavailable)  # known not to have happened: a plain refusal
    rest.close()


def test_the_circuit_opens_after_repeated_failures_and_recovers_half_open(make_pair: Any) -> None:
    now = [1000.0]
    pair = make_pair(circuit={"failures": 2, "reset_s": 30})
    rest = RestBackend(pair.rest.config, pair.rest.mapping, pair.rest.api,
                       headers={"Authorization": pair.rest.client.headers["Authorization"]}, clock=lambda: now[0])
    ctx = ToolContext(engine=pair.store, today=TODAY, customer_id="C-DEMO-HEAVY", backend=rest)
    args = get_tool("get_line").parse_args({"line_id": "L-DEMO-HEAVY"})
    pair.bss.fault(kind="fail", status=500, count=2, operationId="getSubscription")
    for _ in range(2):
        with pytest.raises(BackendUnavailable):
            rest.read("get_line", ctx, args)
    with pytest.raises(CircuitOpen):  # open: fails at once, the BSS is not called
        rest.read("get_line", ctx, args)
    assert pair.bss.calls("getSubscription") == 2
    now[0] += 30  # half-open: one trial call goes through, and it succeeds
    assert rest.read("get_line", ctx, args).id == "L-DEMO-HEAVY"
    assert rest.breaker.state == "closed"
    assert pair.bss.calls("getSubscription") == 3
    rest.close()


# --- configuration ---------------------------------------------------------------------------------------------
def _mutated(edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(yaml.safe_load(REFERENCE.read_text(encoding="utf-8")))
    edit(data)
    return data


def _ops(data: dict[str, Any]) -> dict[str, Any]:
    return data["operations"]


BAD_MAPPINGS = [
    (lambda d: _ops(d)["get_bills"].update(operation="listBills"), "operations.get_bills.operation",
     "not in the OpenAPI document"),
    (lambda d: _ops(d)["get_line"]["params"].update(lineId="args.line_id"), "operations.get_line.params.lineId",
     "not a parameter of getSubscription"),
    (lambda d: _ops(d)["get_line"]["params"].pop("subscriptionId"), "operations.get_line.params",
     "required path parameter 'subscriptionId'"),
    (lambda d: _ops(d)["get_bills"]["params"].update(billingMonths="args.month"),
     "operations.get_bills.params.billingMonths", "no argument 'month'"),
    (lambda d: _ops(d)["get_contract"]["result"]["fields"].pop("as_of"), "operations.get_contract.result.fields",
     "ContractInfo.as_of is required"),
    (lambda d: _ops(d)["get_contract"]["result"]["fields"].update(asOf="asOf"),
     "operations.get_contract.result.fields.asOf", "not a field of ContractInfo"),
    (lambda d: _ops(d)["get_contract"]["result"]["fields"].update(as_of={"path": "asOfDate", "convert": "date"}),
     "operations.get_contract.result.fields.as_of.path", "getContractTerms's answer has no 'asOfDate'"),
    (lambda d: _ops(d)["get_contract"]["result"]["fields"].update(as_of={"path": "asOf", "convert": "dates"}),
     "operations.get_contract.result.fields.as_of.convert", "unknown converter 'dates'"),
    (lambda d: _ops(d)["get_line"]["result"]["fields"].update(status={"path": "state", "map": "line_state"}),
     "operations.get_line.result.fields.status.map", "no map named 'line_state'"),
    (lambda d: _ops(d).update(get_invoice={"operation": "getInvoice", "result": "$"}), "operations.get_invoice",
     "'get_invoice' is neither a registered tool"),
    (lambda d: d["errors"]["BILLING_OVERDUE"].update(code="bill_overdue"), "errors.BILLING_OVERDUE.code",
     "not an error code of tools.ko.yaml"),
    (lambda d: _ops(d)["refill_data"]["commit"].update(operation="getUsageSummary", body=None),
     "operations.refill_data.commit.operation", "declares no 'Idempotency-Key' header"),
    (lambda d: _ops(d)["refill_data"]["commit"]["body"]["fields"].update(volumeGb="args.gb"),
     "operations.refill_data.commit.body.fields.volumeGb", "not a field of orderDataTopUp's request body"),
    (lambda d: _ops(d)["get_line"].update(timeout="3"), "operations.get_line.timeout", "Extra inputs"),
]


@pytest.mark.parametrize(("edit", "path", "reason"), BAD_MAPPINGS, ids=[b[1] + f"-{i}" for i, b in enumerate(BAD_MAPPINGS)])
def test_a_bad_mapping_file_names_the_file_the_path_and_the_reason(tmp_path: Path, edit: Any, path: str,
                                                                   reason: str) -> None:
    mapping = tmp_path / "operator.mapping.yaml"
    mapping.write_text(yaml.safe_dump(_mutated(edit), allow_unicode=True, sort_keys=False), encoding="utf-8")
    section = rest_section("http://127.0.0.1:9", tmp_path, mapping="operator.mapping.yaml",
                           openapi=str(write_openapi(tmp_path / "bss.json")))
    with pytest.raises(BackendConfigError) as caught:
        RestBackend.from_config(section, tmp_path)
    message = str(caught.value)
    assert str(mapping) in message and path in message and reason in message, message


def test_a_bad_rest_section_names_backend_yaml_and_the_key(tmp_path: Path) -> None:
    with pytest.raises(BackendConfigError) as caught:
        RestBackend.from_config({"base_url": "http://x", "timeout": 3}, tmp_path)
    assert caught.value.path == "rest.timeout"
    assert str(tmp_path / "backend.yaml") in str(caught.value)
    with pytest.raises(BackendConfigError) as missing:
        RestBackend.from_config(rest_section("http://x", tmp_path, auth={"token_env": "SANGDAM_TEST_NO_SUCH_VAR"}),
                                tmp_path)
    assert missing.value.path == "rest.auth.token_env" and "not set" in str(missing.value)


def test_the_error_points_at_the_line_of_the_bad_entry(tmp_path: Path) -> None:
    text = REFERENCE.read_text(encoding="utf-8").replace("operation: getContractTerms", "operation: getContract")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(text, encoding="utf-8")
    line = 1 + text.splitlines().index("  get_contract:")
    section = rest_section("http://127.0.0.1:9", tmp_path, mapping="m.yaml",
                           openapi=str(write_openapi(tmp_path / "bss.json")))
    with pytest.raises(BackendConfigError) as caught:
        RestBackend.from_config(section, tmp_path)
    assert caught.value.file == str(mapping) and caught.value.line == line + 1
    assert str(caught.value).startswith(f"{mapping}:{line + 1}: operations.get_contract.operation: ")
    assert "did you mean 'getContractTerms'" in str(caught.value)


def test_the_reference_mapping_serves_every_canonical_tool_and_lookup(tmp_path: Path) -> None:
    rest = RestBackend.from_config(rest_section("http://127.0.0.1:9", tmp_path,
                                                openapi=str(write_openapi(tmp_path / "o.json"))), tmp_path)
    served = set(rest.mapping.operations)
    assert served == (set(CANONICAL_NAMES) - {"verify_identity"}) | set(LOOKUPS)  # verify_identity: find_customer
    rest.close()
