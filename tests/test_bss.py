"""The reference operator BSS as its clients see it over HTTP (a real uvicorn server on a free port): bearer auth,
paged collections, the error envelope with its own codes, ownership, dry runs, idempotent writes, the OpenAPI
document, the test-support admin routes (state switch, faults) and the ``sangdam bss`` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bss_support import Bss, copy_db, count_rows, make_demo_template, operator_snapshot, running_bss
from server_support import free_port

HEAVY = "/api/v1/subscribers/C-DEMO-HEAVY"
TOP_UP = HEAVY + "/subscriptions/L-DEMO-HEAVY/data-top-ups"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_template(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def bss(template: Path, tmp_path: Path) -> Iterator[Bss]:
    with running_bss(copy_db(template, tmp_path / "bss.db")) as served:
        yield served


def _heavy_bills(bss: Bss) -> list[tuple]:
    return [row for row in operator_snapshot(bss.engine)["bills"] if row[1] == "L-DEMO-HEAVY"]


# --- auth and the envelope ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}])
def test_calls_without_the_bearer_token_get_401_in_the_error_envelope(bss: Bss, headers: dict[str, str]) -> None:
    answer = httpx.get(bss.base + "/api/v1/tariffs", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["error"]["code"] == "UNAUTHENTICATED"


def test_the_openapi_document_is_public_and_names_every_operation_itself(bss: Bss) -> None:
    doc = httpx.get(bss.base + "/openapi.json").json()
    operations = [op for item in doc["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)) == 26
    assert all(i[0].islower() and "_" not in i for i in ids)  # explicit camelCase ids, not FastAPI's generated ones
    assert all(path.startswith("/api/v1/") for path in doc["paths"])  # no admin routes in the operator's API
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
    writes = [op for item in doc["paths"].values() for method, op in item.items() if method == "post"]
    assert all({"Idempotency-Key", "dryRun"} <= {p["name"] for p in op["parameters"]} for op in writes)


def test_business_refusals_use_the_bss_codes_and_units(bss: Bss) -> None:
    answer = bss.api("POST", TOP_UP, json={"volumeMb": 9 * 1024}, headers={"Idempotency-Key": "k"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "TOPUP_VOLUME_OUT_OF_RANGE"
    assert answer.json()["error"]["details"] == {"minMb": 1024.0, "maxMb": 5120.0, "requestedMb": 9216.0}
    overdue = bss.api("POST", "/api/v1/subscribers/C-DEMO-OVERDUE/subscriptions/L-DEMO-OVERDUE/reactivation",
                      params={"dryRun": "true"})
    assert overdue.status_code == 409
    error = overdue.json()["error"]
    assert error["code"] == "BILLING_OVERDUE"
    assert error["details"]["overdueAmount"]["currency"] == "KRW" and error["details"]["overdueAmount"]["amount"].isdigit()
    bad = bss.api("GET", "/api/v1/tariffs", params={"technology": "3G"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_FAILED"
    missing = bss.api("GET", "/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "RESOURCE_NOT_FOUND"


# --- collections ---------------------------------------------------------------------------------------------------
def test_collections_are_paged_with_limit_and_an_opaque_cursor(bss: Bss) -> None:
    seen, cursor, pages = [], None, 0
    while True:
        page = bss.api("GET", "/api/v1/tariffs", params={"limit": 4, **({"cursor": cursor} if cursor else {})}).json()
        seen += [t["tariffId"] for t in page["data"]]
        cursor, pages = page["page"]["next"], pages + 1
        if cursor is None:
            break
    everything = bss.api("GET", "/api/v1/tariffs", params={"limit": 100}).json()
    assert pages == 3 and seen == [t["tariffId"] for t in everything["data"]] and len(seen) == 9
    assert everything["data"][0]["recurringCharge"] == {"amount": "19800", "currency": "KRW"}
    assert everything["data"][0]["dataAllowanceMb"] == 1.5 * 1024
    assert bss.api("GET", "/api/v1/tariffs", params={"cursor": "bm9wZQ"}).json()["error"]["code"] == "INVALID_CURSOR"
    assert bss.api("GET", "/api/v1/tariffs", params={"limit": 0}).json()["error"]["code"] == "INVALID_LIMIT"


def test_invoices_carry_the_overdue_balance_next_to_the_page(bss: Bss) -> None:
    page = bss.api("GET", "/api/v1/subscribers/C-DEMO-OVERDUE/invoices", params={"limit": 1}).json()
    assert len(page["data"]) == 1 and page["page"]["next"] is not None
    overdue = bss.api("GET", "/api/v1/subscribers/C-DEMO-OVERDUE/invoices", params={"state": "OVERDUE"}).json()
    assert {i["state"] for i in overdue["data"]} == {"OVERDUE"}
    assert int(page["summary"]["overdueAmount"]["amount"]) == sum(int(i["totalAmount"]["amount"])
                                                                 for i in overdue["data"]) > 0


# --- identity and ownership ------------------------------------------------------------------------------------------
def test_identity_search_matches_msisdn_in_any_form_and_the_birth_date(bss: Bss) -> None:
    found = bss.api("GET", "/api/v1/subscribers", params={"msisdn": "+82 10-9000-0003", "dateOfBirth": "1968-11-03"})
    assert found.json()["data"] == [{"subscriberId": "C-DEMO-LOST", "fullName": "김영호"}]
    wrong = bss.api("GET", "/api/v1/subscribers", params={"msisdn": "01090000003", "dateOfBirth": "1968-11-04"})
    assert wrong.json()["data"] == []
    names = bss.api("GET", "/api/v1/subscriber-directory", params={"subscriberIds": "C-DEMO-LOST,C-NOBODY"})
    assert names.json()["data"] == [{"subscriberId": "C-DEMO-LOST", "displayName": "김영호"}]


@pytest.mark.parametrize("path", [
    "/subscriptions/L-DEMO-HEAVY", "/subscriptions/L-DEMO-HEAVY/usage-summary", "/subscriptions/L-DEMO-HEAVY/contract-terms",
    "/invoices/{heavy_bill}", "/invoices/{heavy_bill}/comparison",
])
def test_another_subscribers_subscription_or_invoice_answers_404_like_a_missing_one(bss: Bss, path: str) -> None:
    heavy_bill = _heavy_bills(bss)[0][0]
    theirs = bss.api("GET", "/api/v1/subscribers/C-DEMO-LOST" + path.format(heavy_bill=heavy_bill))
    missing = bss.api("GET", "/api/v1/subscribers/C-DEMO-LOST" + path.replace("L-DEMO-HEAVY", "L-NONE")
                      .format(heavy_bill="B-NONE"))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"]["code"] == missing.json()["error"]["code"]
    assert theirs.json()["error"]["code"] in ("SUBSCRIPTION_NOT_FOUND", "INVOICE_NOT_FOUND")
    assert bss.api("GET", "/api/v1/subscribers/C-DEMO-HEAVY" + path.format(heavy_bill=heavy_bill)).status_code == 200


def test_an_unknown_subscriber_answers_404(bss: Bss) -> None:
    answer = bss.api("GET", "/api/v1/subscribers/C-NOBODY/subscriptions")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "SUBSCRIBER_NOT_FOUND"


# --- writes ------------------------------------------------------------------------------------------------------
def test_a_dry_run_returns_the_quote_and_writes_nothing(bss: Bss) -> None:
    before = operator_snapshot(bss.engine)
    answer = bss.api("POST", TOP_UP, params={"dryRun": "true"}, json={"volumeMb": 2048})
    assert answer.status_code == 200
    quote = answer.json()["quote"]
    assert answer.json()["dryRun"] is True
    assert quote["volumeMb"] == 2048 and quote["charge"] == {"amount": "4400", "currency": "KRW"}
    assert operator_snapshot(bss.engine) == before
    assert count_rows(bss.engine, "backend_requests") == 0


def test_a_replayed_idempotency_key_answers_the_first_order_and_charges_once(bss: Bss) -> None:
    before = sum(row[3] for row in _heavy_bills(bss))
    first = bss.api("POST", TOP_UP, json={"volumeMb": 2048}, headers={"Idempotency-Key": "order-1"})
    again = bss.api("POST", TOP_UP, json={"volumeMb": 2048}, headers={"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and first.json()["orderId"].startswith("ORD-")
    assert sum(row[3] for row in _heavy_bills(bss)) == before + 4400  # charged once
    other = bss.api("POST", TOP_UP, json={"volumeMb": 1024}, headers={"Idempotency-Key": "order-1"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    unkeyed = bss.api("POST", TOP_UP, json={"volumeMb": 1024})
    assert unkeyed.status_code == 400 and unkeyed.json()["error"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert sum(row[3] for row in _heavy_bills(bss)) == before + 4400


def test_the_bss_refuses_a_sixth_open_ticket_but_replays_an_accepted_one(bss: Bss) -> None:
    path = HEAVY + "/trouble-tickets"
    for n in range(5):
        body = {"category": "TECHNICAL", "description": f"문의 {n}"}
        assert bss.api("POST", path, json=body, headers={"Idempotency-Key": f"t-{n}"}).status_code == 201
    refused = bss.api("POST", path, json={"category": "OTHER", "description": "또"}, headers={"Idempotency-Key": "t-5"})
    assert refused.status_code == 409
    assert refused.json()["error"] == {"code": "TOO_MANY_OPEN_TICKETS", "message": "5 tickets are already open",
                                       "details": {"openTickets": 5, "limit": 5}}
    replay = bss.api("POST", path, json={"category": "TECHNICAL", "description": "문의 4"},
                     headers={"Idempotency-Key": "t-4"})
    assert replay.status_code == 201


# --- test support ------------------------------------------------------------------------------------------------
def test_admin_state_switches_the_database_and_the_business_date(bss: Bss, template: Path, tmp_path: Path) -> None:
    other = copy_db(template, tmp_path / "other.db")
    assert bss.api("POST", TOP_UP, json={"volumeMb": 1024}, headers={"Idempotency-Key": "a"}).status_code == 201
    usage = bss.api("GET", HEAVY + "/subscriptions/L-DEMO-HEAVY/usage-summary").json()
    assert usage["topUpMb"] == 1024
    switched = bss.admin("PUT", "/state", json={"databaseUrl": f"sqlite:///{other}", "today": "2026-12-03"})
    assert switched.status_code == 200
    assert switched.json() == {"databaseUrl": f"sqlite:///{other}", "today": "2026-12-03"}
    fresh = bss.api("GET", HEAVY + "/subscriptions/L-DEMO-HEAVY/usage-summary").json()
    assert fresh["topUpMb"] == 0  # the other database: no top-up there
    assert fresh["billingPeriod"] == "2026-12" and fresh["cycleEndDate"] == "2026-12-31"  # the new business date
    assert bss.admin("GET", "/state").json()["today"] == "2026-12-03"
    bad = bss.admin("PUT", "/state", json={"databaseUrl": "nosuchdriver://x"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "STATE_SWITCH_FAILED"
    assert bss.admin("GET", "/state").json()["today"] == "2026-12-03"  # the old state is kept


def test_admin_routes_need_the_admin_token_and_exist_only_when_enabled(bss: Bss, template: Path, tmp_path: Path) -> None:
    assert bss.api("GET", "/admin/state").status_code == 401  # the API token is not the admin token
    with running_bss(copy_db(template, tmp_path / "plain.db"), admin=False) as plain:
        assert plain.admin("GET", "/state").status_code == 404


def test_injected_faults_fail_delay_and_lose_answers(bss: Bss) -> None:
    bss.fault(kind="fail", status=503, count=2, operationId="listTariffs")
    assert [bss.api("GET", "/api/v1/tariffs").status_code for _ in range(3)] == [503, 503, 200]
    bss.fault(kind="malformed", path="/usage-summary$")
    assert bss.api("GET", HEAVY + "/subscriptions/L-DEMO-HEAVY/usage-summary").text.startswith("<html>")
    bss.fault(kind="delay", delaySeconds=0.3, method="GET")
    started = time.monotonic()
    assert bss.api("GET", "/api/v1/tariffs").status_code == 200 and time.monotonic() - started >= 0.3
    before = sum(row[3] for row in _heavy_bills(bss))
    bss.fault(kind="lose_response", operationId="orderDataTopUp")
    with pytest.raises(httpx.RemoteProtocolError):  # the connection closes mid-answer …
        bss.api("POST", TOP_UP, json={"volumeMb": 1024}, headers={"Idempotency-Key": "lost"})
    assert sum(row[3] for row in _heavy_bills(bss)) == before + 2200  # … after the write committed
    replay = bss.api("POST", TOP_UP, json={"volumeMb": 1024}, headers={"Idempotency-Key": "lost"})
    assert replay.status_code == 201 and sum(row[3] for row in _heavy_bills(bss)) == before + 2200
    assert bss.calls("orderDataTopUp") == 2 and bss.admin("GET", "/faults").json()["data"] == []


# --- command line ----------------------------------------------------------------------------------------------
def test_bss_openapi_command_prints_the_served_document(bss: Bss, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sangdam.cli import app

    out = tmp_path / "bss.json"
    result = CliRunner().invoke(app, ["bss", "openapi", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8")) == httpx.get(bss.base + "/openapi.json").json()


def test_bss_serve_seeds_its_own_database_on_first_start(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SANGDAM_HOME": str(tmp_path / "home")}
    env.pop("SANGDAM_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-c", "from sangdam.cli import main; main()", "bss", "serve",
                                "--port", str(port), "--today", "2026-11-29"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read().decode()
            time.sleep(0.1)
        token_file = tmp_path / "home" / "bss" / "token"
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        token = token_file.read_text(encoding="utf-8").strip()
        usage = httpx.get(f"http://127.0.0.1:{port}{HEAVY}/subscriptions/L-DEMO-HEAVY/usage-summary",
                          headers={"Authorization": f"Bearer {token}"})
        assert usage.status_code == 200 and usage.json()["billingPeriod"] == "2026-11"
        assert (tmp_path / "home" / "bss" / "bss.db").exists()
        assert httpx.get(f"http://127.0.0.1:{port}/admin/state").status_code == 404  # no --admin-token
    finally:
        process.terminate()
        process.wait(timeout=15)

