"""A real ``sangdam serve --workers N`` on PostgreSQL for the several-worker and crash tests (and bench/).

``served_workers(url, workers=2)`` seeds the server tests' world (server_support) into the database at ``url``,
creates keys, starts the server as a subprocess on a free loopback port with the fault hook's file set
(``sangdam.server.faults``: write a table name into ``Workers.fault_file`` to make the next worker that commits a row
there die by SIGKILL), waits until every worker answers, and stops it on exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text

from sangdam.domain.db import make_engine, migrate
from sangdam.server.keys import create_key
from server_support import TODAY, free_port, populate_server_world

REPO = Path(__file__).resolve().parents[1]
SANGDAM = REPO / ".venv" / "bin" / "sangdam"


@dataclass
class Workers:
    """A running several-worker server: its URL, keys ("c": bound to C-C 박솔, "agent"), supervisor process and the
    fault hook's file."""

    base: str
    keys: dict[str, str]
    supervisor: subprocess.Popen
    fault_file: Path
    log: Path
    url: str

    def pids(self) -> list[int]:
        """The live worker processes (children of the supervisor running uvicorn's worker entry point)."""
        return worker_pids(self.supervisor.pid)

    def arm(self, table: str) -> None:
        """The next worker that commits a new row into ``table`` dies right after that commit (SIGKILL)."""
        self.fault_file.write_text(table + "\n")

    def fired(self) -> bool:
        return not self.fault_file.exists()

    def wait_for_workers(self, count: int, *, timeout: float = 120) -> None:
        """Wait until ``count`` workers are alive and warmed up (after a kill: the supervisor's replacement)."""
        _wait_until_serving(self, self.url, count, timeout)


def worker_pids(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return sorted(pids)


def seed_world(url: str) -> dict[str, str]:
    """Migrate and seed the database at ``url``; keys for the tests."""
    engine = make_engine(url)
    try:
        migrate(engine)
        populate_server_world(engine)
        return {"c": create_key(engine, "customer-channel", customer_id="C-C").key,
                "agent": create_key(engine, "agent").key}
    finally:
        engine.dispose()


@contextmanager
def served_workers(url: str, *, workers: int = 2, rate_limit: int = 0, seed: bool = True,
                   keys: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Iterator[Workers]:
    """``sangdam serve --workers N`` on the database at ``url`` (seeded unless ``seed=False``; ``workers=1``: one
    process, which may also serve a SQLite URL)."""
    keys = seed_world(url) if seed else dict(keys or {})
    home = Path(tempfile.mkdtemp(prefix="sangdam-workers-"))
    _copy_router_cache(home)
    port = free_port()
    fault_file = home / "fault"
    log = home / "server.log"
    child_env = {**os.environ, "SANGDAM_HOME": str(home), "SANGDAM_DATABASE_URL": url,
                 "SANGDAM_TODAY": TODAY.isoformat(), "SANGDAM_FAULT_FILE": str(fault_file), **(env or {})}
    with open(log, "wb") as out:
        supervisor = subprocess.Popen([str(SANGDAM), "serve", "--port", str(port), "--workers", str(workers),
                                       "--rate-limit", str(rate_limit)], env=child_env, stdout=out,
                                      stderr=subprocess.STDOUT, start_new_session=True)
    server = Workers(f"http://127.0.0.1:{port}", keys, supervisor, fault_file, log, url)
    try:
        if workers > 1:
            _wait_until_serving(server, url, workers)
        else:  # one process (SQLite or PostgreSQL): it accepts once its app is built
            _wait_for_health(server)
        yield server
    finally:
        _stop(supervisor)


def _copy_router_cache(home: Path) -> None:
    """Give a fresh server home the caller's trained intent-router cache, when it has one, so the workers load it
    instead of each training the router on start (~8 s, all workers at once on two cores). The cache is keyed by
    the training data: a stale copy is retrained, never used."""
    from sangdam.config import Settings

    cache = Settings().resolved_home / "cache" / "router"
    if cache.is_dir():
        shutil.copytree(cache, home / "cache" / "router")


def _wait_until_serving(server: Workers, url: str, count: int, timeout: float = 120) -> None:
    """Wait until ``count`` live workers have finished their warm-up: each then holds a database connection named
    ``sangdam-worker-<pid>`` (``serve.worker_app``) and accepts right after."""
    deadline = time.monotonic() + timeout
    engine = make_engine(url)
    try:
        while True:
            with engine.connect() as conn:
                names = conn.execute(text("SELECT DISTINCT application_name FROM pg_stat_activity "
                                          "WHERE application_name LIKE 'sangdam-worker-%'")).scalars().all()
            ready = {int(n.rsplit("-", 1)[1]) for n in names} & set(server.pids())
            if len(ready) >= count:
                return
            if server.supervisor.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"workers not ready ({ready}); log:\n{server.log.read_text()[-3000:]}")
            time.sleep(0.1)
    finally:
        engine.dispose()


def _wait_for_health(server: Workers, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(server.base + "/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.supervisor.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start; log:\n{server.log.read_text()[-3000:]}")
        time.sleep(0.1)


def _stop(supervisor: subprocess.Popen) -> None:
    if supervisor.poll() is None:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait(timeout=10)


def send_until_answered(client: httpx.Client, conv: str, text: str, key: str, idempotency_key: str, *,
                        deadline_s: float = 60) -> tuple[httpx.Response, int]:
    """Send like the web chat does: on a dropped connection or a 5xx/409, retry the same message under the same
    ``Idempotency-Key`` (0.2 s apart) until it is answered. Returns the answer and how many tries it took."""
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key}
    deadline = time.monotonic() + deadline_s
    tries = 0
    while True:
        tries += 1
        try:
            res = client.post(f"/api/v1/conversations/{conv}/messages", json={"text": text}, headers=headers)
            if res.status_code < 500 and res.status_code != 409:
                return res, tries
        except httpx.TransportError:
            pass  # the worker died with the request: send it again
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not answered after {tries} tries")
        time.sleep(0.2)


__all__ = ["Workers", "seed_world", "send_until_answered", "served_workers", "worker_pids"]
