"""Conversation state, persisted as JSON after every turn so that a restart resumes the conversation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Step(BaseModel):
    """One unit of a plan: a sub-agent handling one intent with its slots."""

    agent: str
    intent: str
    slots: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[int] = Field(default_factory=list)
    silent: bool = False  # gathers facts for a later step; says nothing itself
    text: str = ""  # the clause of the customer's message this step came from


class PlannedCall(BaseModel):
    tool: str
    args: dict[str, Any]


class PendingAction(BaseModel):
    """A consequential action proposed to the customer, waiting for their yes/no in a later turn."""

    id: str
    agent: str
    intent: str
    calls: list[PlannedCall] = Field(default_factory=list)
    summary_ko: str = ""
    # When the customer must pick one of several priced options (e.g. roaming passes), each choice is a call.
    choices: list[dict[str, Any]] = Field(default_factory=list)
    slots: dict[str, Any] = Field(default_factory=dict)
    # Further proposals of the same message, confirmed together by one "네" ("충전하고 로밍도 신청해 줘").
    then: list[PendingAction] = Field(default_factory=list)
    # The step that proposed it: a correction ("2기가 말고 3기가로") re-runs it with the new value.
    step: Step | None = None


class Awaiting(BaseModel):
    """What the bot asked the customer for in its last reply."""

    kind: Literal["identity", "slot", "troubleshoot"]
    slot: str | None = None
    step: Step | None = None
    misses: int = 0  # consecutive answers in which nothing asked for could be read


class TroubleshootState(BaseModel):
    flow: str
    line_id: str | None = None
    step_index: int = 0


class ConversationState(BaseModel):
    """Everything the orchestrator remembers between turns (never contains unmasked PII)."""

    turn_index: int = 0
    verified_customer_id: str | None = None
    authenticated: bool = False  # verified by the channel (session), not by questions
    verify_attempts: int = 0
    pending: PendingAction | None = None
    awaiting: Awaiting | None = None
    queue: list[Step] = Field(default_factory=list)
    troubleshoot: TroubleshootState | None = None
    last_recommended: list[str] = Field(default_factory=list)  # plan ids, best first
    last_passes: list[str] = Field(default_factory=list)  # roaming pass ids last shown
    notices_sent: list[str] = Field(default_factory=list)
    notices_checked: bool = False  # read by nothing now; kept so stored states load
    notices_considered: list[str] = Field(default_factory=list)  # notice kinds checked once, when first related
    handed_off: bool = False
    actions: list[dict[str, Any]] = Field(default_factory=list)  # executed writes (tool, args, result summary)
