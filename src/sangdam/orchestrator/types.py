"""Public result types of one orchestrated turn (the contract between the orchestrator and its channels:
server, CLI chat, evaluation runner)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ToolCallRecord(BaseModel):
    """One tool call made (or proposed) during a turn; args and results are PII-masked."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    status: Literal["ok", "error", "proposed", "declined"]
    result: dict[str, Any] | None = None
    error_code: str | None = None
    latency_ms: float = 0.0


class VerifierVerdict(BaseModel):
    """Result checking of a reply: every fact supported, every claimed action executed, no foreign PII."""

    passed: bool
    unsupported: list[str] = Field(default_factory=list)
    unexecuted_claims: list[str] = Field(default_factory=list)
    foreign_pii: list[str] = Field(default_factory=list)
    action: Literal["accepted", "regenerated", "fallback"] = "accepted"


class TurnResult(BaseModel):
    """What a channel gets back for one customer message."""

    conversation_id: str
    turn_index: int
    reply: str
    intents: list[str] = Field(default_factory=list)
    confidence: float = 0.0
    via: str = "classifier"
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    pending_action: dict[str, Any] | None = None  # a proposed write waiting for the customer's yes/no
    options: list[dict[str, Any]] = Field(default_factory=list)  # options (id, name) the customer is asked to pick
    handed_off: bool = False
    verified_customer_id: str | None = None
    verifier: VerifierVerdict | None = None
    trace_id: str
    latency_ms: float = 0.0
