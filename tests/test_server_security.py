"""Issue 11, items 1 and 7: who may speak as which customer, and how the server refuses what it cannot take.

Two kinds of channel: a *trusted* server-to-server key (``channel-trusted``: the operator's backend, which logged
its user in) may assert ``customer_id``; the public web chat gets short-lived *sessions* (``POST /api/v1/sessions``,
no secret) that can never assert a customer — identity only through verification in the conversation or through a
signed assertion (JWT) from the operator's login.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from typer.testing import CliRunner

from sangdam.domain.conversation_models import Conversation
from sangdam.domain.db import make_engine, session_scope
from sangdam.server.app import create_app
from sangdam.server.keys import create_key
from sangdam.server.security import SecurityOptions
from server_support import TODAY, make_server_world, running_server

SECRET = "operator-login-signing-secret-0123456789abcdef"  # HS256, ≥ 32 bytes
OPTIONS = SecurityOptions(assertion_key=SECRET, assertion_issuer="https://login.nuri.example",
                          assertion_audience="sangdam")


class Clock:
    """The server's wall clock, moved by the test (session and key expiry)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 29, 9, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def world(tmp_path_factory):  # noqa: ANN001, ANN201
    engine = make_server_world(tmp_path_factory.mktemp("server-security") / "sangdam.db")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def client(world, clock) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(create_app(world, today=TODAY, rate_per_minute=0, security=OPTIONS, clock=clock)) as c:
        yield c


@pytest.fixture(scope="module")
def keys(world) -> dict[str, str]:  # noqa: ANN001
    return {
        "trusted": create_key(world, "channel-trusted").key,
        "web": create_key(world, "customer-channel").key,  # the old shared web-chat key (unbound)
        "a": create_key(world, "customer-channel", customer_id="C-A").key,
        "agent": create_key(world, "agent").key,
        "admin": create_key(world, "admin").key,  # typed into the console, in a browser: may not name customers
    }


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def new_session(client: TestClient, **body: str) -> str:
    res = client.post("/api/v1/sessions", json=body)
    assert res.status_code == 201, res.text
    return res.json()["token"]


def assertion(sub: str = "C-C", **claims: object) -> str:
    now = int(dt.datetime(2026, 11, 29, 9, 0, 0, tzinfo=dt.UTC).timestamp())
    payload = {"sub": sub, "iss": "https://login.nuri.example", "aud": "sangdam", "iat": now, "exp": now + 300,
               **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, SECRET, algorithm="HS256")


def conversations(engine) -> int:  # noqa: ANN001
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(Conversation))


def verified_as(client: TestClient, conv: str, token: str) -> bool:
    return client.get(f"/api/v1/conversations/{conv}", headers=auth(token)).json()["verified"]


# -- item 1: nobody the browser can see may act as a customer --------------------------------------------------
def test_unbound_channel_key_cannot_open_a_conversation_verified_as_any_customer(client, keys, world) -> None:  # noqa: ANN001
    before = conversations(world)
    res = client.post("/api/v1/conversations", json={"channel": "web", "customer_id": "C-A"}, headers=auth(keys["web"]))
    assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden"
    assert conversations(world) == before  # refused: nothing opened


def test_web_chat_session_needs_no_key_and_cannot_assert_a_customer(client, world) -> None:  # noqa: ANN001
    token = new_session(client)
    before = conversations(world)
    forged = client.post("/api/v1/conversations", json={"channel": "web", "customer_id": "C-A"}, headers=auth(token))
    assert forged.status_code == 403 and conversations(world) == before
    conv = client.post("/api/v1/conversations", json={"channel": "web"}, headers=auth(token)).json()["id"]
    assert verified_as(client, conv, token) is False  # identity only through verification in the conversation


def test_customer_existence_is_not_revealed_to_those_who_may_not_assert(client, keys) -> None:  # noqa: ANN001
    token = new_session(client)
    for who in (keys["web"], token, keys["a"], keys["agent"], keys["admin"]):
        real = client.post("/api/v1/conversations", json={"customer_id": "C-B"}, headers=auth(who))
        made_up = client.post("/api/v1/conversations", json={"customer_id": "C-NOBODY"}, headers=auth(who))
        assert real.status_code == made_up.status_code == 403
        assert real.json()["error"] == made_up.json()["error"]
        assert "C-NOBODY" not in made_up.text
    unknown = client.post("/api/v1/conversations", json={"customer_id": "C-NOBODY"}, headers=auth(keys["trusted"]))
    assert unknown.status_code == 422 and "C-NOBODY" not in unknown.text


def test_trusted_channel_opens_a_conversation_verified_as_its_customer(client, keys) -> None:  # noqa: ANN001
    res = client.post("/api/v1/conversations", json={"channel": "api", "customer_id": "C-C"}, headers=auth(keys["trusted"]))
    assert res.status_code == 201
    assert verified_as(client, res.json()["id"], keys["trusted"]) is True


def test_a_session_sees_only_its_own_conversations(client, keys) -> None:  # noqa: ANN001
    mine, theirs = new_session(client), new_session(client)
    conv = client.post("/api/v1/conversations", json={"channel": "web"}, headers=auth(mine)).json()["id"]
    assert client.post(f"/api/v1/conversations/{conv}/messages", json={"text": "요금 알려줘"}, headers=auth(mine)).status_code == 200
    for path in ("", "/summary", "/events"):
        assert client.get(f"/api/v1/conversations/{conv}{path}", headers=auth(theirs)).status_code == 404
        assert client.get(f"/api/v1/conversations/{conv}{path}", headers=auth(keys["web"])).status_code == 404
    assert client.post(f"/api/v1/conversations/{conv}/messages", json={"text": "네"}, headers=auth(theirs)).status_code == 404
    assert client.get(f"/api/v1/conversations/{conv}/trace", headers=auth(mine)).status_code == 403  # staff only


def test_a_session_cannot_use_the_console_or_the_openai_endpoint(client) -> None:  # noqa: ANN001
    token = new_session(client)
    assert client.get("/api/v1/console/conversations", headers=auth(token)).status_code == 403
    res = client.post("/v1/chat/completions", headers=auth(token),
                      json={"model": "sangdam", "messages": [{"role": "user", "content": "안녕하세요"}]})
    assert res.status_code == 403


def test_an_expired_session_token_is_refused(client, clock) -> None:  # noqa: ANN001
    token = new_session(client)
    conv = client.post("/api/v1/conversations", json={"channel": "web"}, headers=auth(token)).json()["id"]
    clock.now += dt.timedelta(minutes=20)
    assert client.get(f"/api/v1/conversations/{conv}", headers=auth(token)).status_code == 200  # in use: kept alive
    clock.now += dt.timedelta(minutes=31)  # idle longer than 30 minutes
    try:
        res = client.get(f"/api/v1/conversations/{conv}", headers=auth(token))
        assert res.status_code == 401 and res.json()["error"]["code"] == "session_expired"
        assert client.post(f"/api/v1/conversations/{conv}/messages", json={"text": "요금"}, headers=auth(token)).status_code == 401
    finally:
        clock.now = dt.datetime(2026, 11, 29, 9, 0, 0)


def test_a_session_ends_after_its_maximum_age_even_when_in_use(client, clock) -> None:  # noqa: ANN001
    token = new_session(client)
    conv = client.post("/api/v1/conversations", json={"channel": "web"}, headers=auth(token)).json()["id"]
    try:
        for _ in range(12 * 60 // 20):  # active every 20 minutes for 12 hours
            clock.now += dt.timedelta(minutes=20)
            last = client.get(f"/api/v1/conversations/{conv}", headers=auth(token)).status_code
        assert last == 401
    finally:
        clock.now = dt.datetime(2026, 11, 29, 9, 0, 0)


def test_signed_assertion_binds_the_session_to_the_logged_in_customer(client) -> None:  # noqa: ANN001
    res = client.post("/api/v1/sessions", json={"assertion": assertion("C-C")})
    assert res.status_code == 201 and res.json()["verified"] is True
    token = res.json()["token"]
    conv = client.post("/api/v1/conversations", json={"channel": "web"}, headers=auth(token)).json()["id"]
    assert verified_as(client, conv, token) is True
    reply = client.post(f"/api/v1/conversations/{conv}/messages", json={"text": "이번 달 요금 알려줘"}, headers=auth(token))
    assert "본인 확인" not in reply.json()["reply"]
    other = client.post("/api/v1/conversations", json={"customer_id": "C-A"}, headers=auth(token))
    assert other.status_code == 403  # bound to C-C: no other customer, not even by asking


@pytest.mark.parametrize("bad", [
    pytest.param(lambda: jwt.encode({"sub": "C-A", "iss": "https://login.nuri.example", "aud": "sangdam",
                                     "iat": 1795942800, "exp": 1795943100}, "another-secret-0123456789abcdef01",
                                    algorithm="HS256"), id="wrong-key"),
    pytest.param(lambda: assertion("C-A", exp=1795942800 - 60), id="expired"),
    pytest.param(lambda: assertion("C-A", aud="someone-else"), id="audience"),
    pytest.param(lambda: assertion("C-A", iss="https://evil.example"), id="issuer"),
    pytest.param(lambda: assertion("C-A", exp=None), id="no-expiry"),
    pytest.param(lambda: assertion("C-A", exp=1795942800 + 86400), id="lives-too-long"),
    pytest.param(lambda: assertion("C-NOBODY"), id="unknown-customer"),
    pytest.param(lambda: jwt.encode({"sub": "C-A", "iss": "https://login.nuri.example", "aud": "sangdam",
                                     "iat": 1795942800, "exp": 1795943100}, None, algorithm="none"), id="alg-none"),
    pytest.param(lambda: "not-a-jwt", id="garbage"),
])
def test_a_bad_assertion_opens_no_session(client, bad) -> None:  # noqa: ANN001
    res = client.post("/api/v1/sessions", json={"assertion": bad()})
    assert res.status_code == 401 and res.json()["error"]["code"] == "invalid_assertion"
    assert "C-NOBODY" not in res.text and "token" not in res.json()


def test_assertions_are_refused_when_no_key_is_configured(world) -> None:  # noqa: ANN001
    with TestClient(create_app(world, today=TODAY, rate_per_minute=0, security=SecurityOptions())) as c:
        res = c.post("/api/v1/sessions", json={"assertion": assertion("C-C")})
        assert res.status_code == 401 and res.json()["error"]["code"] == "invalid_assertion"


def test_new_sessions_are_limited_per_address(world) -> None:  # noqa: ANN001
    with TestClient(create_app(world, today=TODAY, rate_per_minute=3, security=OPTIONS)) as c:
        codes = [c.post("/api/v1/sessions", json={}).status_code for _ in range(5)]
        assert codes == [201, 201, 201, 429, 429]


def test_session_token_floods_are_throttled_per_address(world) -> None:  # noqa: ANN001
    with TestClient(create_app(world, today=TODAY, rate_per_minute=4, security=OPTIONS)) as c:
        token = c.post("/api/v1/sessions", json={}).json()["token"]
        guesses = [c.post("/api/v1/conversations", json={}, headers=auth(f"{token[:-4]}{i:04d}")).status_code
                   for i in range(6)]
        assert guesses[:4] == [401] * 4 and guesses[4:] == [429, 429]
        assert c.post("/api/v1/conversations", json={}, headers=auth(token)).status_code == 201  # the real one works


def test_invalid_key_floods_are_throttled_per_address_whatever_the_key(world) -> None:  # noqa: ANN001
    with TestClient(create_app(world, today=TODAY, rate_per_minute=3, security=OPTIONS)) as c:
        codes = [c.get("/api/v1/console/conversations", headers=auth(f"sd-{i:012x}.guess")).status_code for i in range(5)]
        codes.append(c.get("/api/v1/console/conversations", headers={"Authorization": "Basic x"}).status_code)
        assert codes == [401, 401, 401, 429, 429, 429]


# -- item 7: refusals are 4xx/503, never a 500 ------------------------------------------------------------------
LONE_SURROGATE = '{"text": "요금 \\ud800 알려줘"}'


def test_a_lone_surrogate_in_a_message_is_a_422_and_stores_nothing(client, keys) -> None:  # noqa: ANN001
    conv = client.post("/api/v1/conversations", json={}, headers=auth(keys["trusted"])).json()["id"]
    res = client.post(f"/api/v1/conversations/{conv}/messages", content=LONE_SURROGATE.encode(),
                      headers=auth(keys["trusted"], **{"Content-Type": "application/json"}))
    assert res.status_code == 422 and res.json()["error"]["code"] == "invalid_request"
    assert client.get(f"/api/v1/conversations/{conv}", headers=auth(keys["trusted"])).json()["messages"] == []


@pytest.mark.parametrize("content", [
    [{"type": "text", "text": 5}],
    [{"type": "text", "text": ["a"]}],
    [{"type": "text"}],
    ["plain string part"],
    [{"type": "text", "text": "요금 \ud800"}],
    "요금 \ud800 알려줘",
])
def test_bad_openai_content_is_a_422_and_opens_no_conversation(client, keys, world, content) -> None:  # noqa: ANN001
    before = conversations(world)
    body = json.dumps({"model": "sangdam", "messages": [{"role": "user", "content": content}]})
    res = client.post("/v1/chat/completions", content=body.encode(),
                      headers=auth(keys["web"], **{"Content-Type": "application/json"}))
    assert res.status_code == 422, res.text
    assert conversations(world) == before


@pytest.mark.parametrize("content,status", [("   ", 422), ("가" * 3000, 413)])
def test_a_refused_openai_message_opens_no_conversation(client, keys, world, content, status) -> None:  # noqa: ANN001
    before = conversations(world)
    res = client.post("/v1/chat/completions", headers=auth(keys["web"]),
                      json={"model": "sangdam", "messages": [{"role": "user", "content": content}]})
    assert res.status_code == status
    assert conversations(world) == before


def test_the_connection_stays_open_after_a_refused_body(tmp_path) -> None:  # noqa: ANN001
    engine = make_server_world(tmp_path / "sangdam.db")
    key = create_key(engine, "customer-channel").key
    body = json.dumps({"model": "sangdam", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]})
    try:
        with running_server(create_app(engine, today=TODAY, rate_per_minute=0, security=OPTIONS)) as base:
            conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=30)
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
            first = conn.getresponse()
            first.read()
            sock = conn.sock
            conn.request("GET", "/healthz")
            second = conn.getresponse()
            assert (first.status, second.status) == (422, 200)
            assert conn.sock is sock  # the same keep-alive connection served both
            conn.close()
    finally:
        engine.dispose()


def test_an_unexpected_error_is_a_json_500_and_the_connection_stays_open(tmp_path) -> None:  # noqa: ANN001
    engine = make_server_world(tmp_path / "sangdam.db")
    key = create_key(engine, "agent").key
    app = create_app(engine, today=TODAY, rate_per_minute=0, security=OPTIONS)

    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    app.state.centre.view = broken
    try:
        with running_server(app) as base:
            conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=30)
            conv = json.loads(_request(conn, "POST", "/api/v1/conversations", key)[1])["id"]
            status, body = _request(conn, "GET", f"/api/v1/conversations/{conv}", key)
            sock = conn.sock
            assert (status, json.loads(body)["error"]["code"]) == (500, "internal")
            assert _request(conn, "GET", "/healthz", key)[0] == 200 and conn.sock is sock
            conn.close()
    finally:
        engine.dispose()


def _request(conn: http.client.HTTPConnection, method: str, path: str, key: str) -> tuple[int, bytes]:
    conn.request(method, path, body=b"{}" if method == "POST" else None,
                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    res = conn.getresponse()
    return res.status, res.read()


def test_a_body_over_the_limit_is_a_413_before_anything_is_read(client, keys) -> None:  # noqa: ANN001
    conv = client.post("/api/v1/conversations", json={}, headers=auth(keys["trusted"])).json()["id"]
    big = json.dumps({"text": "가" * 30_000}).encode()  # 90 kB
    res = client.post(f"/api/v1/conversations/{conv}/messages", content=big,
                      headers=auth(keys["trusted"], **{"Content-Type": "application/json"}))
    assert res.status_code == 413 and res.json()["error"]["code"] == "body_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    streamed = client.post("/api/v1/sessions", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413


def _locked_world(tmp_path, *, full_disk: bool = False):  # noqa: ANN001, ANN202
    engine = make_server_world(tmp_path / "sangdam.db")
    key = create_key(engine, "channel-trusted").key
    conv_engine = make_engine(f"sqlite:///{tmp_path / 'sangdam.db'}")

    @event.listens_for(conv_engine, "connect")
    def _short_wait(dbapi_conn, _record) -> None:  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=100")
        if full_disk:  # the file may not grow: every insert that needs a page fails "database or disk is full"
            count = cur.execute("PRAGMA page_count").fetchone()[0]
            cur.execute(f"PRAGMA max_page_count={count}")
        cur.close()

    engine.dispose()
    return conv_engine, key


def test_a_locked_database_is_a_503_with_retry_after(tmp_path) -> None:  # noqa: ANN001
    engine, key = _locked_world(tmp_path)
    with TestClient(create_app(engine, today=TODAY, rate_per_minute=0, security=OPTIONS), raise_server_exceptions=False) as c:
        conv = c.post("/api/v1/conversations", json={"customer_id": "C-C"}, headers=auth(key)).json()["id"]
        blocker = make_engine(f"sqlite:///{tmp_path / 'sangdam.db'}")
        with blocker.connect() as hold:
            hold.exec_driver_sql("BEGIN EXCLUSIVE")
            res = c.post(f"/api/v1/conversations/{conv}/messages", json={"text": "로밍 꺼 주세요"}, headers=auth(key))
            hold.exec_driver_sql("ROLLBACK")
        blocker.dispose()
        assert res.status_code == 503 and res.json()["error"]["code"] == "unavailable"
        assert 1 <= int(res.headers["Retry-After"]) <= 5
        assert res.json()["error"]["message_ko"]
    engine.dispose()


def test_a_full_disk_is_a_503_with_a_longer_retry_after(tmp_path) -> None:  # noqa: ANN001
    engine, key = _locked_world(tmp_path, full_disk=True)
    with TestClient(create_app(engine, today=TODAY, rate_per_minute=0, security=OPTIONS), raise_server_exceptions=False) as c:
        codes = []
        for _ in range(40):  # fill the last free pages, then every write is refused
            res = c.post("/api/v1/conversations", json={"customer_id": "C-C"}, headers=auth(key))
            codes.append(res.status_code)
            if res.status_code != 201:
                break
        assert codes[-1] == 503 and res.json()["error"]["code"] == "unavailable"
        assert int(res.headers["Retry-After"]) >= 30
    engine.dispose()


PAGES = ["/chat", "/console", "/docs", "/static/chat.js", "/openapi.json", "/api/v1/sessions", "/nowhere", "/healthz"]


@pytest.mark.parametrize("path", PAGES)
def test_every_response_carries_the_security_headers(client, path) -> None:  # noqa: ANN001
    res = client.get(path)
    csp = res.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0] if "script-src" in csp else True
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Referrer-Policy"] == "no-referrer"


def test_pages_allow_no_inline_script(client) -> None:  # noqa: ANN001
    for path in ("/chat", "/console", "/docs"):
        csp = client.get(path).headers["Content-Security-Policy"]
        script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
        assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src


def test_api_docs_load_no_script_from_another_host(client) -> None:  # noqa: ANN001
    page = client.get("/docs")
    assert page.status_code == 200 and "cdn" not in page.text.lower() and "https://" not in page.text
    scripts = [part.split('"')[0] for part in page.text.split('<script src="')[1:]]
    assert scripts and all(s.startswith("/") for s in scripts)
    assert all(client.get(s).status_code == 200 for s in scripts)
    assert client.get("/openapi.json").json()["paths"]


def test_api_docs_can_be_turned_off_while_the_openapi_document_stays(world) -> None:  # noqa: ANN001
    with TestClient(create_app(world, today=TODAY, rate_per_minute=0, security=SecurityOptions(api_docs=False))) as c:
        assert c.get("/docs").status_code == 404
        assert c.get("/openapi.json").status_code == 200


def test_the_chat_page_holds_no_key_input(client) -> None:  # noqa: ANN001
    page = client.get("/chat").text + client.get("/static/chat.js").text + client.get("/static/common.js").text
    assert "localStorage" not in page and 'data-testid="key"' not in page
    assert "location.search" not in page  # no key or token taken from the URL


# -- keys: expiry, revoke, list ---------------------------------------------------------------------------------
def test_an_expired_key_is_refused(world, clock) -> None:  # noqa: ANN001
    key = create_key(world, "agent", expires_at=clock.now + dt.timedelta(hours=1)).key
    with TestClient(create_app(world, today=TODAY, rate_per_minute=0, security=OPTIONS, clock=clock)) as c:
        assert c.get("/api/v1/console/conversations?limit=1", headers=auth(key)).status_code == 200
        clock.now += dt.timedelta(hours=2)
        try:
            assert c.get("/api/v1/console/conversations?limit=1", headers=auth(key)).status_code == 401
        finally:
            clock.now = dt.datetime(2026, 11, 29, 9, 0, 0)


def test_keys_commands_create_with_expiry_list_and_revoke(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from sangdam.cli import app
    from sangdam.config import reset_settings

    engine = make_server_world(tmp_path / "sangdam.db")
    monkeypatch.setenv("SANGDAM_DATABASE_URL", f"sqlite:///{tmp_path / 'sangdam.db'}")
    reset_settings()
    try:
        runner = CliRunner()
        made = runner.invoke(app, ["keys", "create", "--role", "channel-trusted", "--label", "app-backend",
                                   "--expires-in", "30d"])
        assert made.exit_code == 0, made.output
        key = made.output.strip().splitlines()[-1]
        key_id = key[3:].split(".")[0]
        listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).output)
        row = next(k for k in listed if k["key_id"] == key_id)
        assert row["role"] == "channel-trusted" and row["expires_at"].startswith("20") and not row["revoked"]
        assert key not in json.dumps(listed) and "key_hash" not in json.dumps(listed)
        revoked = runner.invoke(app, ["keys", "revoke", key_id])
        assert revoked.exit_code == 0, revoked.output
        with TestClient(create_app(engine, today=TODAY, rate_per_minute=0, security=OPTIONS)) as c:
            assert c.post("/api/v1/conversations", json={}, headers=auth(key)).status_code == 401
        assert runner.invoke(app, ["keys", "revoke", "nosuchkey"]).exit_code != 0
        listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).output)
        assert next(k for k in listed if k["key_id"] == key_id)["revoked"] is True
    finally:
        reset_settings()
        engine.dispose()



def test_ended_sessions_without_conversations_are_deleted(world, clock) -> None:  # noqa: ANN001
    from sangdam.domain.auth_models import WebSession

    with TestClient(create_app(world, today=TODAY, rate_per_minute=0, security=OPTIONS, clock=clock)) as c:
        idle = new_session(c)
        kept = new_session(c)
        c.post("/api/v1/conversations", json={}, headers=auth(kept))
        clock.now += dt.timedelta(hours=13)
        try:
            new_session(c)  # opening a session prunes the ended ones now and then
        finally:
            clock.now = dt.datetime(2026, 11, 29, 9, 0, 0)
    with session_scope(world) as s:
        assert s.get(WebSession, idle[3:].split(".")[0]) is None
        assert s.get(WebSession, kept[3:].split(".")[0]) is not None  # it owns a conversation


def test_a_body_that_is_not_utf8_is_a_400_invalid_json(client, keys) -> None:  # noqa: ANN001
    res = client.post("/api/v1/sessions", content=b'{"assertion": "\xff\xfe"}', headers={"Content-Type": "application/json"})
    assert res.status_code == 400 and res.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("algorithms", [("RS256",), ("RS256", "HS256")])
def test_rs256_assertions_are_verified_and_the_public_key_is_no_hmac_secret(world, algorithms) -> None:  # noqa: ANN001
    import base64
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    now = int(dt.datetime(2026, 11, 29, 9, 0, 0, tzinfo=dt.UTC).timestamp())
    claims = {"sub": "C-C", "aud": "sangdam", "iat": now, "exp": now + 300}

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    unsigned = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims).encode())}"
    confused = f"{unsigned}.{b64(hmac.new(public_pem.encode(), unsigned.encode(), hashlib.sha256).digest())}"
    options = SecurityOptions(assertion_key=public_pem, assertion_algorithms=algorithms)
    with TestClient(create_app(world, today=TODAY, rate_per_minute=0, security=options, clock=Clock())) as c:
        good = c.post("/api/v1/sessions", json={"assertion": jwt.encode(claims, private, algorithm="RS256")})
        assert good.status_code == 201 and good.json()["verified"] is True
        forged = c.post("/api/v1/sessions", json={"assertion": confused})  # HS256 "signed" with the public key
        assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_assertion"


@pytest.mark.parametrize("path", ["/events?after=25640165372429507050902388736", "?after=99999999999999999999"])
def test_an_index_past_any_integer_column_is_a_422(client, keys, path) -> None:  # noqa: ANN001
    conv = client.post("/api/v1/conversations", json={}, headers=auth(keys["trusted"])).json()["id"]
    res = client.get(f"/api/v1/conversations/{conv}{path}", headers=auth(keys["trusted"]))
    assert res.status_code == 422 and res.json()["error"]["code"] == "invalid_request"


def test_a_huge_last_event_id_replays_from_the_start(world, keys) -> None:  # noqa: ANN001
    with TestClient(create_app(world, today=TODAY, rate_per_minute=0, security=OPTIONS, push_max_s=0)) as c:
        conv = c.post("/api/v1/conversations", json={}, headers=auth(keys["trusted"])).json()["id"]
        res = c.get(f"/api/v1/conversations/{conv}/events",
                    headers=auth(keys["trusted"], **{"Last-Event-ID": "9" * 19}))
        assert res.status_code == 200 and "event: state" in res.text


def test_a_login_while_the_operators_systems_are_down_is_503_not_500(world, clock, monkeypatch) -> None:  # noqa: ANN001
    from sangdam.backends.core import BackendUnavailable
    from sangdam.backends.sql import SqlBackend

    def down(self, customer_ids):  # noqa: ANN001, ANN202
        raise BackendUnavailable("connection refused")

    monkeypatch.setattr(SqlBackend, "customer_names", down)
    with TestClient(create_app(world, today=TODAY, rate_per_minute=0, security=OPTIONS, clock=clock)) as c:
        res = c.post("/api/v1/sessions", json={"assertion": assertion("C-C")})
    assert res.status_code == 503 and res.headers["Retry-After"] == "10"
    assert res.json()["error"]["code"] == "backend_unavailable" and "연결" in res.json()["error"]["message_ko"]
