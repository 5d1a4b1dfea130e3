"""The ``rest`` adapter: the operator's systems behind a REST API, described by its OpenAPI document plus a
mapping file (docs/backends.md).

``rest:`` section of ``backend.yaml`` (paths relative to that file's folder)::

    rest:
      base_url: http://127.0.0.1:8100          # the API's root (operation paths are appended)
      openapi: bss-openapi.json                # file or http(s) URL; default: <base_url>/openapi.json
      mapping: builtin:reference-bss           # file, or builtin:<name> for a mapping shipped with Sangdam
      auth: {header: Authorization, scheme: Bearer, token_env: BSS_TOKEN}   # or token_file: …
      timeout_s: 10                            # per call (a mapping entry may set its own)
      connect_timeout_s: 3
      retry: {read_attempts: 2, commit_attempts: 2, backoff_s: 0.2}
      circuit: {failures: 5, reset_s: 30}

Faults: a timeout, a refused connection, a 5xx (or 401/403/408/429), a body that is not JSON, or an answer the
mapping or the tool's result model cannot read raise :class:`~sangdam.backends.core.BackendUnavailable`; a
business 4xx becomes the :class:`~sangdam.tools.base.ToolError` its mapping rule names (``backend_refused`` with
a Korean message when Sangdam has no code for it). Transport faults and 5xx count towards a circuit breaker;
while it is open every call fails at once. A read is retried on a connection fault or a 502/503/504; a commit
likewise, always under the same ``Idempotency-Key`` (the API answers a repeated key with the first result), so a
commit whose answer was lost is charged once. A write that certainly never left Sangdam (circuit open, connection
refused) is the plain refusal ``backend_unavailable`` with ``sent: false``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sangdam.backends.core import BackendUnavailable
from sangdam.backends.mapping import (
    Call,
    MappingFile,
    Problem,
    config_error,
    parse_mapping,
    pydantic_problems,
    read_yaml,
    resolve_mapping_path,
)
from sangdam.backends.openapi import OpenApiDoc, Operation, check_against_openapi, load_openapi
from sangdam.backends.resilience import CircuitBreaker, CircuitOpen, not_sent
from sangdam.backends.transform import Evaluator, TransformError, assign, lookup
from sangdam.tools.base import ToolError, _jsonable
from sangdam.tools.registry import CANONICAL_NAMES

if TYPE_CHECKING:
    from sangdam.tools.base import ToolContext

log = logging.getLogger(__name__)
UNAVAILABLE_STATUSES = {401, 403, 408, 429}  # the API cannot be used (auth, overload): not a customer's refusal
RETRY_STATUSES = {502, 503, 504}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthConfig(_Strict):
    header: str = "Authorization"
    scheme: str = Field(default="Bearer", description="prefix before the token; empty for the bare token")
    token_env: str | None = Field(default=None, description="environment variable holding the token")
    token_file: str | None = Field(default=None, description="file holding the token (relative to backend.yaml)")


class RetryConfig(_Strict):
    read_attempts: int = Field(default=2, ge=1, le=5)
    commit_attempts: int = Field(default=2, ge=1, le=3, description="a commit is only ever retried with its key")
    backoff_s: float = Field(default=0.2, ge=0, le=10)


class CircuitConfig(_Strict):
    failures: int = Field(default=5, ge=1)
    reset_s: float = Field(default=30.0, gt=0)


OPENAPI_TIMEOUT_S = 30.0  # fetching the OpenAPI document at start waits at least this long


class RestConfig(_Strict):
    """The ``rest:`` section of ``backend.yaml``."""

    base_url: str
    openapi: str | None = None
    mapping: str = "builtin:reference-bss"
    auth: AuthConfig | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    connect_timeout_s: float = Field(default=3.0, gt=0, le=60)
    verify_tls: bool = True
    retry: RetryConfig = Field(default_factory=RetryConfig)
    circuit: CircuitConfig = Field(default_factory=CircuitConfig)


def _auth_headers(auth: AuthConfig | None, base_dir: Path, file: Path) -> dict[str, str]:
    if auth is None:
        return {}
    if auth.token_env:
        token = os.environ.get(auth.token_env)
        if not token:
            raise config_error(file, [Problem("rest.auth.token_env", f"environment variable {auth.token_env} is "
                                              "not set")])
    elif auth.token_file:
        path = Path(auth.token_file).expanduser()
        path = path if path.is_absolute() else base_dir / path
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise config_error(file, [Problem("rest.auth.token_file", f"cannot read {path}: "
                                              f"{exc.strerror or exc}")]) from None
    else:
        raise config_error(file, [Problem("rest.auth", "give token_env or token_file")])
    return {auth.header: f"{auth.scheme} {token}".strip()}


class RestBackend:
    """The operator's systems through their REST API (see the module docstring)."""

    name = "rest"

    def __init__(self, config: RestConfig, mapping: MappingFile, api: OpenApiDoc, *,
                 headers: dict[str, str] | None = None, clock: Any = time.monotonic) -> None:
        self.config, self.mapping, self.api = config, mapping, api
        self.base_url = config.base_url.rstrip("/")
        self.breaker = CircuitBreaker(f"rest:{self.base_url}", config.circuit.failures, config.circuit.reset_s,
                                      clock=clock)
        timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
        self.client = httpx.Client(headers={**mapping.headers, **(headers or {})}, timeout=timeout,
                                   verify=config.verify_tls)

    @classmethod
    def from_config(cls, section: dict[str, Any], base_dir: Path, *, source: Path | None = None,
                    clock: Any = time.monotonic) -> RestBackend:
        """Build from the ``rest:`` section of ``backend.yaml`` (``source``: that file, for error messages)."""
        file = source or base_dir / "backend.yaml"
        try:
            config = RestConfig.model_validate(section)
        except ValidationError as exc:
            raise config_error(file, pydantic_problems(exc, "rest")) from None
        headers = _auth_headers(config.auth, base_dir, file)
        mapping_path = resolve_mapping_path(config.mapping, base_dir)
        data, node = read_yaml(mapping_path)
        mapping = parse_mapping(data, mapping_path, node)
        openapi = config.openapi or f"{config.base_url.rstrip('/')}/openapi.json"
        try:
            # read once at start: a document generated on first request may take longer than one API call
            api = load_openapi(openapi, base_dir, headers=headers, timeout_s=max(config.timeout_s, OPENAPI_TIMEOUT_S))
        except ValueError as exc:
            raise config_error(file, [Problem("rest.openapi", str(exc))]) from None
        problems = check_against_openapi(mapping, api)
        if problems:
            raise config_error(mapping_path, problems, node)
        unserved = sorted(set(CANONICAL_NAMES) - set(mapping.operations) - {"verify_identity"})
        if unserved:  # allowed (an operator may not offer roaming, say); those tools answer unknown_tool
            log.warning("%s maps no operation for %s", mapping_path, ", ".join(unserved))
        return cls(config, mapping, api, headers=headers, clock=clock)

    # --- the Backend protocol ----------------------------------------------------------------------------------
    def read(self, tool: str, ctx: ToolContext, args: BaseModel) -> BaseModel | dict[str, Any]:
        call = self._entry(tool, "read")
        answer = self._run(tool, call, self._request(ctx, args), attempts=self.config.retry.read_attempts)
        return self._as_output(tool, answer)

    def preview(self, tool: str, ctx: ToolContext, args: BaseModel) -> dict[str, Any]:
        call = self._entry(tool, "preview")
        answer = self._run(tool, call, self._request(ctx, args), attempts=self.config.retry.read_attempts)
        if not isinstance(answer, dict):
            raise BackendUnavailable(f"{tool}: the preview is not an object", {"tool": tool, "reason": "malformed"})
        return answer

    def commit(self, tool: str, ctx: ToolContext, args: BaseModel, idempotency_key: str | None) -> BaseModel | dict[str, Any]:
        call = self._entry(tool, "commit")
        key = idempotency_key or f"sangdam-{uuid.uuid4()}"  # never unkeyed: a retry must not write twice
        request = self._request(ctx, args, key)
        answer = self._run(tool, call, request, attempts=self.config.retry.commit_attempts, commit_key=key)
        return self._as_output(tool, answer)

    def find_customer(self, phone: str, birth_date: dt.date) -> tuple[str, str] | None:
        found = self._lookup("find_customer", {"phone": phone, "birth_date": birth_date.isoformat()})
        if not isinstance(found, dict) or not found.get("customer_id"):
            return None
        return str(found["customer_id"]), str(found.get("name") or "")

    def customer_names(self, customer_ids: set[str]) -> dict[str, str]:
        if not customer_ids:
            return {}
        rows = self._lookup("customer_names", {"customer_ids": sorted(customer_ids)}) or []
        return {str(r["id"]): str(r["name"]) for r in rows if isinstance(r, dict) and r.get("id") in customer_ids}

    def plan_names(self) -> list[str]:
        return [str(n) for n in self._lookup("plan_names", {}) or [] if n is not None]

    def close(self) -> None:
        self.client.close()

    # --- calls -------------------------------------------------------------------------------------------------
    def _entry(self, tool: str, part: str) -> Call:
        call = self.mapping.call(tool, part)
        if call is None:
            if part == "preview" and self.mapping.call(tool, "read") is not None:
                raise ToolError("not_a_write_tool", f"{tool} is a read tool; call read() instead of preview()")
            raise ToolError("unknown_tool", f"the rest backend's mapping has no {part} entry for {tool!r}",
                            {"tool": tool})
        return call

    def _lookup(self, name: str, args: dict[str, Any]) -> Any:
        call = self._entry(name, "read")
        return self._run(name, call, {"args": args, "customer_id": None, "today": None, "idempotency_key": None},
                         attempts=self.config.retry.read_attempts)

    @staticmethod
    def _request(ctx: ToolContext, args: BaseModel, key: str | None = None) -> dict[str, Any]:
        return {"args": args.model_dump(mode="json"), "customer_id": ctx.customer_id,
                "today": ctx.today.isoformat(), "idempotency_key": key}

    def _as_output(self, tool: str, answer: Any) -> BaseModel | dict[str, Any]:
        from sangdam.tools.registry import get_tool

        try:
            model = get_tool(tool).output_model
            return model.model_validate(answer)
        except ToolError:
            return answer
        except ValidationError as exc:
            raise BackendUnavailable(f"{tool}: the answer does not fit {model.__name__}: {exc.errors()[0]['loc']} "
                                     f"{exc.errors()[0]['msg']}", {"tool": tool, "reason": "malformed"}) from None

    def _run(self, tool: str, call: Call, request: dict[str, Any], *, attempts: int,
             commit_key: str | None = None) -> Any:
        op = self.api.operations[call.operation]
        body = self._pages(tool, call, op, request, attempts, commit_key)
        try:
            return Evaluator(self.mapping, request, body).eval(call.result, body)
        except TransformError as exc:
            raise BackendUnavailable(f"{tool}: {call.operation} answered something the mapping cannot read: {exc}",
                                     {"tool": tool, "operation": call.operation, "reason": "malformed"}) from None

    def _pages(self, tool: str, call: Call, op: Operation, request: dict[str, Any], attempts: int,
               commit_key: str | None) -> Any:
        url, params, headers, json_body = self._http_parts(call, op, request, commit_key)
        pager = call.paginate
        if pager is not None and pager.limit and pager.limit_param:
            params[pager.limit_param] = pager.limit
        first = self._send(tool, call, op, url, params, headers, json_body, attempts, commit_key is not None, request)
        if pager is None:
            return first
        items = _page_items(tool, call, first, pager.items)
        cursor, pages = lookup(first, pager.next), 1
        while cursor and pages < pager.max_pages:
            page = self._send(tool, call, op, url, {**params, pager.cursor_param: cursor}, headers, json_body,
                              attempts, False, request)
            items += _page_items(tool, call, page, pager.items)
            cursor, pages = lookup(page, pager.next), pages + 1
        if cursor:
            raise BackendUnavailable(f"{tool}: {call.operation} has more than {pager.max_pages} pages",
                                     {"tool": tool, "operation": call.operation, "reason": "too_many_pages"})
        merged = dict(first) if isinstance(first, dict) else {}
        assign(merged, pager.items, items)
        return merged

    def _http_parts(self, call: Call, op: Operation, request: dict[str, Any],
                    commit_key: str | None) -> tuple[str, dict[str, Any], dict[str, str], Any]:
        evaluator = Evaluator(self.mapping, request, request)
        path, params, headers = op.path, {}, dict(call.headers)
        for name, expr in call.params.items():
            value = evaluator.eval(expr, request)
            where = op.parameter(name)
            if where is None:  # checked at load time; kept as a guard
                continue
            if where.location == "path":
                if value is None:
                    raise _missing_path_value(name, expr)
                path = path.replace("{" + where.name + "}", quote(_text(value), safe=""))
            elif value is None:
                continue
            elif where.location == "header":
                headers[where.name] = _text(value)
            else:
                params[where.name] = [_text(v) for v in value] if isinstance(value, list) else _text(value)
        if commit_key is not None:
            headers[self.mapping.idempotency_header] = commit_key
        json_body = _jsonable(evaluator.eval(call.body, request)) if call.body is not None else None
        return self.base_url + path, params, headers, json_body

    def _send(self, tool: str, call: Call, op: Operation, url: str, params: dict[str, Any], headers: dict[str, str],
              json_body: Any, attempts: int, is_commit: bool, request: dict[str, Any]) -> Any:
        timeout = call.timeout_s or self.config.timeout_s
        info = {"tool": tool, "operation": call.operation}
        for attempt in range(1, attempts + 1):
            try:
                self.breaker.before_call()
            except CircuitOpen as exc:
                raise (not_sent(exc, **info) if is_commit else exc) from None
            try:
                answer = self.client.request(op.method, url, params=params, headers=headers, json=json_body,
                                             timeout=httpx.Timeout(timeout, connect=self.config.connect_timeout_s))
            except httpx.TimeoutException as exc:
                self.breaker.record_failure()
                fault = BackendUnavailable(f"{tool}: {call.operation} timed out after {timeout} s",
                                           {**info, "reason": "timeout"})
                if isinstance(exc, httpx.ConnectTimeout) and attempt < attempts:
                    continue
                raise (not_sent(fault) if is_commit and isinstance(exc, httpx.ConnectTimeout) else fault) from None
            except httpx.TransportError as exc:
                self.breaker.record_failure()
                fault = BackendUnavailable(f"{tool}: {call.operation}: connection failed ({type(exc).__name__})",
                                           {**info, "reason": "connection"})
                if attempt < attempts:
                    log.warning("%s: %s; retrying%s", call.operation, type(exc).__name__,
                                " with the same idempotency key" if is_commit else "")
                    time.sleep(self.config.retry.backoff_s)
                    continue
                raise (not_sent(fault) if is_commit and isinstance(exc, httpx.ConnectError) else fault) from None
            if answer.status_code >= 500 or answer.status_code in UNAVAILABLE_STATUSES:
                self.breaker.record_failure()
                if answer.status_code in RETRY_STATUSES and attempt < attempts:
                    time.sleep(self.config.retry.backoff_s)
                    continue
                raise BackendUnavailable(f"{tool}: {call.operation} answered HTTP {answer.status_code}",
                                         {**info, "reason": f"http_{answer.status_code}"})
            return self._answer(tool, call, answer, info, request)
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self, tool: str, call: Call, answer: httpx.Response, info: dict[str, Any],
                request: dict[str, Any]) -> Any:
        try:
            body = answer.json() if answer.content else None
        except ValueError:
            self.breaker.record_failure()
            raise BackendUnavailable(f"{tool}: {call.operation} answered HTTP {answer.status_code} with a body that "
                                     "is not JSON", {**info, "reason": "malformed"}) from None
        self.breaker.record_success()
        if answer.status_code >= 400:
            raise self._refusal(tool, call, answer.status_code, body, request)
        return body

    def _refusal(self, tool: str, call: Call, status: int, body: Any, request: dict[str, Any]) -> ToolError:
        from sangdam.tools.messages import render

        envelope = self.mapping.error_envelope
        code = lookup(body, envelope.code) if isinstance(body, dict) else None
        message = lookup(body, envelope.message) if isinstance(body, dict) else None
        their = lookup(body, envelope.details) if isinstance(body, dict) else None
        their = their if isinstance(their, dict) else {}
        rules = {**self.mapping.errors, **call.errors}
        rule = rules.get(str(code)) if code is not None else None
        rule = rule or rules.get(str(status))
        text = f"{tool}: {call.operation} refused (HTTP {status} {code or ''}): {message or ''}".rstrip(": ")
        if rule is None:
            return ToolError("backend_refused", text, {"backend_code": code, "status": status})
        try:
            evaluator = Evaluator(self.mapping, request, their)
            details = {name: evaluator.eval(expr, their) for name, expr in rule.details.items()}
        except TransformError as exc:
            raise BackendUnavailable(f"{tool}: cannot read the details of {code}: {exc}",
                                     {"tool": tool, "operation": call.operation, "reason": "malformed"}) from None
        message_ko = render(rule.message_ko, details) if rule.message_ko else None
        return ToolError(rule.code or "backend_refused", text, details, message_ko=message_ko)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _missing_path_value(name: str, expr: Any) -> ToolError:
    source = expr.request or expr.path or ""
    if source == "customer_id":
        return ToolError("identity_required", f"path parameter {name} needs a verified customer")
    from sangdam.tools.messages import text

    return ToolError("invalid_args", f"path parameter {name} has no value ({source})", {"fields": ""},
                     message_ko=text("errors", "invalid_args_general"))


def _page_items(tool: str, call: Call, page: Any, path: str) -> list[Any]:
    """The items of one page of a collection; a page without its list is a malformed answer, never "no items"
    (an empty list would tell the customer they have no lines)."""
    items = lookup(page, path)
    if not isinstance(items, list):
        raise BackendUnavailable(f"{tool}: {call.operation}: the page has no list at {path!r}",
                                 {"tool": tool, "operation": call.operation, "reason": "malformed"})
    return list(items)
