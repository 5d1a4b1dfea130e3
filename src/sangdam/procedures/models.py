"""A procedure file as data: pydantic models of its steps, and the flat program the runner executes.

A procedure is a list of steps; each step is a mapping with exactly one *kind* key (``ask``, ``call``, ``branch``,
``propose``, ``say``, ``loop``, ``handoff``, ``start``, ``goto``, ``end``) and an optional ``id`` (a label other
steps jump to). Loops nest; at load the steps are compiled into one flat list of instructions with jumps, so the
runner's position is a single number that the conversation state keeps between turns.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, field_validator, model_validator

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
LABEL = re.compile(r"^[a-z][a-z0-9_]*$")
PATH = re.compile(r"^[A-Za-z_][\w]*(\.[\w]+)*$")
FIELD = re.compile(r"\{([^{}]*)\}")
KINDS = ("ask", "call", "compute", "branch", "propose", "say", "loop", "handoff", "start", "goto", "end")
OPERATORS = ("equals", "not_equals", "in", "not_in", "empty", "not_empty", "gt", "gte", "lt", "lte")
EXTRACTORS_BUILTIN = ("line", "gb", "gb_answer", "plan", "yes_no", "text", "number", "choice")
END = "end"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_path(value: str) -> str:
    if not PATH.match(value):
        raise ValueError(f"{value!r} is not a variable path (letters, digits, _ and dots: 'membership.tier')")
    return value


class Condition(_Strict):
    """``on`` (a variable path) and exactly one operator: equals, not_equals, in, not_in, empty, not_empty, gt,
    gte, lt, lte."""

    on: str | None = None  # a branch case may leave it to the branch's ``on``
    equals: Any = None
    not_equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    empty: bool | None = None
    not_empty: bool | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _one_operator(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [k for k in OPERATORS if k in data]
            if len(given) != 1:
                raise ValueError(f"a condition needs exactly one of {', '.join(OPERATORS)} (found {given or 'none'})")
        return data

    @field_validator("on")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return None if value is None else _check_path(value)

    def operator(self) -> tuple[str, Any]:
        for name in OPERATORS:
            value = getattr(self, "in_" if name == "in" else name)
            if name in self.model_fields_set or (name == "in" and "in_" in self.model_fields_set):
                return name, value
        raise AssertionError("validated: one operator")


class Case(Condition):
    goto: str


class Branch(_Strict):
    on: str
    cases: list[Case] = Field(min_length=1)
    else_: str | None = Field(default=None, alias="else")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("on")
    @classmethod
    def _path(cls, value: str) -> str:
        return _check_path(value)


class Loop(_Strict):
    """Repeat ``steps`` until ``until`` holds (checked after each pass) or ``max`` passes ran (or, with ``over``,
    once per item). ``else``: where to go when it never held (default: the step after the loop)."""

    steps: list[dict[str, Any]] = Field(min_length=1)
    until: Condition | None = None
    max: int = Field(default=3, ge=1, le=20)
    over: list[Any] | str | None = None  # items (a list, or the path of a list variable); each pass sees loop.item
    else_: str | None = Field(default=None, alias="else")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Template(_Strict):
    """Korean text by reference: a template of ``resources/templates/ko.yaml`` (``billing.bill``) and its values,
    each a field string (``"{bill.amount_krw|won}"``) filled from the procedure's variables."""

    template: str
    args: dict[str, Any] = Field(default_factory=dict)
    each: str | None = None  # one line per item of this list variable (``item`` in the args), joined by newlines

    @field_validator("template")
    @classmethod
    def _key(cls, value: str) -> str:
        from sangdam.orchestrator.format import templates

        node: Any = templates()
        for part in value.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"{value!r} is no template of templates/ko.yaml")
            node = node[part]
        return value

    @field_validator("each")
    @classmethod
    def _each(cls, value: str | None) -> str | None:
        return None if value is None else _check_path(value)

    @field_validator("args")
    @classmethod
    def _nested(cls, value: dict[str, Any]) -> dict[str, Any]:
        """A value may itself be a template by reference (``expected: {template: tech.found.outage_expected,
        args: {when: ...}}``): rendered first, its text the value."""
        return {k: Template.model_validate(v) if isinstance(v, dict) and "template" in v else v
                for k, v in value.items()}


def _text(value: Any) -> Any:
    """Korean text: a string, a mapping that is a template reference, or a non-empty list of those (one message,
    its parts joined by a space; a template part with ``each`` puts one line per item on lines of their own);
    one error message, not one per form."""
    if isinstance(value, list) and value and not any(isinstance(v, list) for v in value):
        return [_text(v) for v in value]
    if isinstance(value, dict):
        return Template.model_validate(value)
    if not isinstance(value, str):
        raise ValueError("Korean text is a string, {template: <key of templates/ko.yaml>, args: {...}}, or a list "
                         "of those (one message)")
    return value


# Korean text: written out, or a template by reference; a list of those is one message, its parts joined by a space
Text = Annotated[str | Template | list[str | Template], PlainValidator(_text)]


class StepSpec(_Strict):
    """One step as written: exactly one kind key, its options, and an optional ``id``."""

    id: str | None = None
    ask: str | None = None
    call: str | None = None
    compute: str | None = None  # a registered Python function (computation: pricing, ranking, parsing)
    branch: Branch | None = None
    propose: str | None = None
    say: Text | None = None
    loop: Loop | None = None
    handoff: str | bool | None = None
    start: str | None = None
    goto: str | None = None
    end: bool | None = None
    # options
    question_ko: Text | None = None  # ask
    extractor: str | None = None  # ask (default text)
    prefer_status: list[str] | None = None  # ask with the line extractor: lines in these states come first
    options: str | None = None  # ask with the choice extractor: the path of the list the customer picks from
    holds: bool | None = None  # ask: false = the message's other requests still run after the question (a device
    #                           step to try: the next message answers it); default true, they wait for the answer
    # ask: the answer joins the request's text, which later steps read (request.text, the from-request extractors):
    # "5G 스탠다드로 바로요" names the plan and when
    adds_to_request: bool | None = None
    args: dict[str, Any] = Field(default_factory=dict)  # call, compute, propose
    save_as: str | None = None  # call, compute, propose (default: the tool's or function's name)
    on_error: dict[str, str] = Field(default_factory=dict)  # call, compute, propose: error code (or "any") -> label
    produce: bool | None = None  # call, compute: the result is this step's, read by the steps that depend on it
    each: str | None = None  # say: one message per item; propose: one call per item (``item`` in the fields)
    when: Condition | None = None  # say: said only when this holds (with ``each``: checked for each item)
    summary_ko: Text | None = None  # propose: the proposal sentence (default: the tool's own preview text)
    done_ko: Text | None = None  # propose: said after the commit (fields from the commit's result)
    hands_off: str | None = None  # propose: the path of a result field; true after the commit → handed to a person

    @field_validator("id")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None and (not LABEL.match(value) or value == END):
            raise ValueError(f"{value!r} is not a step id (lower_snake_case, not 'end')")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> StepSpec:
        kinds = [k for k in KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a step needs exactly one of {', '.join(KINDS)} (found {kinds or 'none'})")
        kind = kinds[0]
        allowed = {
            "ask": {"question_ko", "extractor", "prefer_status", "options", "holds", "adds_to_request"},
            "call": {"args", "save_as", "on_error", "produce"},
            "compute": {"args", "save_as", "on_error", "produce"},
            "propose": {"args", "save_as", "on_error", "summary_ko", "done_ko", "each", "hands_off"},
            "say": {"each", "when"},
        }.get(kind, set())
        stray = [k for k in ("question_ko", "extractor", "prefer_status", "options", "holds", "adds_to_request",
                             "args", "save_as", "on_error", "produce", "each", "when", "summary_ko", "done_ko",
                             "hands_off")
                 if k in self.model_fields_set and k not in allowed]
        if stray:
            raise ValueError(f"{', '.join(stray)} does not apply to a '{kind}' step")
        if kind == "ask":
            if not NAME.match(self.ask or ""):
                raise ValueError(f"ask: {self.ask!r} is not a slot name (lower_snake_case)")
            if not self.question_ko:
                raise ValueError("an 'ask' step needs question_ko, the Korean question")
            if (self.options is None) != ((self.extractor or "text") != "choice"):
                raise ValueError("the 'choice' extractor and 'options' (the list to pick from) go together")
        for key in ("options", "each", "hands_off"):
            value = getattr(self, key)
            if value is not None and not PATH.match(value):
                raise ValueError(f"{key}: {value!r} is not a variable path")
        if self.when is not None and self.when.on is None:
            raise ValueError("when: the condition needs 'on', a variable path")
        if kind == "compute" and not NAME.match(self.compute or ""):
            raise ValueError(f"compute: {self.compute!r} is not a function name (lower_snake_case)")
        if self.save_as is not None and not NAME.match(self.save_as):
            raise ValueError(f"save_as: {self.save_as!r} is not a variable name (lower_snake_case)")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)


class ProcedureSpec(_Strict):
    """A whole procedure file."""

    procedure: str
    description_ko: str = Field(min_length=2)
    identity: Literal["required", "none", "when"] = "required"
    # identity "when": a registered function (sangdam.procedures.functions) that decides from the request whether
    # this request needs a verified customer: fn(ctx, {"text": <the request>}) -> bool
    identity_when: str | None = None
    # built-in intents this procedure serves in place of their sub-agent's Python code (packaged procedures only;
    # the intent keeps its agent name, so the taxonomy contract does not change)
    serves: list[str] = Field(default_factory=list)
    labels: dict[str, dict[str, str]] = Field(default_factory=dict)  # say filter name -> value -> 한국어
    steps: list[dict[str, Any]] = Field(min_length=1)

    @field_validator("procedure")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"{value!r} is not a procedure name (lower_snake_case)")
        return value

    @model_validator(mode="after")
    def _identity_when(self) -> ProcedureSpec:
        if (self.identity == "when") != (self.identity_when is not None):
            raise ValueError("identity: when and identity_when (the function that decides) go together")
        if self.identity_when is not None and not NAME.match(self.identity_when):
            raise ValueError(f"identity_when: {self.identity_when!r} is not a function name (lower_snake_case)")
        return self


class Instr(BaseModel):
    """One instruction of the compiled program."""

    op: str  # a step kind, or loop_start / loop_end
    step: StepSpec | None = None
    where: str  # "steps[2].loop.steps[0]": for error messages
    loop: Loop | None = None
    loop_id: str | None = None
    body_start: int = 0  # loop_end: first instruction of the body
    exit_pc: int = 0  # loop_start/loop_end: the instruction after the loop
    else_pc: int | None = None  # loop_end: where to go when the loop never passed its check


class Program(BaseModel):
    """A procedure compiled: its instructions, labels and the tools it names."""

    name: str
    file: str
    description_ko: str
    identity: str
    identity_when: str | None = None  # identity "when": the function that decides per request
    labels: dict[str, dict[str, str]]
    instrs: list[Instr]
    label_pc: dict[str, int]
    tools: list[str]  # tools the steps call or propose (handoff adds transfer_to_human)
    functions: list[str] = []  # Python functions the steps compute
    extractors: list[str]
    starts: list[str]  # procedures or intents the steps start
    serves: list[str] = []  # built-in intents served by this procedure
