"""Conversation state, persisted as JSON after every turn so that a restart resumes the conversation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field, model_validator


class Step(BaseModel):
    """One unit of a plan: a sub-agent handling one intent with its slots."""

    agent: str
    intent: str
    slots: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[int] = Field(default_factory=list)
    silent: bool = False  # gathers facts for a later step; says nothing itself
    text: str = ""  # the clause of the customer's message this step came from
    what_if: bool = False  # a question about what this action would do: previewed, never proposed


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

    kind: Literal["identity", "slot"]
    slot: str | None = None
    step: Step | None = None
    misses: int = 0  # consecutive answers in which nothing asked for could be read


MAX_FRAMES = 3  # open tasks kept at once; an older one beyond this is let go (and said so)


class Frame(BaseModel):
    """One open task of the dialogue stack and what it waits for: a proposal (yes/no or a pick of options), a
    question (identity, a slot: a troubleshooting device step is one too), the steps of the request still to run."""

    intent: str | None = None  # the task the customer started (for the trace and the resume prompt)
    pending: PendingAction | None = None
    awaiting: Awaiting | None = None
    queue: list[Step] = Field(default_factory=list)
    interrupted: bool = False  # a newer task was started over it; it resumes when that one is done

    def idle(self) -> bool:
        """Nothing waits in this frame any more: it is done and leaves the stack."""
        return self.pending is None and self.awaiting is None and not self.queue


_FRAME_FIELDS = ("pending", "awaiting", "queue")
# Stored states before troubleshooting became a procedure (its device step an ordinary slot question) may hold a
# flow in progress under this key, at the top level and in frames: it is dropped when they load.
_DROPPED_FIELDS = ("troubleshoot",)


class ConversationState(BaseModel):
    """Everything the orchestrator remembers between turns (never contains unmasked PII).

    The dialogue is one stack of frames (``stack``, top last). ``pending``, ``awaiting`` and ``queue`` read and
    write the top frame: an answer (a yes, a pick, a slot value) goes to the frame that asked; a new task
    interrupts (``interrupt``) and the interrupted frame resumes when the new one is done (``resume``); a cancel
    pops. The state is persisted after every turn, so a restart resumes mid-task.
    """

    turn_index: int = 0
    verified_customer_id: str | None = None
    authenticated: bool = False  # verified by the channel (session), not by questions
    verify_attempts: int = 0
    stack: list[Frame] = Field(default_factory=list)
    offered: Step | None = None  # an action just previewed for a what-if question; "네 해 주세요" next proposes it
    last_task: dict[str, Any] | None = None  # {"intent", "slots", "turn"}: what "4444는요?" next refers to
    last_recommended: list[str] = Field(default_factory=list)  # plan ids, best first
    last_passes: list[str] = Field(default_factory=list)  # roaming pass ids last shown
    notices_sent: list[str] = Field(default_factory=list)
    notices_checked: bool = False  # read by nothing now; kept so stored states load
    notices_considered: list[str] = Field(default_factory=list)  # notice kinds checked once, when first related
    handed_off: bool = False
    actions: list[dict[str, Any]] = Field(default_factory=list)  # executed writes (tool, args, result summary)

    @model_validator(mode="before")
    @classmethod
    def _legacy_fields(cls, data: Any) -> Any:
        """States stored before the stack kept the frame's fields at the top level: they become one frame. (They
        are still written, as the top frame's, for readers of the stored JSON; with a stack they are ignored.) A
        troubleshooting flow stored by older versions (``troubleshoot``) is dropped."""
        if isinstance(data, dict) and any(k in data for k in (*_FRAME_FIELDS, *_DROPPED_FIELDS)):
            data = {k: v for k, v in data.items() if k not in _DROPPED_FIELDS}
            if isinstance(data.get("stack"), list):
                data["stack"] = [{k: v for k, v in f.items() if k not in _DROPPED_FIELDS} if isinstance(f, dict) else f
                                 for f in data["stack"]]
            legacy = {k: data.pop(k) for k in _FRAME_FIELDS if k in data}
            if any(legacy.values()) and not data.get("stack"):
                data["stack"] = [legacy]
        return data

    # -- the top frame --------------------------------------------------------------------------------------
    def _top(self) -> Frame:
        if not self.stack:
            self.stack.append(Frame())
        return self.stack[-1]

    @computed_field  # type: ignore[prop-decorator]  # also stored: readers of the state JSON see the top frame
    @property
    def pending(self) -> PendingAction | None:
        return self.stack[-1].pending if self.stack else None

    @pending.setter
    def pending(self, value: PendingAction | None) -> None:
        self._top().pending = value
        if value is not None and self.stack[-1].intent is None:
            self.stack[-1].intent = value.intent

    @computed_field  # type: ignore[prop-decorator]  # also stored: readers of the state JSON see the top frame
    @property
    def awaiting(self) -> Awaiting | None:
        return self.stack[-1].awaiting if self.stack else None

    @awaiting.setter
    def awaiting(self, value: Awaiting | None) -> None:
        self._top().awaiting = value

    @computed_field  # type: ignore[prop-decorator]  # also stored: readers of the state JSON see the top frame
    @property
    def queue(self) -> list[Step]:
        return self.stack[-1].queue if self.stack else []

    @queue.setter
    def queue(self, value: list[Step]) -> None:
        self._top().queue = list(value)

    # -- the stack ----------------------------------------------------------------------------------------------
    def interrupt(self, intent: str | None = None) -> list[Frame]:
        """Start a new task over the open one, which waits untouched below. Returns the frames let go because
        the stack was full (oldest first), for the caller to record as declined."""
        self.prune()
        if self.stack:
            self.stack[-1].interrupted = True
        self.stack.append(Frame(intent=intent))
        dropped: list[Frame] = []
        while len(self.stack) > MAX_FRAMES:
            dropped.append(self.stack.pop(0))
        return dropped

    def prune(self) -> None:
        """Remove frames that no longer wait for anything."""
        self.stack = [f for f in self.stack if not f.idle()]

    def resumable(self) -> Frame | None:
        """After the top frames are done: the interrupted frame now on top, if any (its question is asked again)."""
        self.prune()
        if self.stack and self.stack[-1].interrupted:
            return self.stack[-1]
        return None

    def remember_task(self, intent: str, slots: dict[str, Any]) -> None:
        """The task this turn served (or confirmed), for a next message that leans on it ("4444는요?")."""
        self.last_task = {"intent": intent, "slots": dict(slots), "turn": self.turn_index}

    def snapshot(self) -> list[dict[str, Any]]:
        """The stack for the trace: per frame, its task and what it waits for."""
        return [{"intent": f.intent, "waits": [k for k in _FRAME_FIELDS if getattr(f, k)],
                 "interrupted": f.interrupted} for f in self.stack]
