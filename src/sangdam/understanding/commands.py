"""Typed commands: what understanding says a customer message asks the dialogue to do.

Every clause of a message ends as exactly one command, so nothing is dropped silently: a clause nobody can
serve becomes ``CannotHandle`` and is answered as such. Understanding (the command generators) only *emits*
commands; the dialogue manager decides what they do to the open frames. A command never runs anything by
itself: ``Confirm`` only ever reaches the frame that proposed something, and a write still needs its preview.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

GeneratorName = Literal["classifier", "llm", "cues", "dialogue"]


class _Command(BaseModel):
    clause: str = ""  # the part of the customer's message this command came from (PII-masked)
    generator: GeneratorName = "classifier"  # who produced it (recorded in the trace)


class StartTask(_Command):
    """Start the procedure of a task intent ("요금 알려줘" → billing.inquiry)."""

    kind: Literal["start_task"] = "start_task"
    intent: str
    slots: dict[str, Any] = Field(default_factory=dict)
    confidence: float = 1.0


class SetSlot(_Command):
    """The value of the slot the open frame asked for ("끝자리 4444요")."""

    kind: Literal["set_slot"] = "set_slot"
    name: str
    value: Any = None


class Correct(_Command):
    """A different value for something already given or proposed ("아 아니 3기가요")."""

    kind: Literal["correct"] = "correct"
    name: str
    value: Any = None


class Choose(_Command):
    """One of the options the open frame listed ("두 번째 거", "아시아 5일로")."""

    kind: Literal["choose"] = "choose"
    option_id: str


class Confirm(_Command):
    """An unambiguous yes to the open proposal."""

    kind: Literal["confirm"] = "confirm"


class Decline(_Command):
    """A no to the open proposal or question."""

    kind: Literal["decline"] = "decline"


class Cancel(_Command):
    """Stop the current task altogether ("됐어요 그만할래요")."""

    kind: Literal["cancel"] = "cancel"


class Handoff(_Command):
    """An explicit request for a human agent: honoured at once."""

    kind: Literal["handoff"] = "handoff"
    reason: str = "customer_request"


class AskKnowledge(_Command):
    """A question about rules, terms or an action's consequences, answered from the operator's documents."""

    kind: Literal["ask_knowledge"] = "ask_knowledge"
    question: str = ""
    about: str | None = None  # the action the question is about ("바꾸면 언제부터 적용돼요?" → plan.change)


class Chitchat(_Command):
    """Greetings, thanks, small talk."""

    kind: Literal["chitchat"] = "chitchat"


class CannotHandle(_Command):
    """A clause no intent or procedure serves: answered as such, with the offer of a human agent."""

    kind: Literal["cannot_handle"] = "cannot_handle"
    reason: Literal["out_of_scope", "unsure", "not_available"] = "out_of_scope"


Command = Annotated[
    StartTask | SetSlot | Correct | Choose | Confirm | Decline | Cancel | Handoff | AskKnowledge | Chitchat | CannotHandle,
    Field(discriminator="kind"),
]
COMMANDS: TypeAdapter[list[Command]] = TypeAdapter(list[Command])

# Built-in tasks that change something (their procedure ends in a proposal): a question about what one of them
# would do is not a request to do it.
ACTION_INTENTS = frozenset({"billing.payment", "plan.change", "data.refill", "roaming.enable", "roaming.disable",
                            "line.suspend", "line.resume", "contract.cancel"})

# The intents that are commands of their own rather than tasks.
INTENT_COMMANDS: dict[str, type[_Command]] = {
    "policy.question": AskKnowledge,
    "agent.human": Handoff,
    "chitchat": Chitchat,
    "out_of_scope": CannotHandle,
}


def command_for_intent(intent: str, clause: str, *, confidence: float = 1.0, generator: GeneratorName = "classifier",
                       slots: dict[str, Any] | None = None) -> Any:
    """The command a routed clause becomes: a task starts its procedure, the rest are their own commands."""
    kind = INTENT_COMMANDS.get(intent)
    if kind is AskKnowledge:
        return AskKnowledge(question=clause, clause=clause, generator=generator)
    if kind is not None:
        return kind(clause=clause, generator=generator)
    return StartTask(intent=intent, slots=slots or {}, clause=clause, confidence=confidence, generator=generator)


def intent_of(command: Any) -> str | None:
    """The taxonomy intent a command stands for (None for dialogue commands such as Confirm)."""
    if isinstance(command, StartTask):
        return command.intent
    for intent, kind in INTENT_COMMANDS.items():
        if type(command) is kind:
            return intent
    return None


def label(command: Any) -> str:
    """A short label for traces and evaluation: ``StartTask:billing.inquiry``, ``Confirm``, ``CannotHandle``."""
    name = type(command).__name__
    return f"{name}:{command.intent}" if isinstance(command, StartTask) else name
