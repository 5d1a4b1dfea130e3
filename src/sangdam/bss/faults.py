"""Fault injection for the reference BSS (test support, only with ``--admin-token``).

``POST /admin/faults`` queues a fault for the next ``count`` API calls that match (operationId, method, path
regex; all optional). Kinds:

- ``fail``: answer with ``status`` (default 500) and the error envelope; nothing runs;
- ``delay``: wait ``delaySeconds``, then handle the call normally;
- ``malformed``: answer ``200`` with a body that is not JSON (``shape: text``) or JSON of the wrong shape
  (``shape: json``); nothing runs;
- ``error``: answer ``status`` with the envelope ``code``/``message``/``details`` given (a business refusal the
  mapping may or may not know); nothing runs;
- ``lose_response``: *run the call* (a write commits), then lose its answer: ``mode: disconnect`` (default) starts
  a response and closes the connection mid-body; ``mode: bad_gateway`` answers 502 as a proxy would.

The middleware also counts calls per operationId (``GET /admin/calls``), so a test can tell whether a request
reached the BSS at all.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import Counter
from typing import Any, Literal

from pydantic import Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sangdam.bss.schemas import ApiModel

API_PREFIX = "/api/"


class FaultSpec(ApiModel):
    """One queued fault (camelCase on the wire: ``delaySeconds``, ``operationId``)."""

    kind: Literal["fail", "delay", "malformed", "error", "lose_response"]
    count: int = Field(default=1, ge=1, le=10_000, description="How many matching calls it applies to")
    operation_id: str | None = Field(default=None, description="Only calls of this operationId")
    method: str | None = Field(default=None, description="Only calls with this HTTP method")
    path: str | None = Field(default=None, description="Only calls whose path matches this regular expression")
    status: int | None = Field(default=None, ge=400, le=599, description="fail/error: the HTTP status")
    code: str | None = Field(default=None, description="error: the envelope's code")
    message: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    delay_seconds: float = Field(default=0.0, ge=0, le=120)
    shape: Literal["text", "json"] = "text"
    mode: Literal["disconnect", "bad_gateway"] = "disconnect"

    def matches(self, method: str, path: str, operation_id: str | None) -> bool:
        return ((self.operation_id is None or self.operation_id == operation_id)
                and (self.method is None or self.method.upper() == method)
                and (self.path is None or re.search(self.path, path) is not None))


class FaultBook:
    """Queued faults and call counts, shared by the middleware and the admin routes (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = []  # [spec, remaining]
        self.calls: Counter[str] = Counter()

    def add(self, spec: FaultSpec) -> None:
        with self._lock:
            self._faults.append([spec, spec.count])

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**spec.model_dump(exclude_defaults=True), "remaining": left} for spec, left in self._faults]

    def take(self, method: str, path: str, operation_id: str | None) -> FaultSpec | None:
        """Count the call; consume and return the first fault that applies to it."""
        with self._lock:
            self.calls[operation_id or f"{method} {path}"] += 1
            for entry in self._faults:
                spec, left = entry
                if left > 0 and spec.matches(method, path, operation_id):
                    entry[1] = left - 1
                    if entry[1] == 0:
                        self._faults.remove(entry)
                    return spec
        return None


def operation_index(openapi: dict[str, Any]) -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path pattern, operationId) of every operation of the app's OpenAPI document."""
    index = []
    for template, item in openapi.get("paths", {}).items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId"):
                index.append((method.upper(), pattern, op["operationId"]))
    return index


async def _send_json(send: Send, status: int, body: Any) -> None:
    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]})
    await send({"type": "http.response.body", "body": raw})


def _envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


class FaultMiddleware:
    """ASGI middleware applying :class:`FaultBook` faults to ``/api/`` calls."""

    def __init__(self, app: ASGIApp, book: FaultBook) -> None:
        self.app, self.book = app, book
        self._index: list[tuple[str, re.Pattern[str], str]] | None = None

    def _operation_id(self, scope: Scope) -> str | None:
        if self._index is None:  # built on first use: the app's routes are all registered by then
            self._index = operation_index(scope["app"].openapi())
        method, path = scope["method"], scope["path"]
        return next((op for m, pattern, op in self._index if m == method and pattern.match(path)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        fault = self.book.take(scope["method"], scope["path"], self._operation_id(scope))
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "delay":
            await asyncio.sleep(fault.delay_seconds)
            await self.app(scope, receive, send)
        elif fault.kind == "fail":
            await _send_json(send, fault.status or 500,
                             _envelope("INTERNAL_ERROR", fault.message or "injected failure"))
        elif fault.kind == "error":
            await _send_json(send, fault.status or 409, _envelope(fault.code or "REQUEST_REJECTED",
                                                                  fault.message or "injected refusal", fault.details))
        elif fault.kind == "malformed":
            await self._malformed(send, fault)
        else:
            await self._lose_response(scope, receive, send, fault)

    @staticmethod
    async def _malformed(send: Send, fault: FaultSpec) -> None:
        if fault.shape == "json":
            await _send_json(send, 200, {"unexpected": True})
            return
        raw = b"<html><body>Service temporarily unavailable</body></html>"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]})
        await send({"type": "http.response.body", "body": raw})

    async def _lose_response(self, scope: Scope, receive: Receive, send: Send, fault: FaultSpec) -> None:
        async def swallow(message: Message) -> None:  # the call runs to the end; its answer goes nowhere
            return None

        await self.app(scope, receive, swallow)
        if fault.mode == "bad_gateway":
            await _send_json(send, 502, _envelope("BAD_GATEWAY", "upstream connection lost"))
            return
        # Promise a body, send a piece of it and stop: the server closes the connection mid-response.
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"orderId": "', "more_body": True})
