"""Data sovereignty: the process talks to its configured LLM endpoints, its database and the operator's systems
(the configured backend), and nothing else.

``NetworkGuard`` patches Python's socket layer (``socket.connect``/``connect_ex``/``getaddrinfo``) so every
outbound connection or DNS lookup is checked against an allow-list built from the configuration. Unix sockets
are always allowed (they never leave the machine). Libraries that open sockets from C (libpq, a llama.cpp built
with curl) bypass Python's socket module; ``open_inet_connections`` audits those afterwards from ``/proc``.

Use it as a context manager (tests, the evaluation runner) or call ``enforce_sovereignty()`` once at start-up.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432, "mysql": 3306}


class SovereigntyViolation(RuntimeError):
    """An outbound connection or DNS lookup to a destination that is not configured."""

    code = "security.sovereignty"


@dataclass(frozen=True)
class Endpoint:
    """An allowed destination; ``port=None`` allows every port of the host."""

    host: str
    port: int | None = None

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """Endpoint of an http(s) or database URL (default port of the scheme when none is given)."""
        parts = urlsplit(url)
        scheme = parts.scheme.split("+")[0]
        return cls(parts.hostname or "localhost", parts.port or _DEFAULT_PORTS.get(scheme))


@dataclass
class Attempt:
    """One connection or lookup the guard saw."""

    kind: Literal["connect", "resolve"]
    host: str
    port: int | None
    allowed: bool


def configured_endpoints(db_url: str | None = None, llm_urls: Iterable[str] | None = None,
                         operator_urls: Iterable[str] | None = None) -> list[Endpoint]:
    """Endpoints the configuration allows: the database (unless SQLite), every remote LLM base URL and the
    operator's systems (the backend's API or database, docs/backends.md; imported tools' servers,
    docs/importing-tools.md)."""
    if operator_urls is None:
        from sangdam.backends import backend_endpoints
        from sangdam.config import get_settings
        from sangdam.tools.imported.loader import imported_endpoints

        operator_urls = [*backend_endpoints(), *imported_endpoints(get_settings().resolved_home)]
    if db_url is None or llm_urls is None:
        from sangdam.config import get_settings
        from sangdam.llm.config import load_llm_config

        db_url = db_url if db_url is not None else get_settings().db_url
        if llm_urls is None:
            roles = load_llm_config().roles.values()
            llm_urls = [r.base_url for r in roles if r.backend == "openai" and r.base_url]
    endpoints = [Endpoint.from_url(u) for u in (*llm_urls, *operator_urls)]
    if not db_url.startswith("sqlite"):
        endpoints.append(Endpoint.from_url(db_url))
    return endpoints


def _resolve(host: str, original_getaddrinfo: Any) -> set[str]:
    try:
        return {info[4][0] for info in original_getaddrinfo(host, None)}
    except OSError:
        return set()


class NetworkGuard:
    """Blocks (``mode="raise"``) or records (``mode="record"``) connections outside the allow-list."""

    def __init__(self, allowed: Iterable[Endpoint | str] = (), *, mode: Literal["raise", "record"] = "raise") -> None:
        self.allowed = [a if isinstance(a, Endpoint) else Endpoint.from_url(a) for a in allowed]
        self.mode = mode
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._saved: dict[str, Any] = {}
        self._hosts: set[str] = set()
        self._ips: dict[str, set[int | None]] = {}

    @property
    def violations(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.allowed]

    def _host_allowed(self, host: str) -> bool:
        return host in self._hosts or host in self._ips

    def _addr_allowed(self, ip: str, port: int) -> bool:
        ports = self._ips.get(ip.split("%")[0])
        if ports is None:
            return False
        return None in ports or port in ports

    def _note(self, kind: Literal["connect", "resolve"], host: str, port: int | None, allowed: bool) -> None:
        with self._lock:
            self.attempts.append(Attempt(kind, host, port, allowed))
        if not allowed and self.mode == "raise":
            target = f"{host}:{port}" if port is not None else host
            raise SovereigntyViolation(f"blocked outbound {kind} to {target}: not a configured LLM endpoint or database")

    def _check_address(self, sock: socket.socket, address: Any) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return  # AF_UNIX and friends never leave the machine
        host, port = address[0], address[1]
        self._note("connect", host, port, self._addr_allowed(host, port))

    def install(self) -> NetworkGuard:
        """Patch the socket module (until ``uninstall``)."""
        original_getaddrinfo = socket.getaddrinfo
        for endpoint in self.allowed:
            self._hosts.add(endpoint.host)
            ips = {endpoint.host} if _is_ip(endpoint.host) else _resolve(endpoint.host, original_getaddrinfo)
            for ip in ips:
                self._ips.setdefault(ip, set()).add(endpoint.port)
        guard = self
        self._saved = {"connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex,
                       "getaddrinfo": original_getaddrinfo}
        connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

        def guarded_connect(sock: socket.socket, address: Any) -> Any:
            guard._check_address(sock, address)
            return connect(sock, address)

        def guarded_connect_ex(sock: socket.socket, address: Any) -> Any:
            guard._check_address(sock, address)
            return connect_ex(sock, address)

        def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else host
            if name not in (None, "") and not _is_ip(str(name)):
                guard._note("resolve", str(name), None, guard._host_allowed(str(name)))
            return original_getaddrinfo(host, *args, **kwargs)

        socket.socket.connect = guarded_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = guarded_getaddrinfo  # type: ignore[assignment]
        return self

    def uninstall(self) -> None:
        """Restore the socket module."""
        if self._saved:
            socket.socket.connect = self._saved["connect"]  # type: ignore[method-assign]
            socket.socket.connect_ex = self._saved["connect_ex"]  # type: ignore[method-assign]
            socket.getaddrinfo = self._saved["getaddrinfo"]  # type: ignore[assignment]
            self._saved = {}

    def __enter__(self) -> NetworkGuard:
        # Connections that were already open (a test server of an earlier test, a database pool) are not
        # the guarded code's doing; only connections opened while the guard is active are judged.
        self._baseline = set(open_inet_connections())
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def unexpected_open_connections(self) -> list[tuple[str, int]]:
        """Established TCP connections of this process (seen from /proc) to destinations not allowed."""
        baseline = getattr(self, "_baseline", set())
        return [(ip, port) for ip, port in open_inet_connections()
                if (ip, port) not in baseline and not self._addr_allowed(ip, port)]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
        return True
    except ValueError:
        return False


def open_inet_connections() -> list[tuple[str, int]]:
    """Remote (ip, port) of this process's connected TCP sockets, read from /proc (Linux; [] elsewhere)."""
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        return []
    inodes = set()
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    remotes: list[tuple[str, int]] = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[9] not in inodes or cols[3] == "0A":  # 0A = LISTEN
                continue
            hex_ip, hex_port = cols[2].split(":")
            remotes.append((_decode_ip(hex_ip), int(hex_port, 16)))
    return remotes


def _decode_ip(hex_ip: str) -> str:
    raw = bytes.fromhex(hex_ip)
    # /proc stores each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(words)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ip)


_process_guard: NetworkGuard | None = None


def enforce_sovereignty(extra: Iterable[Endpoint | str] = ()) -> NetworkGuard:
    """Install a process-wide guard allowing only the configured endpoints (plus ``extra``); idempotent."""
    global _process_guard
    if _process_guard is None:
        _process_guard = NetworkGuard([*configured_endpoints(), *extra]).install()
    return _process_guard


__all__ = [
    "Attempt", "Endpoint", "NetworkGuard", "SovereigntyViolation", "configured_endpoints",
    "enforce_sovereignty", "open_inet_connections",
]
