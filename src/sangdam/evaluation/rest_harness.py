"""Scenarios through the ``rest`` adapter: one reference BSS process (``sangdam bss serve``) for the whole run, pointed
at each scenario's operator database in turn (its test-support ``PUT /admin/state``), and a ``RestBackend`` built
exactly as an operator's ``backend.yaml`` would build it (the packaged reference mapping, bearer auth from a token
file, the BSS's own OpenAPI document). Used by ``sangdam eval --backend rest`` and the tests.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from sangdam.config import owner_only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RestHarness:
    """A live reference BSS and the rest adapter in front of it (``close`` stops the process)."""

    name = "rest"

    def __init__(self, process: subprocess.Popen[bytes] | None, base_url: str, token: str, admin_token: str,
                 work_dir: Path, log_path: Path | None = None) -> None:
        self.process, self.base_url, self.admin_token = process, base_url.rstrip("/"), admin_token
        self.work_dir, self.log_path = work_dir, log_path
        token_file = work_dir / "bss-token"
        token_file.write_text(token + "\n", encoding="utf-8")
        owner_only(token_file, 0o600)
        self.config = {"base_url": self.base_url, "mapping": "builtin:reference-bss",
                       "auth": {"token_file": str(token_file)}, "timeout_s": 15.0}
        self._backend: Any = None
        self.command: list[str] = []
        self.env: dict[str, str] = {}
        self._state: dict[str, str] | None = None

    @classmethod
    def start(cls, work_dir: Path | None = None, *, timeout_s: float = 60.0) -> RestHarness:
        """Start ``sangdam bss serve`` on a free port with fresh tokens and wait until it answers."""
        work_dir = Path(work_dir or tempfile.mkdtemp(prefix="sangdam-bss-"))
        work_dir.mkdir(parents=True, exist_ok=True)
        port, token, admin = free_port(), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        log_path = work_dir / "bss.log"
        env = {**os.environ, "SANGDAM_HOME": str(work_dir / "home")}
        command = [sys.executable, "-c", "import sys; from sangdam.cli import main; sys.argv[0] = 'sangdam'; main()",
                   "bss", "serve", "--port", str(port),
                   "--database-url", f"sqlite:///{work_dir / 'bss-initial.db'}", "--token", token,
                   "--admin-token", admin]
        harness = cls(None, f"http://127.0.0.1:{port}", token, admin, work_dir, log_path)
        harness.command, harness.env = command, env
        harness.restart(timeout_s)
        return harness

    def restart(self, timeout_s: float = 60.0) -> None:
        """(Re)start the BSS process on the same port and tokens, pointed at the last attached database."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the BSS is still running")
        with open(self.log_path or self.work_dir / "bss.log", "ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env)  # noqa: S603
        self.wait_ready(timeout_s)
        if self._state is not None:
            self.admin("PUT", "/state", self._state)

    def kill(self) -> None:
        """Kill the BSS process at once (a crash: no graceful shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the BSS exited with {self.process.returncode}: {self._log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.close()
        raise RuntimeError(f"the BSS did not answer within {timeout_s:.0f} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-800:]

    @property
    def backend(self) -> Any:
        """The rest adapter (built once: it reads the BSS's OpenAPI document and checks the mapping against it)."""
        if self._backend is None:
            from sangdam.backends.rest import RestBackend

            self._backend = RestBackend.from_config(self.config, self.work_dir)
        return self._backend

    def admin(self, method: str, path: str, json: Any = None) -> Any:
        response = httpx.request(method, f"{self.base_url}/admin{path}", json=json, timeout=30.0,
                                 headers={"Authorization": f"Bearer {self.admin_token}"})
        response.raise_for_status()
        return response.json() if response.content else None

    def attach(self, operator_engine: Engine, operator_path: Path, today: dt.date) -> Any:
        """Point the BSS at ``operator_path`` as of ``today``; the backend to converse through."""
        with operator_engine.connect() as conn:  # what the runner loaded must be in the file the BSS opens
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        self._state = {"databaseUrl": f"sqlite:///{operator_path}", "today": today.isoformat()}
        self.admin("PUT", "/state", self._state)
        return self.backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
