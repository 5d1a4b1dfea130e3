"""Tools from MCP servers declared in ``$SANGDAM_HOME/mcp-servers.yaml``: a real MCP server
(tests/mcp_operator_server.py) over stdio (a subprocess Sangdam starts) and streamable HTTP (a server process on a
free port), with every guarantee of a built-in tool.

The configuration is the documented example (docs/examples/importing-tools/mcp-servers.yaml) with the command or
URL pointed at the test server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from imported_tools_support import audit, ctx_for, edited, home  # noqa: F401 - fixture
from server_support import free_port
from typer.testing import CliRunner

from sangdam.backends.core import BackendUnavailable
from sangdam.cli import app as cli
from sangdam.domain.db import session_scope
from sangdam.domain.models import ToolExecution
from sangdam.tools import messages
from sangdam.tools.base import ToolError
from sangdam.tools.imported.loader import reset_imported
from sangdam.tools.registry import CANONICAL_NAMES, all_tools, get_tool, unavailable_tools

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "importing-tools" / "mcp-servers.yaml"
SERVER = REPO / "tests" / "mcp_operator_server.py"
CALLBACK = {"callback_date": "2026-12-02", "slot": "afternoon", "topic": "요금 문의"}
TOOLS = ("get_outage_eta_netops", "list_agent_callbacks", "schedule_agent_callback")
runner = CliRunner()


class NetOps:
    """The test server's files: its state (callbacks, injected delay) and its call log."""

    def __init__(self, folder: Path) -> None:
        self.state, self.log = folder / "netops-state.json", folder / "netops-log.jsonl"
        self.env = {"NETOPS_STATE": str(self.state), "NETOPS_LOG": str(self.log)}
        self.url: str | None = None

    def calls(self, tool: str | None = None) -> list[dict]:
        lines = self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []
        return [c for c in map(json.loads, lines) if tool is None or c["tool"] == tool]

    def set_delay(self, seconds: float) -> None:
        state = json.loads(self.state.read_text()) if self.state.exists() else {"callbacks": {}}
        self.state.write_text(json.dumps({**state, "delay_s": seconds}))

    def callbacks(self) -> dict:
        return json.loads(self.state.read_text())["callbacks"] if self.state.exists() else {}


@contextmanager
def http_server(netops: NetOps, port: int | None = None) -> Iterator[subprocess.Popen]:
    """The test server as a streamable-HTTP process on a free loopback port (``netops.url``)."""
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER), "http", str(port)], env={**os.environ, **netops.env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:  # readiness poll, not a fixed sleep
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the MCP test server did not start")
        time.sleep(0.05)
    netops.url = f"http://127.0.0.1:{port}/mcp"
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write_config(home: Path, netops: NetOps, transport: str, **server_changes: object) -> Path:
    """The documented mcp-servers.yaml, pointed at the test server."""
    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    server = config["servers"]["netops"]
    if transport == "stdio":
        server.update(command=sys.executable, args=[str(SERVER), "stdio"], env=netops.env)
    else:
        for key in ("command", "args", "env"):
            server.pop(key)
        server.update(transport="http", url=netops.url)
    server.update(server_changes)
    home.mkdir(parents=True, exist_ok=True)
    path = home / "mcp-servers.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def netops(tmp_path):  # noqa: ANN001, ANN201
    return NetOps(tmp_path)


@pytest.fixture(params=["stdio", "http"])
def configured(request, home, netops):  # noqa: ANN001, ANN201
    """The server configured over each transport (the HTTP one running for the test)."""
    if request.param == "stdio":
        write_config(home, netops, "stdio")
        yield netops
        return
    with http_server(netops):
        write_config(home, netops, "http")
        yield netops


# --- listing -------------------------------------------------------------------------------------------------


def test_server_tools_are_listed_with_their_source(configured, home):
    result = runner.invoke(cli, ["tools", "list", "--json"])
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(CANONICAL_NAMES) <= set(rows) and len(rows) == 26
    assert {rows[n]["source"] for n in TOOLS} == {"mcp:netops"}
    assert [(rows[n]["risk"], rows[n]["needs_customer"]) for n in TOOLS] == [("read", False), ("read", True),
                                                                             ("write", True)]
    params = rows["schedule_agent_callback"]["schema"]["function"]["parameters"]
    assert set(params["properties"]) == {"callback_date", "slot", "topic"} and params["additionalProperties"] is False
    assert params["properties"]["slot"]["enum"] == ["morning", "afternoon"]
    cache = home / "tools" / "mcp-cache" / "netops.json"  # the listing, kept for when the server is down
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600 and "schedule_callback" in cache.read_text()


# --- reads ---------------------------------------------------------------------------------------------------


def test_read_runs_and_only_allowed_fields_reach_the_result(configured, db_engine):
    result = get_tool("get_outage_eta_netops").run(ctx_for(db_engine, None), {"area": "서울 강남구"})
    assert result.model_dump() == {"area": "서울 강남구", "outage": True, "eta": "2026-11-29T18:00:00",
                                   "cause": "광케이블 공사"}
    assert configured.calls("get_outage_eta") == [{"tool": "get_outage_eta", "args": {"area": "서울 강남구"},
                                                   "key": None, "pid": configured.calls()[0]["pid"]}]


def test_identity_gate_and_customer_from_the_context_only(configured, db_engine):
    tool = get_tool("list_agent_callbacks")
    with pytest.raises(ToolError) as exc:
        tool.run(ctx_for(db_engine, None), {})
    assert exc.value.code == "identity_required"
    with pytest.raises(ToolError) as exc:
        tool.run(ctx_for(db_engine, "C-A"), {"subscriber_id": "C-B"})
    assert exc.value.code == "invalid_args"
    assert configured.calls("list_callbacks") == []  # neither call reached the server
    assert tool.run(ctx_for(db_engine, "C-A"), {}).model_dump() == {"callbacks": []}
    assert configured.calls("list_callbacks")[0]["args"] == {"subscriber_id": "C-A"}


# --- writes --------------------------------------------------------------------------------------------------


def test_write_previews_without_calling_then_commits_once_under_a_key_and_is_audited(configured, db_engine):
    tool = get_tool("schedule_agent_callback")
    proposal = tool.preview(ctx_for(db_engine), CALLBACK)
    assert proposal.summary_ko == "2026년 12월 2일 오후에 상담사 전화를 예약합니다. 상담 주제: 요금 문의"
    assert configured.calls("schedule_callback") == [] and audit(db_engine) == []

    first = tool.run(ctx_for(db_engine, key="conv-9:p1:0"), proposal.args)
    again = tool.run(ctx_for(db_engine, key="conv-9:p1:0"), proposal.args)
    assert first == again and first.model_dump() == {"callback_id": "CB-0001", "callback_date": "2026-12-02",
                                                     "slot": "afternoon", "status": "scheduled"}
    sent = configured.calls("schedule_callback")
    assert len(sent) == 1 and sent[0]["key"] == "conv-9:p1:0" and sent[0]["args"]["subscriber_id"] == "C-A"
    outcomes = [row.result for row in audit(db_engine)]
    assert [o.get("replayed", False) for o in outcomes] == [False, True]
    assert "agent_extension" not in json.dumps(outcomes)

    with session_scope(db_engine) as s:  # Sangdam's record lost: the server's key record answers the retry
        s.delete(s.get(ToolExecution, "conv-9:p1:0"))
    assert tool.run(ctx_for(db_engine, key="conv-9:p1:0"), proposal.args) == first
    assert len(configured.calls("schedule_callback")) == 2 and len(configured.callbacks()) == 1


def test_a_tool_error_is_the_servers_refusal_in_the_mappings_korean(configured, db_engine):
    with pytest.raises(ToolError) as exc:
        get_tool("schedule_agent_callback").run(ctx_for(db_engine, key="k-full"),
                                                {**CALLBACK, "callback_date": "2026-12-25"})
    assert exc.value.code == "backend_refused" and "no agent free" in exc.value.message_en
    assert exc.value.message_ko.startswith("선택하신 날짜에는 상담사 전화 예약이 어렵습니다")
    assert audit(db_engine)[-1].result["error"] == "backend_refused"


# --- faults --------------------------------------------------------------------------------------------------


def test_timeout_is_backend_unavailable_with_the_korean_message(home, netops, db_engine):
    write_config(home, netops, "stdio", timeout_s=1)
    get_tool("get_outage_eta_netops").run(ctx_for(db_engine, None), {"area": "부산"})  # session open
    netops.set_delay(3)
    with pytest.raises(BackendUnavailable) as exc:
        get_tool("get_outage_eta_netops").run(ctx_for(db_engine, None), {"area": "부산"})
    assert "within 1 s" in exc.value.message_en
    assert exc.value.message_ko == messages.error_ko("backend_unavailable", {})


def test_a_server_down_at_load_makes_only_its_tools_unavailable(home, netops, db_engine):
    netops.url = f"http://127.0.0.1:{free_port()}/mcp"  # nothing listens there, and no listing was ever cached
    write_config(home, netops, "http")
    result = runner.invoke(cli, ["tools", "list", "--json"])
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 23  # the built-in tools, all there
    assert "warning: mcp:netops: cannot list the tools of mcp:netops" in result.stderr
    with pytest.raises(BackendUnavailable) as exc:
        get_tool("schedule_agent_callback")
    assert "mcp:netops" in exc.value.message_en and exc.value.message_ko == messages.error_ko("backend_unavailable", {})
    assert get_tool("get_bills").source == "builtin"


def test_a_server_that_comes_back_gets_its_tools_at_the_next_retry(home, netops, db_engine, monkeypatch):
    import sangdam.tools.imported.loader as loader

    port = free_port()
    netops.url = f"http://127.0.0.1:{port}/mcp"
    write_config(home, netops, "http")
    assert len(all_tools()) == 23 and unavailable_tools()
    with http_server(netops, port):
        assert len(all_tools()) == 23  # the retry waits RETRY_S
        monkeypatch.setattr(loader, "RETRY_S", 0.0)
        assert len(all_tools()) == 23  # this lookup starts the retry in the background; it does not wait for it
        assert loader.retry_settled()
        assert get_tool("get_outage_eta_netops").run(ctx_for(db_engine, None), {"area": "서울"}).outage is False
        assert unavailable_tools() == []


def test_a_server_that_went_down_keeps_its_tools_from_the_cache_and_fails_cleanly(home, netops, db_engine):
    with http_server(netops):
        write_config(home, netops, "http")
        assert get_tool("get_outage_eta_netops").run(ctx_for(db_engine, None), {"area": "서울"}).outage is False
    reset_imported()  # a new process starts while the server is down
    assert {t.name for t in all_tools()} >= set(TOOLS)
    assert "registered from the listing cached" in unavailable_tools()[0].reason
    with pytest.raises(BackendUnavailable):
        get_tool("get_outage_eta_netops").run(ctx_for(db_engine, None), {"area": "서울"})
    with pytest.raises(ToolError) as exc:  # a write that could not be sent is reported as not done
        get_tool("schedule_agent_callback").run(ctx_for(db_engine, key="k-down"), CALLBACK)
    assert exc.value.code == "backend_unavailable" and exc.value.details["sent"] is False


def test_a_stdio_server_that_died_is_started_again(home, netops, db_engine):
    write_config(home, netops, "stdio")
    tool = get_tool("get_outage_eta_netops")
    tool.run(ctx_for(db_engine, None), {"area": "서울"})
    first_pid = netops.calls()[-1]["pid"]
    os.kill(first_pid, signal.SIGKILL)
    try:  # the first call may still meet the dead session; then the next one opens a new one
        tool.run(ctx_for(db_engine, None), {"area": "서울"})
    except BackendUnavailable:
        tool.run(ctx_for(db_engine, None), {"area": "서울"})
    assert netops.calls()[-1]["pid"] != first_pid


def test_circuit_opens_after_repeated_failures_then_half_opens(home, netops, db_engine):
    port = free_port()
    with http_server(netops, port):
        write_config(home, netops, "http")
        tool = get_tool("get_outage_eta_netops")
        tool.run(ctx_for(db_engine, None), {"area": "서울"})
    now = [500.0]
    tool.service.breaker.clock = lambda: now[0]
    for _ in range(3):  # the server is gone: 3 failures (the mapping's circuit)
        with pytest.raises(BackendUnavailable) as exc:
            tool.run(ctx_for(db_engine, None), {"area": "서울"})
        assert "circuit" not in exc.value.details
    with pytest.raises(BackendUnavailable) as exc:
        tool.run(ctx_for(db_engine, None), {"area": "서울"})
    assert exc.value.details["circuit"] == "mcp:netops"  # failed fast, nothing tried
    with http_server(netops, port):  # back on the same address
        with pytest.raises(BackendUnavailable):  # still open: the wait is not over
            tool.run(ctx_for(db_engine, None), {"area": "서울"})
        now[0] += 30  # half-open: the trial call reaches the server and closes the circuit
        assert tool.run(ctx_for(db_engine, None), {"area": "서울"}).outage is False
        assert tool.service.breaker.state == "closed"


# --- bad configuration ---------------------------------------------------------------------------------------


def _bad(**changes: object) -> dict:
    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    edited(config["servers"]["netops"], **changes)
    return config


BAD_CONFIGS = [
    (_bad(transport="ftp"), "servers.netops.transport", "'stdio' or 'http'"),
    (_bad(command=None), "servers.netops", "transport stdio needs 'command'"),
    (_bad(tools__schedule_callback__confirm_ko=None), "servers.netops.tools.schedule_callback.confirm_ko",
     "needs confirm_ko"),
    (_bad(tools__get_outage_eta__tool="get_bills"), "servers.netops.tools.get_outage_eta.tool", "a built-in tool"),
    (_bad(tools__get_outage_eta__colour="blue"), "servers.netops.tools.get_outage_eta.colour", "unknown key"),
    (_bad(timeout_s="soon"), "servers.netops.timeout_s", "valid number"),
]


@pytest.mark.parametrize(("config", "path", "reason"), BAD_CONFIGS, ids=[p for _, p, _ in BAD_CONFIGS])
def test_bad_configuration_names_file_path_and_reason_and_registers_nothing(home, config, path, reason):
    home.mkdir(parents=True)
    file = home / "mcp-servers.yaml"
    file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(cli, ["tools", "list", "--json"])
    assert result.exit_code == 1 and result.stdout == ""
    assert f"error: {file}: {path}: " in result.stderr and reason in result.stderr, result.stderr


def test_a_mapping_that_does_not_fit_the_server_registers_none_of_its_tools(home, netops):
    write_config(home, netops, "stdio", tools={
        **yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["servers"]["netops"]["tools"],
        "reboot_router": {"tool": "reboot_router_netops", "risk": "read", "needs_customer": False,
                          "description_ko": "가", "description_en": "a", "result_fields": []},
    })
    names = {t.name for t in all_tools()}
    assert not names & {*TOOLS, "reboot_router_netops"} and len(names) == 23
    problem = unavailable_tools()[0]
    assert "servers.netops.tools.reboot_router: server 'netops' has no tool 'reboot_router'" in problem.reason
