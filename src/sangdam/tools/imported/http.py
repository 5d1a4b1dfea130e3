"""Calling imported OpenAPI operations: :class:`OpenApiService` serves every tool of one import over HTTP.

The tool layer (``tools/execution.py``) has already validated the arguments and checked identity; this module
turns a call into a request and an answer into a result:

- the verified customer's id goes into the mapped ``customer_param`` (path, query, header or body) — it is never
  an argument, so no argument can set it; ``fixed`` values are sent as configured;
- reads send the request; a write's ``preview`` sends **nothing** (the effect is the validated arguments, the
  proposal is rendered from them); ``commit`` sends it once with an ``Idempotency-Key`` header (and the mapped
  ``idempotency_param``), so the operator's system answers a retried turn with its first result;
- the answer keeps only the allow-listed fields; 2xx is a result, 408/429/5xx/timeouts/refused connections/
  non-JSON bodies are :class:`~sangdam.backends.core.BackendUnavailable` (counted by the circuit breaker), any
  other 4xx is the system's refusal (``backend_refused``, in Korean from the mapping's ``refusals`` when given);
- a write that never left Sangdam (circuit open, connection refused) is reported as not done
  (:func:`~sangdam.backends.resilience.not_sent`), not as an unknown outcome.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from sangdam.backends.core import BackendUnavailable
from sangdam.backends.resilience import CircuitBreaker, NotReached
from sangdam.tools.base import ToolContext, ToolError
from sangdam.tools.imported.config import Auth, Circuit, expand_env
from sangdam.tools.imported.definition import ImportedService, ToolDefinition, allowed_only, as_object

IDEMPOTENCY_HEADER = "Idempotency-Key"
_EXCERPT = 200  # characters of an error body kept for operators (English message, never the customer's)


class OpenApiService(ImportedService):
    """The ``read``/``preview``/``commit`` provider of one OpenAPI import (one base URL, one circuit)."""

    def __init__(self, name: str, base_url: str, definitions: list[ToolDefinition], auth: Auth | None = None,
                 circuit: Circuit | None = None, transport: httpx.BaseTransport | None = None) -> None:
        circuit = circuit or Circuit()
        self.name = name
        self.base_url = expand_env(base_url).rstrip("/")
        self.auth = auth
        self.definitions = {d.tool: d for d in definitions}
        self.breaker = CircuitBreaker(f"openapi:{name}", circuit.failures, circuit.reset_s)
        self._transport = transport
        self._client: httpx.Client | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # --- requests -----------------------------------------------------------------------------------------

    def _call(self, d: ToolDefinition, ctx: ToolContext, args: BaseModel, key: str | None) -> dict[str, Any]:
        request = self._request(d, ctx, args, key)
        return self.breaker.call(lambda: self._send(d, request))

    def _request(self, d: ToolDefinition, ctx: ToolContext, args: BaseModel, key: str | None) -> dict[str, Any]:
        values = self.values(d, ctx, args, key)
        path, query, headers, body = d.path or "", [], {"User-Agent": "sangdam"}, {}
        for name, value in values.items():
            target = d.targets[name]
            if target.location == "path":
                path = path.replace("{" + target.name + "}", quote(_text(value), safe=""))
            elif target.location == "query":
                query += [(target.name, _text(v)) for v in (value if isinstance(value, list) else [value])]
            elif target.location == "header":
                headers[target.name] = _text(value)
            else:
                body[target.name] = value
        if self.auth is not None:
            secret = os.environ.get(self.auth.env)
            if not secret:
                raise NotReached(f"{d.tool}: environment variable {self.auth.env} (auth of openapi:{self.name}) is "
                                 "not set", {"tool": d.tool})
            headers[self.auth.header] = self.auth.prefix + secret
        if key is not None:
            headers[IDEMPOTENCY_HEADER] = key
        request: dict[str, Any] = {"method": d.method or "GET", "url": self.base_url + path, "params": query,
                                   "headers": headers}
        if d.body:
            request["json"] = body
        return request

    def _send(self, d: ToolDefinition, request: dict[str, Any]) -> dict[str, Any]:
        where = f"{d.tool}: {request['method']} {self.base_url}{d.path}"
        try:
            response = self._http().request(**request, timeout=d.timeout_s)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise NotReached(f"{where}: cannot connect ({type(exc).__name__})", {"tool": d.tool}) from None
        except httpx.TimeoutException:
            raise BackendUnavailable(f"{where}: no answer within {d.timeout_s:g} s",
                                     {"tool": d.tool, "timeout_s": d.timeout_s}) from None
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"{where}: {type(exc).__name__}: {exc}", {"tool": d.tool}) from None
        return self._answer(d, where, response)

    def _answer(self, d: ToolDefinition, where: str, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if 200 <= status < 300:
            if not response.content:
                return {}
            try:
                raw = response.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise BackendUnavailable(f"{where}: HTTP {status} with a body that is not JSON",
                                         {"tool": d.tool, "status": status}) from None
            return allowed_only(as_object(raw), d.result_fields)
        excerpt = response.text[:_EXCERPT]
        if status in (408, 429) or status >= 500 or status < 200 or 300 <= status < 400:
            raise BackendUnavailable(f"{where}: HTTP {status}: {excerpt}", {"tool": d.tool, "status": status})
        korean = d.refusals.get(str(status)) or d.refusals.get("default")
        raise ToolError("backend_refused", f"{where}: refused with HTTP {status}: {excerpt}",
                        {"tool": d.tool, "status": status}, message_ko=korean)

    def _http(self) -> httpx.Client:
        """One pooled client per process (a forked worker builds its own)."""
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client = httpx.Client(transport=self._transport, follow_redirects=False)
                self._pid = os.getpid()
            return self._client


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)
