"""Sub-agent building blocks: the per-turn context agents work in, and what they return.

An agent is a small class: the intents it serves, the tools it may call, whether it needs a verified customer,
and a ``handle`` method that calls tools through the context and composes Korean text from templates. Agents
never see unmasked PII and never format a fact that did not come from a tool result.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from sangdam.korean.pii import PII_FIELDS, placeholder
from sangdam.orchestrator.blackboard import Blackboard
from sangdam.orchestrator.state import ConversationState, PendingAction, PlannedCall, Step
from sangdam.orchestrator.types import ToolCallRecord
from sangdam.tools.base import ToolContext, ToolError
from sangdam.tools.registry import get_tool

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy import Engine


class ToolNotAllowed(RuntimeError):
    """An agent tried a tool outside its allow-list (a programming error, never a customer error)."""


@dataclass
class Outcome:
    """What one step produced."""

    messages: list[str] = field(default_factory=list)
    proposal: PendingAction | None = None
    ask_slot: str | None = None  # the step stops and asks the customer for this slot
    # the slot is a pick from these options (id, name), just listed with their prices ("두 번째 걸로")
    options: list[dict[str, Any]] = field(default_factory=list)
    ask_holds: bool = True  # False: the message's other steps still run after the question (it stays awaited)
    handoff: bool = False
    needs_identity: bool = False  # it cannot go on before the customer is verified: the identity gate asks first
    trace: dict[str, Any] | None = None  # what the step did beyond its tool calls (the LLM agent's run)


@dataclass
class AgentContext:
    """Per-turn context shared by every step (the blackboard is how agents collaborate)."""

    engine: Engine
    today: dt.date
    conversation_id: str
    state: ConversationState
    text: str  # the customer's masked utterance
    blackboard: Blackboard
    tool_calls: list[ToolCallRecord]
    mask: Any  # callable(str) -> str, masks PII in trace records
    actor: str = "bot"
    source: str | None = None  # client address or session of the message (identity checks are throttled by it)
    allowed: frozenset[str] = frozenset()  # tools the running step may call; set by the engine per agent
    # digits of the phone numbers behind the placeholders of a masked text (None: not resolvable here)
    phones_in: Any = lambda text: []  # noqa: E731
    backend: Any = None  # the operator's systems (None: the process's configured backend)
    progress: Any = None  # callable(str): the turn's progress lines (orchestrator/progress.py); None: none
    draft: Any = None  # callable(str): verified sentences of the agent's answer while the model writes it; None: none
    step: Step | None = None  # the step running now (set by the procedure runner: what its functions serve)

    @property
    def customer_id(self) -> str | None:
        return self.state.verified_customer_id

    def _tool_ctx(self, idempotency_key: str | None = None) -> ToolContext:
        return ToolContext(
            engine=self.engine,
            today=self.today,
            actor=self.actor,
            customer_id=self.customer_id,
            idempotency_key=idempotency_key,
            conversation_id=self.conversation_id,
            source=self.source,
            backend=self.backend,
        )

    def _check(self, name: str) -> None:
        if name not in self.allowed:  # an agent without tools may call none
            raise ToolNotAllowed(f"tool {name!r} is not in this agent's allow-list")

    def call(self, name: str, _idempotency_key: str | None = None, **args: Any) -> Any:
        """Run a tool, record it in the trace and on the blackboard; ToolError propagates after recording."""
        self._check(name)
        t0 = time.perf_counter()
        try:
            result = get_tool(name).run(self._tool_ctx(_idempotency_key), args)
        except ToolError as err:
            self._record(name, args, "error", None, err.code, t0)
            self.blackboard.put_error(name, err)
            raise
        data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        self._record(name, args, "ok", data, None, t0)
        self.blackboard.put(name, data, args)
        return result

    def propose(self, name: str, **args: Any) -> Any:
        """Dry-run a write tool (every business rule checked, nothing written) and record the proposal."""
        self._check(name)
        t0 = time.perf_counter()
        try:
            proposal = get_tool(name).preview(self._tool_ctx(), args)
        except ToolError as err:  # refused by a business rule before anything ran: still "proposed"
            self._record(name, args, "proposed", None, err.code, t0)
            self.blackboard.put_error(name, err)
            raise
        self._record(name, args, "proposed", proposal.effect, None, t0)
        self.blackboard.put(f"proposal:{name}", proposal.model_dump(mode="json"), args)
        return proposal

    def pending(self, step: Step, calls: list[tuple[str, dict[str, Any]]], summary_ko: str, **extra: Any) -> PendingAction:
        return PendingAction(
            id=uuid.uuid4().hex[:12],
            agent=step.agent,
            intent=step.intent,
            calls=[PlannedCall(tool=n, args=a) for n, a in calls],
            summary_ko=summary_ko,
            step=step.model_copy(deep=True),
            **extra,
        )

    def _record(self, name: str, args: dict, status: str, result: dict | None, code: str | None, t0: float) -> None:
        self.tool_calls.append(
            ToolCallRecord(
                name=name,
                args=_mask_tree(args, self.mask),
                status=status,  # type: ignore[arg-type]
                result=_mask_tree(result, self.mask) if result is not None else None,
                error_code=code,
                latency_ms=round((time.perf_counter() - t0) * 1000, 3),
            )
        )


def _mask_tree(value: Any, mask: Any) -> Any:
    if isinstance(value, str):
        # every PII type Sangdam detects contains a digit or an "@": other strings need no detector pass
        return mask(value) if ("@" in value or any(ch.isdigit() for ch in value)) else value
    if isinstance(value, dict):
        return {k: placeholder(PII_FIELDS[k]) if k in PII_FIELDS and v is not None else _mask_tree(v, mask)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_tree(v, mask) for v in value]
    return value


class Agent:
    """Base class of sub-agents."""

    name: ClassVar[str]
    intents: ClassVar[tuple[str, ...]]
    tools: ClassVar[tuple[str, ...]] = ()
    needs_customer: ClassVar[bool] = True

    def needs_identity(self, step: Step, ctx: AgentContext) -> bool:
        """Whether this step reveals account data or writes (then the identity gate applies)."""
        return self.needs_customer

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        raise NotImplementedError

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        """Reply after the customer agreed and the proposed calls ran (default: each call's done text)."""
        raise NotImplementedError

    def on_slot(self, step: Step, slot: str, ctx: AgentContext) -> Step | None:
        """Fill ``slot`` of ``step`` from the customer's answer; None when the answer does not contain it."""
        return None
