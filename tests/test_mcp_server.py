"""``sangdam mcp serve`` driven by the ``mcp`` client library over both transports, against real processes.

One SANGDAM_HOME for the module: the server-test world (C-A 김하늘 with L-A1/L-A2, C-B 이바다 suspended and
overdue, C-C 박솔 with L-C1), a two-document knowledge base and API keys. stdio tests spawn
``sangdam mcp serve --transport stdio`` per client; HTTP tests share one ``--transport http`` server process on a free
port. Tests that write compare the database before and after, so they do not depend on each other's order.

No test over HTTP fails a verification on purpose: the identity throttle counts failures per client address
(127.0.0.1 here) for an hour, and would slow every later HTTP verification.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from server_support import free_port, make_server_world
from sqlalchemy import func, select

from sangdam.config import reset_settings
from sangdam.domain.db import make_engine, session_scope
from sangdam.domain.models import AuditLog, Line, ToolExecution
from sangdam.server.keys import create_key, revoke_key
from sangdam.tools.registry import all_tools

SANGDAM = str(Path(sys.executable).with_name("sangdam"))
TODAY = "2026-11-29"
A = {"phone": "010-1111-2222", "birth_date": "1985-03-14"}  # C-A 김하늘
B = {"phone": "010-3333-4444", "birth_date": "1990-07-01"}  # C-B 이바다
C = {"phone": "010-5555-6666", "birth_date": "1995-05-05"}  # C-C 박솔
EXTRA_TOOLS = {"confirm_proposal", "decline_proposal", "search_knowledge", "session_info"}
DOCS = {
    "roaming.md": "# 로밍 안내\n\n## 일본 로밍 패스\n\n일본 로밍 패스는 5일 동안 데이터 3GB를 쓸 수 있으며 요금은 "
                  "19,800원입니다.\n\n## 로밍 해지\n\n로밍은 앱이나 고객센터에서 언제든지 끌 수 있습니다.\n",
    "payment.md": "# 요금 납부\n\n## 납부 기한\n\n요금 납부 기한은 다음 달 25일입니다. 기한이 지나면 미납으로 처리됩니다.\n",
}


@dataclass
class Home:
    path: Path
    keys: dict[str, str]  # "bound_c": customer-channel bound to C-C, "unbound", "trusted", "agent", "admin"
    key_ids: dict[str, str]

    @property
    def env(self) -> dict[str, str]:
        """The server's environment (the stdio client passes only these over a minimal default set): the same
        import path as this test process."""
        env = {"SANGDAM_HOME": str(self.path), "SANGDAM_TODAY": TODAY, "SANGDAM_LOG_LEVEL": "WARNING"}
        if os.environ.get("PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        return env

    def engine(self):  # noqa: ANN201 - an Engine on the home's database
        return make_engine(f"sqlite:///{self.path / 'sangdam.db'}")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    root = tmp_path_factory.mktemp("mcp-home")
    engine = make_server_world(root / "sangdam.db")
    made = {"bound_c": create_key(engine, "customer-channel", customer_id="C-C"),
            "unbound": create_key(engine, "customer-channel"), "trusted": create_key(engine, "channel-trusted"),
            "agent": create_key(engine, "agent"), "admin": create_key(engine, "admin")}
    engine.dispose()
    docs = tmp_path_factory.mktemp("mcp-docs")
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:  # the KB is stored under this home, not the session's
        mp.setenv("SANGDAM_HOME", str(root))
        reset_settings()
        from sangdam.knowledge.store import ingest_directory

        assert ingest_directory(docs, "default").chunks_total == 3
    reset_settings()
    yield Home(root, {k: v.key for k, v in made.items()}, {k: v.key_id for k, v in made.items()})


@pytest.fixture(scope="module")
def http_url(home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``sangdam mcp serve --transport http`` on a free loopback port, until the module ends."""
    port = free_port()
    log = (tmp_path_factory.mktemp("mcp-http") / "server.log").open("w")
    proc = subprocess.Popen([SANGDAM, "mcp", "serve", "--transport", "http", "--port", str(port)],
                            env={**os.environ, **home.env}, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:  # readiness poll, not a fixed sleep
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"MCP HTTP server did not start (exit {proc.poll()})") from None
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(timeout=15)
    log.close()


# --- clients ---------------------------------------------------------------------------------------------------
Connect = Callable[..., AbstractAsyncContextManager[Client]]


@asynccontextmanager
async def http_client(url: str, key: str, **kwargs: Any) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
        async with Client(streamable_http_client(url, http_client=http), **kwargs) as client:
            yield client


@asynccontextmanager
async def stdio_client_for(home: Home, *extra: str) -> AsyncIterator[Client]:
    params = StdioServerParameters(command=SANGDAM, args=["mcp", "serve", "--transport", "stdio", *extra],
                                   env=home.env)
    with (home.path / "stdio-stderr.log").open("a") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            yield client


@pytest.fixture(params=["stdio", "http"])
def connect(request: pytest.FixtureRequest, home: Home) -> Connect:
    """Opens one MCP session over the parametrised transport (HTTP: the unbound customer-channel key)."""
    if request.param == "stdio":
        return lambda: stdio_client_for(home)
    url = request.getfixturevalue("http_url")
    return lambda key="unbound": http_client(url, home.keys[key])


async def call(client: Client, name: str, args: dict[str, Any] | None = None) -> tuple[bool, dict[str, Any]]:
    result = await client.call_tool(name, args or {})
    return result.is_error, result.structured_content


def run(coro: Callable[[], Any]) -> Any:
    return anyio.run(coro)


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


def refill_gb(home: Home, line_id: str) -> float:
    engine = home.engine()
    try:
        with session_scope(engine) as s:
            return s.get(Line, line_id).data_refill_gb
    finally:
        engine.dispose()


def executions(home: Home, key: str) -> int:
    engine = home.engine()
    try:
        with session_scope(engine) as s:
            return s.scalar(select(func.count()).select_from(ToolExecution).where(ToolExecution.idempotency_key == key))
    finally:
        engine.dispose()


# --- both transports -------------------------------------------------------------------------------------------
def test_tool_list_is_the_registry_plus_the_proposal_contract(connect: Connect):
    async def main() -> list[Any]:
        async with connect() as client:
            return (await client.list_tools()).tools

    tools = {t.name: t for t in run(main)}
    assert set(tools) == {t.name for t in all_tools()} | EXTRA_TOOLS
    refill, cancel, line = tools["refill_data"], tools["request_cancellation"], tools["get_line"]
    assert refill.meta["sangdam/risk"] == "write" and refill.meta["sangdam/kind"] == "proposal"
    assert "confirm_proposal" in refill.description and refill.annotations.read_only_hint is False
    assert cancel.meta["sangdam/risk"] == "irreversible" and cancel.annotations.destructive_hint is True
    assert line.annotations.read_only_hint is True and line.input_schema["required"] == ["line_id"]
    assert tools["search_knowledge"].input_schema["required"] == ["query"]


def test_read_before_verification_is_identity_required_in_both_languages(connect: Connect):
    async def main() -> tuple[bool, dict[str, Any]]:
        async with connect() as client:
            return await call(client, "list_lines")

    is_error, body = run(main)
    assert is_error
    assert body["error"]["code"] == "identity_required"
    assert "verify_identity" in body["error"]["message_en"] and "본인 확인" in body["error"]["message_ko"]


def test_verified_session_reads_own_lines_and_never_another_customers(connect: Connect):
    async def main() -> list[tuple[bool, dict[str, Any]]]:
        async with connect() as client:
            return [await call(client, "verify_identity", A), await call(client, "list_lines"),
                    await call(client, "get_line", {"line_id": "L-B1"})]

    (v_err, verified), (l_err, lines), (o_err, other) = run(main)
    assert not v_err and verified == {"verified": True, "customer_id": "C-A", "customer_name": "김하늘"}
    assert not l_err and {line["id"] for line in lines["lines"]} == {"L-A1", "L-A2"}
    assert o_err and other["error"]["code"] == "not_found" and "010-3333" not in str(other)


def test_write_returns_a_proposal_and_changes_nothing(connect: Connect, home: Home):
    before = refill_gb(home, "L-A1")

    async def main() -> tuple[bool, dict[str, Any]]:
        async with connect() as client:
            await call(client, "verify_identity", A)
            return await call(client, "refill_data", {"line_id": "L-A1", "gb": 2})

    is_error, proposal = run(main)
    assert not is_error and proposal["status"] == "pending" and proposal["tool"] == "refill_data"
    assert proposal["proposal_id"].startswith("PR-") and proposal["risk"] == "write"
    assert proposal["effect"]["charge_krw"] == 4400 and "4,400원" in proposal["summary_ko"]
    assert refill_gb(home, "L-A1") == before
    assert executions(home, f"mcp-proposal:{proposal['proposal_id']}") == 0


def test_confirm_runs_the_proposal_once_and_a_repeat_returns_the_same_result(connect: Connect, home: Home):
    before = refill_gb(home, "L-A1")

    async def main() -> list[tuple[bool, dict[str, Any]]]:
        async with connect() as client:
            await call(client, "verify_identity", A)
            _, proposal = await call(client, "refill_data", {"line_id": "L-A1", "gb": 2})
            first = await call(client, "confirm_proposal", {"proposal_id": proposal["proposal_id"]})
            return [first, await call(client, "confirm_proposal", {"proposal_id": proposal["proposal_id"]})]

    (err1, first), (err2, again) = run(main)
    assert not err1 and not err2 and first["status"] == "confirmed"
    assert first["result"]["charge_krw"] == 4400 and again["result"] == first["result"]
    assert refill_gb(home, "L-A1") == before + 2  # charged once
    assert executions(home, f"mcp-proposal:{first['proposal_id']}") == 1


def test_declined_proposal_never_runs(connect: Connect, home: Home):
    before = refill_gb(home, "L-A1")

    async def main() -> list[tuple[bool, dict[str, Any]]]:
        async with connect() as client:
            await call(client, "verify_identity", A)
            _, proposal = await call(client, "refill_data", {"line_id": "L-A1", "gb": 1})
            pid = {"proposal_id": proposal["proposal_id"]}
            return [await call(client, "decline_proposal", pid), await call(client, "confirm_proposal", pid)]

    (d_err, declined), (c_err, confirmed) = run(main)
    assert not d_err and declined["status"] == "declined"
    assert c_err and confirmed["error"]["code"] == "proposal_declined" and confirmed["error"]["message_ko"]
    assert refill_gb(home, "L-A1") == before


def test_session_bound_to_a_customer_cannot_switch_to_another(connect: Connect):
    async def main() -> list[tuple[bool, dict[str, Any]]]:
        async with connect() as client:
            return [await call(client, "verify_identity", A), await call(client, "verify_identity", B),
                    await call(client, "verify_identity", A), await call(client, "session_info")]

    (_, first), (b_err, second), (a_err, same_again), (_, info) = run(main)
    assert first["customer_id"] == "C-A"
    assert b_err and second["error"]["code"] == "session_bound_to_other_customer"
    assert "C-B" not in str(second) and "이바다" not in str(second)
    assert not a_err and same_again["customer_id"] == "C-A"
    assert info["customer_id"] == "C-A" and info["bound_by"] == "verify_identity"


def test_knowledge_search_returns_cited_passages_and_nothing_off_topic(connect: Connect):
    async def main() -> list[tuple[bool, dict[str, Any]]]:
        async with connect() as client:
            return [await call(client, "search_knowledge", {"query": "일본 로밍 패스 요금은 얼마인가요?", "k": 3}),
                    await call(client, "search_knowledge", {"query": "넷플릭스 주식 가격"})]

    (err, found), (_, off_topic) = run(main)
    assert not err
    top = found["passages"][0]
    assert top["document"] == "roaming.md" and top["section"] == "로밍 안내 > 일본 로밍 패스"
    assert "19,800원" in top["text"]
    assert off_topic["passages"] == []


def test_proposal_of_one_session_is_unknown_in_another(connect: Connect, home: Home):
    before = refill_gb(home, "L-A1")

    async def main() -> tuple[bool, dict[str, Any]]:
        async with connect() as first:
            await call(first, "verify_identity", A)
            _, proposal = await call(first, "refill_data", {"line_id": "L-A1", "gb": 1})
            async with connect() as second:
                await call(second, "verify_identity", A)
                return await call(second, "confirm_proposal", {"proposal_id": proposal["proposal_id"]})

    is_error, body = run(main)
    assert is_error and body["error"]["code"] == "proposal_not_found"
    assert refill_gb(home, "L-A1") == before


# --- stdio -----------------------------------------------------------------------------------------------------
def test_stdio_confirm_of_a_changed_effect_runs_nothing_and_offers_the_new_proposal(home: Home):
    before = refill_gb(home, "L-C1")

    async def main() -> tuple[bool, dict[str, Any]]:
        async with stdio_client_for(home) as client:
            await call(client, "verify_identity", C)
            _, stale = await call(client, "refill_data", {"line_id": "L-C1", "gb": 2})
            _, other = await call(client, "refill_data", {"line_id": "L-C1", "gb": 1})
            await call(client, "confirm_proposal", {"proposal_id": other["proposal_id"]})
            return await call(client, "confirm_proposal", {"proposal_id": stale["proposal_id"]})

    is_error, body = run(main)
    assert is_error and body["error"]["code"] == "proposal_changed"
    fresh = body["error"]["details"]["new_proposal"]
    assert fresh["status"] == "pending" and fresh["args"] == {"line_id": "L-C1", "gb": 2}
    assert refill_gb(home, "L-C1") == before + 1  # only the confirmed 1 GB


def test_stdio_operator_binds_the_session_with_customer_flag(home: Home):
    async def main() -> list[tuple[bool, dict[str, Any]]]:
        async with stdio_client_for(home, "--customer", "C-B") as client:
            return [await call(client, "list_lines"), await call(client, "verify_identity", A)]

    (err, lines), (v_err, refused) = run(main)
    assert not err and [line["id"] for line in lines["lines"]] == ["L-B1"]
    assert v_err and refused["error"]["code"] == "session_bound_to_other_customer"


def test_stdio_unknown_customer_flag_fails_at_start(home: Home):
    proc = subprocess.run([SANGDAM, "mcp", "serve", "--customer", "C-NOPE"], env={**os.environ, **home.env},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "not_found" in proc.stderr and proc.stdout == ""


def test_stdio_verification_is_throttled_like_a_chat(home: Home):
    wrong = {"phone": "010-9000-0001", "birth_date": "1980-01-01"}

    async def main() -> list[tuple[bool, dict[str, Any]]]:
        async with stdio_client_for(home) as client:
            return [await call(client, "verify_identity", wrong) for _ in range(4)]

    *failures, closed = run(main)
    assert all(not err and body["verified"] is False for err, body in failures)
    assert closed[0] and closed[1]["error"]["code"] == "verification_closed"
    engine = home.engine()
    with session_scope(engine) as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.tool == "verify_identity")).all()
        assert sum(1 for r in rows if str(r.result.get("conversation_id", "")).startswith("mcp-stdio-")
                   and r.args.get("phone_last4") == "0001") == 4
    engine.dispose()


# --- HTTP ------------------------------------------------------------------------------------------------------
_INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.mark.parametrize("bearer", [None, "sd-nope.nope", "not-a-key", "revoked"])
def test_http_without_a_valid_key_is_401(http_url: str, home: Home, bearer: str | None):
    if bearer == "revoked":
        engine = home.engine()
        made = create_key(engine, "customer-channel")
        revoke_key(engine, made.key_id)
        engine.dispose()
        bearer = made.key
    headers = {**_HEADERS, **({"Authorization": f"Bearer {bearer}"} if bearer else {})}
    response = httpx.post(http_url, json=_INIT, headers=headers, timeout=30)
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_http_console_keys_may_not_connect(http_url: str, home: Home, role: str):
    response = httpx.post(http_url, json=_INIT, headers={**_HEADERS, "Authorization": f"Bearer {home.keys[role]}"},
                          timeout=30)
    assert response.status_code == 403


def test_http_mcp_client_with_a_bad_key_cannot_connect(http_url: str):
    async def main() -> None:
        async with http_client(http_url, "sd-nope.nope"):
            pass

    with pytest.raises(BaseException) as caught:
        run(main)
    assert [type(e) for e in leaves(caught.value)] == [MCPError]  # the 401 (see above) as the client reports it


def test_http_key_bound_to_a_customer_binds_the_session(http_url: str, home: Home):
    async def main() -> list[tuple[bool, dict[str, Any]]]:
        async with http_client(http_url, home.keys["bound_c"]) as client:
            return [await call(client, "list_lines"), await call(client, "verify_identity", A),
                    await call(client, "session_info")]

    (err, lines), (v_err, refused), (_, info) = run(main)
    assert not err and [line["id"] for line in lines["lines"]] == ["L-C1"]
    assert v_err and refused["error"]["code"] == "session_bound_to_other_customer"
    assert info["customer_id"] == "C-C" and info["bound_by"] == "api_key"


def test_http_trusted_key_connects_unbound(http_url: str, home: Home):
    async def main() -> tuple[bool, dict[str, Any]]:
        async with http_client(http_url, home.keys["trusted"]) as client:
            return await call(client, "list_lines")

    is_error, body = run(main)
    assert is_error and body["error"]["code"] == "identity_required"


def test_http_revoking_a_key_cuts_off_its_open_session(http_url: str, home: Home):
    engine = home.engine()
    made = create_key(engine, "customer-channel", customer_id="C-A")

    answered: list[tuple[bool, dict[str, Any]]] = []

    async def main() -> None:
        async with http_client(http_url, made.key) as client:
            answered.append(await call(client, "list_lines"))
            revoke_key(engine, made.key_id)
            answered.append(await call(client, "list_lines"))

    with pytest.raises(BaseException) as caught:
        run(main)
    engine.dispose()
    assert len(answered) == 1 and not answered[0][0]  # the first call ran; the one after revoking did not
    assert all(isinstance(e, MCPError) for e in leaves(caught.value))


def test_http_session_cannot_be_used_with_another_key(http_url: str, home: Home):
    with httpx.Client(timeout=30) as http:
        opened = http.post(http_url, json=_INIT, headers={**_HEADERS, "Authorization": f"Bearer {home.keys['unbound']}"})
        session_id = opened.headers["mcp-session-id"]
        call_ = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "session_info", "arguments": {}}}
        other = http.post(http_url, json=call_, headers={**_HEADERS, "Mcp-Session-Id": session_id,
                                                         "Mcp-Protocol-Version": "2025-11-25",
                                                         "Authorization": f"Bearer {home.keys['trusted']}"})
    assert opened.status_code == 200 and other.status_code == 404


def test_http_sessionless_protocol_is_refused_naming_the_handshake_versions(http_url: str, home: Home):
    async def main() -> None:
        async with http_client(http_url, home.keys["bound_c"], mode="2026-07-28") as client:
            await client.call_tool("list_lines", {})

    with pytest.raises(BaseException) as caught:
        run(main)
    (refusal,) = leaves(caught.value)
    assert isinstance(refusal, MCPError) and refusal.code == -32022  # UNSUPPORTED_PROTOCOL_VERSION
    assert refusal.data["supported"] == ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
