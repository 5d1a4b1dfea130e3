"""Tools from MCP servers: the servers of ``$SANGDAM_HOME/mcp-servers.yaml`` (stdio or streamable HTTP), reached
with the ``mcp`` 2.x client, their mapped tools served as Sangdam tools.

- :class:`McpConnection` keeps one session per server open on an event loop in a daemon thread, so synchronous
  tool calls from any thread share it; a session that broke (the process died, the connection dropped) is replaced
  on the next call. Connecting is bounded by ``connect_timeout_s``, every call by the tool's ``timeout_s``.
- :func:`mcp_definitions` turns the server's listing into :class:`~.definition.ToolDefinition` s with the mapping
  entries of the server (same format as an OpenAPI mapping): the customer argument, the fixed values and the
  idempotency argument leave the input schema; only allow-listed result fields are kept.
- :class:`McpService` serves the tools: reads call the tool; a write's ``preview`` calls nothing (the effect is
  the validated arguments); ``commit`` calls it once with the idempotency key in the request's ``_meta``
  (``idempotency_key``) and in the mapped ``idempotency_param``. Timeouts, broken sessions and servers that cannot
  be reached are ``BackendUnavailable`` (counted by the server's circuit breaker); a tool result flagged
  ``is_error`` or a JSON-RPC error is the server's refusal (``backend_refused``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO, TypeVar

import anyio
from pydantic import BaseModel

from sangdam.backends.core import BackendUnavailable
from sangdam.backends.resilience import CircuitBreaker, NotReached
from sangdam.tools.base import RiskTier, ToolContext, ToolError
from sangdam.tools.imported.config import ImportConfigError, McpServer, expand_env
from sangdam.tools.imported.definition import ImportedService, ToolDefinition, allowed_only, as_object, define
from sangdam.tools.imported.schemas import SchemaError, resolve_refs

T = TypeVar("T")
META_KEY = "idempotency_key"  # the ``_meta`` entry that carries a write's idempotency key
_LIST_PAGES = 20


def mcp_definitions(file: Path, name: str, server: McpServer, listing: dict[str, dict[str, Any]]
                    ) -> list[ToolDefinition]:
    """Definitions of the mapped tools of server ``name`` from its ``listing`` (MCP tool name → ``{input_schema,
    output_schema}``); a mapped tool the server lacks, or a mapping that does not fit its schema, is an
    :class:`ImportConfigError` (then none of the server's tools is registered)."""
    definitions = []
    for mcp_tool, entry in server.tools.items():
        where = f"servers.{name}.tools.{mcp_tool}"
        if mcp_tool not in listing:
            raise ImportConfigError(file, where, f"server {name!r} has no tool {mcp_tool!r} "
                                                 f"(it lists: {', '.join(sorted(listing)) or 'none'})")
        listed = listing[mcp_tool]
        try:
            schema = resolve_refs(listed.get("input_schema") or {}, listed.get("input_schema") or {}, ())
            output = resolve_refs(listed.get("output_schema") or {}, listed.get("output_schema") or {}, (),
                                  cycles="any")
        except SchemaError as exc:
            raise ImportConfigError(file, where, f"the server's schema of {mcp_tool}: {exc}") from None
        definitions.append(define(
            entry, operation=mcp_tool, risk=entry.risk_for(RiskTier.write),
            timeout_s=entry.timeout_s or server.timeout_s, arguments=dict(schema.get("properties") or {}),
            required=list(schema.get("required") or []), response=output or None, file=file, where=where,
        ))
    return definitions


class McpService(ImportedService):
    """The ``read``/``preview``/``commit`` provider of one MCP server's tools (one session, one circuit)."""

    def __init__(self, name: str, connection: McpConnection, definitions: list[ToolDefinition],
                 breaker: CircuitBreaker) -> None:
        self.name, self.connection, self.breaker = name, connection, breaker
        self.definitions = {d.tool: d for d in definitions}

    def _call(self, d: ToolDefinition, ctx: ToolContext, args: BaseModel, key: str | None) -> dict[str, Any]:
        arguments = self.values(d, ctx, args, key)
        meta = {META_KEY: key} if key is not None else None

        async def call(client: Any) -> Any:
            return await client.call_tool(d.operation, arguments, read_timeout_seconds=d.timeout_s, meta=meta)

        result = self.breaker.call(lambda: self.connection.run(call, d.timeout_s, what=d.tool))
        return allowed_only(as_object(_payload(d, self.name, result)), d.result_fields)


def _payload(d: ToolDefinition, server: str, result: Any) -> Any:
    """The JSON a tool answered: its structured content, else its text parsed as JSON, else ``{"text": …}``."""
    texts = [block.text for block in result.content if getattr(block, "type", None) == "text"]
    if result.is_error:
        excerpt = " ".join(texts)[:200]
        korean = d.refusals.get("default")
        raise ToolError("backend_refused", f"{d.tool}: mcp:{server} refused: {excerpt}", {"tool": d.tool},
                        message_ko=korean)
    if result.structured_content is not None:
        return result.structured_content
    text = "\n".join(texts)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {"text": text}


class _Session:
    """One open client session, held by a keeper task on the connection's loop."""

    def __init__(self) -> None:
        self.client: Any = None
        self.error: BaseException | None = None
        self.ready = asyncio.Event()
        self.stop = asyncio.Event()
        self.alive = False
        self.task: asyncio.Task[None] | None = None


class McpConnection:
    """One configured MCP server, usable from synchronous code in any thread."""

    def __init__(self, name: str, server: McpServer) -> None:
        self.name, self.server = name, server
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._session: _Session | None = None
        self._connecting: asyncio.Lock | None = None

    def run(self, fn: Callable[[Any], Awaitable[T]], timeout: float, what: str = "call") -> T:
        """``await fn(client)`` on the open session (connecting first if needed), within ``timeout`` seconds."""
        loop = self._running_loop()
        future = asyncio.run_coroutine_threadsafe(self._run(fn, timeout, what), loop)
        try:
            return future.result(timeout=timeout + self.server.connect_timeout_s + 5)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise BackendUnavailable(f"{what}: mcp:{self.name} did not answer within {timeout:g} s",
                                     {"server": self.name, "timeout_s": timeout}) from None

    def list_tools(self) -> dict[str, dict[str, Any]]:
        """The server's tools: name → ``{"input_schema", "output_schema", "description"}``."""

        async def listing(client: Any) -> dict[str, dict[str, Any]]:
            found: dict[str, dict[str, Any]] = {}
            cursor = None
            for _ in range(_LIST_PAGES):
                page = await client.list_tools(cursor=cursor, cache_mode="refresh")
                for tool in page.tools:
                    found[tool.name] = {"input_schema": tool.input_schema, "output_schema": tool.output_schema,
                                        "description": tool.description}
                cursor = page.next_cursor
                if cursor is None:
                    break
            return found

        return self.run(listing, self.server.timeout_s, what="tools/list")

    def close(self) -> None:
        """End the session (a stdio server's process exits) and the loop."""
        with self._lock:
            loop, thread, session = self._loop, self._thread, self._session
            self._loop, self._thread, self._session = None, None, None
        if loop is None or thread is None or self._pid != os.getpid() or not thread.is_alive():
            return
        if session is not None and session.task is not None:
            loop.call_soon_threadsafe(session.stop.set)
            ended = asyncio.run_coroutine_threadsafe(asyncio.wait({session.task}, timeout=5), loop)
            try:
                ended.result(timeout=6)
            except (concurrent.futures.TimeoutError, RuntimeError):
                pass  # the daemon thread goes with the process
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()

    # --- on the loop --------------------------------------------------------------------------------------

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            alive = self._thread is not None and self._thread.is_alive()
            if self._loop is None or self._pid != os.getpid() or not alive:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=f"mcp-{self.name}", daemon=True)
                thread.start()
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
                self._session, self._connecting = None, None
            return self._loop

    async def _run(self, fn: Callable[[Any], Awaitable[T]], timeout: float, what: str) -> T:
        session = await self._open()
        try:
            with anyio.fail_after(timeout):
                return await fn(session.client)
        except TimeoutError:
            raise BackendUnavailable(f"{what}: mcp:{self.name} did not answer within {timeout:g} s",
                                     {"server": self.name, "timeout_s": timeout}) from None
        except ToolError:
            raise
        except Exception as exc:  # noqa: BLE001 - any transport fault: this session is done
            from mcp import MCPError
            from mcp_types import CONNECTION_CLOSED

            if isinstance(exc, MCPError) and exc.code != CONNECTION_CLOSED:
                raise ToolError("backend_refused", f"{what}: mcp:{self.name} answered error {exc.code}: "
                                f"{exc.message[:200]}", {"server": self.name}) from None
            session.stop.set()
            raise BackendUnavailable(f"{what}: mcp:{self.name}: session lost ({type(exc).__name__}: {exc})",
                                     {"server": self.name}) from None

    async def _open(self) -> _Session:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            current = self._session
            if current is not None and current.alive and not current.stop.is_set():
                return current
            session = _Session()
            session.task = asyncio.get_running_loop().create_task(self._keep(session))
            try:
                await asyncio.wait_for(session.ready.wait(), self.server.connect_timeout_s)
            except TimeoutError:
                session.task.cancel()
                raise NotReached(f"mcp:{self.name}: no session within {self.server.connect_timeout_s:g} s",
                                 {"server": self.name}) from None
            if not session.alive:
                reason = _reason(session.error)
                raise NotReached(f"mcp:{self.name}: cannot connect ({reason})", {"server": self.name})
            self._session = session
            return session

    async def _keep(self, session: _Session) -> None:
        try:
            async with self._client() as client:
                session.client, session.alive = client, True
                session.ready.set()
                await session.stop.wait()
        except BaseException as exc:  # noqa: BLE001 - recorded; the next call opens a new session
            session.error = exc
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            session.alive = False
            session.ready.set()

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[Any]:
        """An entered ``mcp.Client`` for this server's transport."""
        from mcp import Client, StdioServerParameters, stdio_client

        server = self.server
        if server.transport == "stdio":
            params = StdioServerParameters(
                command=expand_env(server.command or ""), args=[expand_env(a) for a in server.args],
                env={k: expand_env(v) for k, v in server.env.items()} or None, cwd=server.cwd)
            async with Client(stdio_client(params, errlog=_errlog()), read_timeout_seconds=server.timeout_s) as client:
                yield client
            return
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        headers = {k: expand_env(v) for k, v in server.headers.items()}
        timeout = httpx2.Timeout(server.connect_timeout_s, read=300)  # a response stream may stay open
        async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
            transport = streamable_http_client(expand_env(server.url or ""), http_client=http)
            async with Client(transport, read_timeout_seconds=server.timeout_s) as client:
                yield client


def _errlog() -> TextIO:
    """Where a stdio server's stderr goes: ours, when it is a real file (not a test runner's capture)."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            if stream is not None:
                stream.fileno()
                return stream
        except (AttributeError, OSError, ValueError):
            continue
    return open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


def _reason(exc: BaseException | None) -> str:
    """The innermost useful message of a connection failure (task groups wrap them in exception groups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if exc is None:
        return "the session closed"
    return f"{type(exc).__name__}: {exc}"[:300]
