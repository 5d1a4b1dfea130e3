"""Running tools: validation, the identity requirement, the backend call, audit and idempotency.

Every write attempt leaves one ``audit_log`` row in Sangdam's store — executed, replayed or refused — so an
operator can always answer "what did the bot do to this account, and what did it try?". The write itself happens
on the operator's systems (the backend), under the call's idempotency key, which the backend keeps with the write;
Sangdam then records the audit row and its own idempotency record together.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sangdam.backends import guard
from sangdam.backends.core import BackendUnavailable
from sangdam.domain.db import session_factory
from sangdam.domain.models import AuditLog, ToolExecution
from sangdam.tools.base import Proposal, Tool, ToolArgs, ToolContext, ToolError, _jsonable, parse_args


def run_tool(tool: Tool, ctx: ToolContext, args: dict[str, Any]) -> BaseModel:
    """Validate, check identity and execute ``tool`` (see :meth:`Tool.run`)."""
    if not tool.is_write:
        parsed = _prepare(tool, ctx, args)
        if tool.local is not None:
            return tool.local(ctx, parsed)
        result = _validated(tool, _service(tool, ctx).read(tool.name, ctx, parsed))
        return tool.enrich(ctx, result) if tool.enrich is not None else result
    try:
        parsed = _prepare(tool, ctx, args)
    except ToolError as exc:
        _audit_refusal(tool, ctx, _jsonable(args) if isinstance(args, dict) else {"raw": str(args)}, exc)
        raise
    return _run_write(tool, ctx, parsed)


def preview_tool(tool: Tool, ctx: ToolContext, args: dict[str, Any]) -> Proposal:
    """Dry run of a write tool: the same checks as ``run`` and the effect; the backend writes nothing."""
    if not tool.is_write:
        raise ToolError("not_a_write_tool", f"{tool.name} is a read tool; call run() instead of preview()")
    parsed = _prepare(tool, ctx, args)
    effect = _effect(tool, _service(tool, ctx).preview(tool.name, ctx, parsed))
    if tool.source == "builtin":
        guard.check(tool.name, effect, ctx.today)  # Sangdam's own rules, whatever backend computed it
    return Proposal(
        tool=tool.name,
        args=parsed.model_dump(mode="json"),
        effect=effect,
        summary_ko=tool.summary_ko(effect),
    )


def executed_keys(engine: Any, keys: set[str]) -> set[str]:
    """Which of ``keys`` already name a committed write (its idempotency record exists)."""
    if not keys:
        return set()
    with session_factory(engine)() as session:
        rows = session.query(ToolExecution.idempotency_key).filter(ToolExecution.idempotency_key.in_(sorted(keys)))
        return {key for (key,) in rows}


def args_hash(tool: Tool, ctx: ToolContext, parsed: ToolArgs) -> str:
    """Fingerprint of a call: the same key may only ever mean the same tool, customer and arguments."""
    payload = {"tool": tool.name, "customer_id": ctx.customer_id, "args": parsed.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _prepare(tool: Tool, ctx: ToolContext, args: dict[str, Any]) -> ToolArgs:
    parsed = parse_args(tool, args)
    if tool.needs_customer and not ctx.customer_id:
        raise ToolError("identity_required", f"{tool.name} needs a verified customer (call verify_identity first)")
    return parsed


def _service(tool: Tool, ctx: ToolContext) -> Any:
    """Who serves ``tool``: its own service (imported tools) or the operator's systems (built-in tools)."""
    return tool.service if tool.service is not None else ctx.systems


def _validated(tool: Tool, raw: Any) -> BaseModel:
    """The backend's answer as the tool's output model; an answer that does not fit is a backend fault."""
    if isinstance(raw, tool.output_model):
        return raw
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(mode="json")
    return _fitted(tool, tool.output_model, raw, "answer")


def _effect(tool: Tool, raw: Any) -> dict[str, Any]:
    """A preview as the customer will be asked about it: a built-in write's effect must fit its declared model
    (dates as dates, amounts as integers), so a confirmation question is never built on a misread answer."""
    from sangdam.backends.ports import EFFECTS

    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    if not isinstance(raw, dict):
        raise BackendUnavailable(f"{tool.name}: the preview is not a JSON object ({type(raw).__name__})",
                                 {"tool": tool.name})
    model = EFFECTS.get(tool.name) if tool.source == "builtin" else None
    return raw if model is None else _fitted(tool, model, raw, "preview").model_dump()


def _fitted(tool: Tool, model: type[BaseModel], raw: Any, what: str) -> BaseModel:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BackendUnavailable(
            f"{tool.name}: the backend's {what} does not fit {model.__name__}: {exc.error_count()} problem(s), "
            f"first: {first['loc']} {first['msg']}",
            {"tool": tool.name, "reason": "malformed"},
        ) from None


class _session:
    """A session on Sangdam's store that never commits."""

    def __init__(self, ctx: ToolContext) -> None:
        self.session: Session = session_factory(ctx.engine)()

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, *exc: object) -> None:
        self.session.rollback()
        self.session.close()


def _run_write(tool: Tool, ctx: ToolContext, parsed: ToolArgs) -> BaseModel:
    """Commit a write on the backend under the call's idempotency key, then record it in Sangdam's store.

    The backend's own record of the key makes the write happen once even when Sangdam's record is never written
    (a crash between the two, a lost response): the retry under the same key is answered with the first result.
    """
    args = parsed.model_dump(mode="json")
    digest = args_hash(tool, ctx, parsed)
    if ctx.idempotency_key:
        replay = _replay(tool, ctx, args, digest)
        if replay is not None:
            return replay
    try:
        result = _validated(tool, _service(tool, ctx).commit(tool.name, ctx, parsed, ctx.idempotency_key))
    except BackendUnavailable as exc:
        # The request may have been carried out before the answer was lost: say so, and let the customer retry
        # under the same key (the backend answers a retry with the first result, never a second charge).
        unknown = ToolError("backend_outcome_unknown", f"{tool.name}: outcome unknown: {exc.message_en}",
                            {**exc.details, "tool": tool.name})
        _audit_refusal(tool, ctx, args, unknown)
        raise unknown from exc
    except ToolError as exc:
        _audit_refusal(tool, ctx, args, exc)
        raise
    payload = result.model_dump(mode="json")
    session = session_factory(ctx.engine)()
    try:
        session.add(_audit_row(tool, ctx, args, {"ok": True, "result": payload}))
        if ctx.idempotency_key:
            session.add(
                ToolExecution(
                    idempotency_key=ctx.idempotency_key, tool=tool.name, args_hash=digest, result=payload, at=ctx.now()
                )
            )
        session.commit()
        return result
    except IntegrityError:
        # Another worker recorded the same idempotency key first: answer with its result.
        session.rollback()
        if ctx.idempotency_key:
            replay = _replay(tool, ctx, args, digest)
            if replay is not None:
                return replay
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _replay(tool: Tool, ctx: ToolContext, args: dict[str, Any], digest: str) -> BaseModel | None:
    """The stored result of an earlier run with the same key, or None; a different call under it is refused."""
    with _session(ctx) as session:
        done = session.get(ToolExecution, ctx.idempotency_key)
        if done is None:
            return None
        if done.args_hash != digest or done.tool != tool.name:
            exc = ToolError(
                "idempotency_conflict",
                f"idempotency key {ctx.idempotency_key!r} was already used for a different call ({done.tool})",
                {"idempotency_key": ctx.idempotency_key, "previous_tool": done.tool},
            )
        else:
            stored = done.result
            exc = None
    if exc is not None:
        _audit_refusal(tool, ctx, args, exc)
        raise exc
    result = tool.output_model.model_validate(stored)
    _audit(tool, ctx, args, {"ok": True, "replayed": True, "result": stored})
    return result


def _audit_row(tool: Tool, ctx: ToolContext, args: dict[str, Any], outcome: dict[str, Any]) -> AuditLog:
    outcome = {
        **outcome,
        "context": {
            "customer_id": ctx.customer_id,
            "conversation_id": ctx.conversation_id,
            "idempotency_key": ctx.idempotency_key,
        },
    }
    return AuditLog(who=ctx.actor, tool=tool.name, args=args, result=outcome, at=ctx.now())


def _audit(tool: Tool, ctx: ToolContext, args: dict[str, Any], outcome: dict[str, Any]) -> None:
    session = session_factory(ctx.engine)()
    try:
        session.add(_audit_row(tool, ctx, args, outcome))
        session.commit()
    finally:
        session.close()


def _audit_refusal(tool: Tool, ctx: ToolContext, args: dict[str, Any], exc: ToolError) -> None:
    message = exc.message_en
    if tool.source != "builtin" or exc.code.startswith("backend_"):
        # an outside system's own words (an error body quoted in the message) may carry personal data: the audit
        # log is at rest, so it keeps them masked (docs/data-at-rest.md)
        from sangdam.korean.pii import mask

        message = mask(message).masked
    _audit(
        tool,
        ctx,
        args,
        {"ok": False, "error": exc.code, "message_en": message, "details": _jsonable(exc.details)},
    )
