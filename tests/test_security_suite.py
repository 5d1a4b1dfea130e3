"""Standing security suite, fast version: Schemathesis against the live server's OpenAPI document, every check.

The real app is served on loopback (server_support.served_world) and the ``st`` command line (pinned in
pyproject.toml) fuzzes every operation of ``/openapi.json`` with **all** its checks (``-c all``: server errors,
status codes, content types, headers and bodies against the document, negative data rejected, valid data accepted,
missing headers, undeclared methods, use after free, resource availability, ignored auth, object-level
authorization), in its coverage, fuzzing and stateful phases, a bounded number of examples per operation (~10 s in
all). The command line is used rather than the pytest plugin: the plugin's lazy fixture schema does not run on
pytest 9.

Three passes, one per kind of caller the server has: an agent key (staff: every conversation and the console), a
customer-channel key bound to a customer (its own conversations and the OpenAI-compatible endpoint), a web-chat
session token (its session). Left out: ``GET /conversations/{id}/events``, the server-push stream — open by design
for 10 minutes, so every valid request would only end at the request timeout (tests/test_server_api.py covers it).

A server error (HTTP 5xx) or a request that errors fails the test, always. Other findings fail it unless listed in
``KNOWN`` — contract gaps of the OpenAPI document found by this suite and not fixed yet, each with its reason; a
finding that is no longer seen is printed so its entry can go.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server_support import served_world

REPO = Path(__file__).resolve().parents[1]
ST = REPO / ".venv" / "bin" / "st"
EXAMPLES_PER_OPERATION = 10
STREAMS = "/events$"  # open-ended server-push stream (see the module docstring)

# Findings of this suite that are known and not fixed yet: (check code, operation) → why. Remove an entry with its fix.
KNOWN: dict[tuple[str, str], str] = {
    ("ST108", "GET /api/v1/console/conversations"): "timestamps are naive ISO 8601 without a zone, not RFC 3339",
    ("ST202", "POST /api/v1/conversations/{conv_id}/messages"): "text has no minLength/pattern in the document: "
                                                                "'' and blanks are valid by schema, refused 422",
    ("ST202", "GET /api/v1/insights/summary"): "'from' after 'to', or a range over the maximum span, is refused 422: "
                                               "a relation between two parameters OpenAPI cannot state",
    ("ST202", "GET /api/v1/insights/gaps"): "as /insights/summary: 'from' after 'to' is refused 422",
}
KNOWN_CODES_ANY_OPERATION: dict[str, str] = {}
NEVER_ALLOWED = {"ST101"}  # a server error


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    with served_world(tmp_path_factory.mktemp("security-suite") / "world.db") as (base, keys):
        session = httpx.post(f"{base}/api/v1/sessions", json={}, timeout=10)
        assert session.status_code == 201, session.text
        yield base, {**keys, "session": session.json()["token"]}


def _schemathesis(base: str, bearer: str | None, report: Path, *filters: str) -> dict:
    """One ``st run`` pass (``filters``: its operation selection); its JSON report."""
    command = [str(ST), "run", f"{base}/openapi.json", "--checks", "all", "--max-examples",
               str(EXAMPLES_PER_OPERATION), "--request-timeout", "10", "--max-failures", "1000",
               "--report-json-path", str(report), "--seed", "11", *filters]
    if bearer:
        command += ["--header", f"Authorization: Bearer {bearer}"]
    # run in the report's folder: st keeps a cache (.schemathesis/) in its working directory
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=report.parent)
    assert report.exists(), f"schemathesis did not run:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return {**json.loads(report.read_text()), "output": done.stdout}


def _findings(report: dict) -> set[tuple[str, str]]:
    return {(failure["code"], op) for failure in report["failures"] for op in failure["operations"]}


def _unexpected(found: set[tuple[str, str]]) -> set[tuple[str, str]]:
    known_codes = {code for code, _ in KNOWN} | set(KNOWN_CODES_ANY_OPERATION)
    return {(code, op) for code, op in found
            if code in NEVER_ALLOWED or code not in known_codes
            # the stateful phase chains operations: a known finding of any of them shows up under "Stateful tests"
            or ((code, op) not in KNOWN and code not in KNOWN_CODES_ANY_OPERATION and op != "Stateful tests")}


PASSES = {
    # caller: (bearer key of served_world, the operations it is sent to; never the push stream)
    "agent": ("agent", ["--exclude-path-regex", f"{STREAMS}|^/v1/|/sessions"]),
    "customer-channel": ("c", ["--exclude-path-regex",
                               f"{STREAMS}|/console/|/sessions|/takeover$|/handback$|/agent-messages$|/assist$"]),
    "web-session": ("session", ["--include-path-regex", "/sessions", "--exclude-path-regex", STREAMS]),
}


@pytest.mark.parametrize("caller", list(PASSES))
def test_schemathesis_finds_no_server_error_and_nothing_new(live: tuple[str, dict[str, str]], caller: str,
                                                            tmp_path: Path) -> None:
    base, keys = live
    key, filters = PASSES[caller]
    report = _schemathesis(base, keys[key], tmp_path / "report.json", *filters)

    found = _findings(report)
    unexpected = _unexpected(found)
    stale = {k for k in KNOWN if k not in found}
    if stale:
        print(f"[{caller}] known findings not seen this run (fixed, or not reached): {sorted(stale)}")
    assert report["operations"]["tested"] > 0
    assert not report["errors"], report["output"][-4000:]
    assert not unexpected, f"new findings {sorted(unexpected)}:\n{report['output'][-6000:]}"
