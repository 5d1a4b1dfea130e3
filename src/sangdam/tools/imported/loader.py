"""Loading the imported tools of ``SANGDAM_HOME`` for the registry: saved OpenAPI imports and MCP servers.

The registry asks :func:`imported_tools` on every lookup; the answer is cached until a file it came from changes
(a ``stat`` per lookup), so ``sangdam tools import`` in one process is seen by a running server without a
restart. Two kinds of trouble are kept apart:

- **configuration errors** (a damaged saved import, an invalid ``mcp-servers.yaml``, a tool name that is already
  taken by a built-in or another import) raise :class:`~.config.ImportConfigError` naming the file — unless this
  process already loaded a good set, which it then keeps using (a bad edit does not take a running server down);
- **a server that is down** makes only its own tools unavailable: from the last listing cached under
  ``tools/mcp-cache/`` its tools stay registered and their calls fail with ``backend_unavailable`` until it is
  back; with no cache they are listed in :attr:`Imported.unavailable` with the reason. Either way the listing
  is tried again ``RETRY_S`` after, in the background (no caller waits for a server's timeout). Built-in tools are
  never affected.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sangdam.backends.resilience import CircuitBreaker
from sangdam.tools.base import Tool, ToolError
from sangdam.tools.imported import store
from sangdam.tools.imported.config import ImportConfigError, McpServer, expand_env, load_servers_file
from sangdam.tools.imported.definition import build_tool
from sangdam.tools.imported.http import OpenApiService
from sangdam.tools.imported.mcp_client import McpConnection, McpService, mcp_definitions
from sangdam.tools.imported.schemas import SchemaError

RETRY_S = 30.0  # an MCP server that could not be listed is asked again after this long
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unavailable:
    """Tools of ``source`` that could not be registered, and why (English, for operators)."""

    source: str
    tools: tuple[str, ...]
    reason: str


@dataclass
class Imported:
    """The imported tools of one home: name → tool, plus the ones that are configured but unavailable."""

    tools: dict[str, Tool] = field(default_factory=dict)
    unavailable: list[Unavailable] = field(default_factory=list)
    services: list[Any] = field(default_factory=list)
    loaded_at: float = 0.0

    def why_unavailable(self, name: str) -> Unavailable | None:
        return next((u for u in self.unavailable if name in u.tools), None)


def taken_names(home: Path, builtin: set[str], skip: Path | None = None) -> dict[str, str]:
    """Every tool name in use (built-in, saved imports except ``skip``, MCP entries) → where it comes from."""
    taken = {name: "a built-in tool" for name in builtin}
    for path in store.openapi_files(home):
        if skip is not None and path.resolve() == skip.resolve():
            continue
        _, _, _, _, definitions = store.load_openapi(path)
        taken.update({d.tool: f"imported in {path}" for d in definitions})
    servers = load_servers_file(home)
    for name, server in (servers.servers.items() if servers else ()):
        taken.update({e.tool: f"MCP server {name} in {home / store.MCP_SERVERS_FILE}" for e in server.tools.values()})
    return taken


class ImportedRegistry:
    """The process's imported tools, reloaded when their files change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signature: tuple[Any, ...] | None = None
        self._current = Imported()
        self._good = False
        self._connections: dict[str, tuple[str, McpConnection]] = {}
        self._retrying = threading.Event()

    def get(self, home: Path, builtin: set[str]) -> Imported:
        signature = _signature(home)
        current = self._current
        if signature != self._signature:
            return self._reload(home, builtin, signature)
        if self._retry_due(current) and not self._retrying.is_set():
            # A server that was down is asked again in the background: no caller waits for its timeout.
            self._retrying.set()
            threading.Thread(target=self._retry, args=(home, builtin, signature), name="mcp-retry",
                             daemon=True).start()
        return current

    def _reload(self, home: Path, builtin: set[str], signature: tuple[Any, ...]) -> Imported:
        with self._lock:
            if signature == self._signature:
                return self._current
            try:
                loaded = self._load(home, builtin)
            except ImportConfigError as exc:
                if not self._good:
                    raise
                _log.error("imported tools not reloaded, keeping the previous ones: %s", exc)
                self._signature = signature
                return self._current
            # The replaced tools' HTTP clients are left to the garbage collector: a call may still be using one.
            self._current, self._signature, self._good = loaded, signature, True
            return loaded

    def _retry(self, home: Path, builtin: set[str], signature: tuple[Any, ...]) -> None:
        try:
            with self._lock:
                if signature == self._signature:
                    self._current = self._load(home, builtin)
        except Exception as exc:  # noqa: BLE001 - a background retry must not die loudly; the next one may work
            _log.warning("imported tools: retry failed: %s", exc)
        finally:
            self._retrying.clear()

    def settled(self, timeout: float = 30.0) -> bool:
        """Wait for a background retry to finish (tests); True when none is running."""
        deadline = time.monotonic() + timeout
        while self._retrying.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._retrying.is_set()

    def reset(self) -> None:
        """Forget everything loaded and end every MCP session (tests, shutdown)."""
        with self._lock:
            for service in self._current.services:
                if isinstance(service, OpenApiService):
                    service.close()
            for _, connection in self._connections.values():
                connection.close()
            self._connections.clear()
            self._signature, self._current, self._good = None, Imported(), False

    @staticmethod
    def _retry_due(current: Imported) -> bool:
        return any(u.source.startswith("mcp:") for u in current.unavailable) and \
            time.monotonic() - current.loaded_at > RETRY_S

    def _load(self, home: Path, builtin: set[str]) -> Imported:
        imported = Imported(loaded_at=time.monotonic())
        taken = {name: "a built-in tool" for name in builtin}
        for path in store.openapi_files(home):
            self._load_openapi(path, taken, imported)
        servers = load_servers_file(home)
        file = home / store.MCP_SERVERS_FILE
        configured = dict(servers.servers) if servers else {}
        for name, server in configured.items():
            for mcp_tool, entry in server.tools.items():
                if entry.tool in taken:
                    raise ImportConfigError(file, f"servers.{name}.tools.{mcp_tool}.tool",
                                            f"{entry.tool!r} is already a tool ({taken[entry.tool]})")
                taken[entry.tool] = f"MCP server {name} in {file}"
        self._close_unused(configured)
        if configured:
            with ThreadPoolExecutor(max_workers=min(8, len(configured)), thread_name_prefix="mcp-list") as pool:
                results = list(pool.map(lambda item: self._load_mcp(home, file, *item), configured.items()))
            for tools, problem, service in results:
                imported.tools.update(tools)
                if problem is not None:
                    imported.unavailable.append(problem)
                if service is not None:
                    imported.services.append(service)
        return imported

    def _load_openapi(self, path: Path, taken: dict[str, str], imported: Imported) -> None:
        name, base_url, auth, circuit, definitions = store.load_openapi(path)
        service = OpenApiService(name, base_url, definitions, auth, circuit)
        for d in definitions:
            if d.tool in taken:
                raise ImportConfigError(path, f"tools.{d.tool}", f"{d.tool!r} is already a tool ({taken[d.tool]})")
            taken[d.tool] = f"imported in {path}"
            try:
                imported.tools[d.tool] = build_tool(d, service, f"openapi:{name}")
            except SchemaError as exc:
                raise ImportConfigError(path, f"tools.{d.tool}.{'.'.join(exc.path)}", exc.reason) from None
        imported.services.append(service)

    def _connection(self, name: str, server: McpServer) -> McpConnection:
        key = server.model_dump_json()
        with_key = self._connections.get(name)
        if with_key is not None and with_key[0] == key:
            return with_key[1]
        connection = McpConnection(name, server)
        self._connections[name] = (key, connection)
        return connection

    def _close_unused(self, configured: dict[str, McpServer]) -> None:
        for name in list(self._connections):
            key, connection = self._connections[name]
            if name not in configured or configured[name].model_dump_json() != key:
                connection.close()
                del self._connections[name]

    def _load_mcp(self, home: Path, file: Path, name: str, server: McpServer
                  ) -> tuple[dict[str, Tool], Unavailable | None, McpService | None]:
        source = f"mcp:{name}"
        mapped = tuple(e.tool for e in server.tools.values())
        connection = self._connection(name, server)
        cache = store.mcp_cache_file(home, name)
        problem = None
        try:
            listing = connection.list_tools()
            store.write_private(cache, _cache_text(name, server, listing))
        except ToolError as exc:
            cached = store.read_json(cache)
            listing = cached.get("tools") if isinstance(cached, dict) else None
            if not isinstance(listing, dict):
                return {}, Unavailable(source, mapped, f"cannot list the tools of {source}: {exc.message_en}"), None
            problem = Unavailable(source, (), f"{source} is down ({exc.message_en}); its tools are registered from "
                                              f"the listing cached in {cache} and fail until it answers")
        try:
            definitions = mcp_definitions(file, name, server, listing)
            breaker = CircuitBreaker(source, server.circuit.failures, server.circuit.reset_s)
            service = McpService(name, connection, definitions, breaker)
            tools = {d.tool: build_tool(d, service, source) for d in definitions}
        except (ImportConfigError, SchemaError) as exc:
            return {}, Unavailable(source, mapped, f"the tools of {source} do not fit their mapping: {exc}"), None
        return tools, problem, service


def _cache_text(name: str, server: McpServer, listing: dict[str, dict[str, Any]]) -> str:
    import json

    mapped = {k: v for k, v in listing.items() if k in server.tools}
    return json.dumps({"server": name, "tools": mapped}, ensure_ascii=False, indent=2) + "\n"


def _signature(home: Path) -> tuple[Any, ...]:
    """What the imported tools depend on: the home and the size and time of each file they come from."""
    files = [*store.openapi_files(home), home / store.MCP_SERVERS_FILE]
    stamps = []
    for path in files:
        try:
            st = path.stat()
            stamps.append((path.name, st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append((path.name, None, None))
    return (str(home), tuple(stamps))


_registry = ImportedRegistry()


def imported_tools(home: Path, builtin: set[str]) -> Imported:
    """The imported tools of ``home`` (cached until their files change); see the module docstring."""
    return _registry.get(home, builtin)


def retry_settled(timeout: float = 30.0) -> bool:
    """Wait until no background retry of an unavailable MCP server is running (tests)."""
    return _registry.settled(timeout)


def reset_imported() -> None:
    """Drop the loaded imported tools and end their MCP sessions."""
    _registry.reset()


def imported_endpoints(home: Path) -> list[str]:
    """URLs the imported tools call (the data-sovereignty guard allows them): every saved OpenAPI import's base URL
    and every MCP server reached over HTTP. Unreadable files are skipped here; loading the tools reports them."""
    urls: list[str] = []
    for path in store.openapi_files(home):
        try:
            urls.append(expand_env(store.load_openapi(path)[1]))
        except ImportConfigError:
            continue
    try:
        servers = load_servers_file(home)
    except ImportConfigError:
        servers = None
    for server in (servers.servers.values() if servers else ()):
        if server.transport == "http" and server.url:
            urls.append(expand_env(server.url))
    return [u for u in urls if u.startswith(("http://", "https://"))]
