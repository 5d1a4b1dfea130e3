"""The procedure runner: a sub-agent (``ProcedureAgent``) that executes a compiled procedure.

It implements the ordinary agent interface, so the orchestrator runs a procedure intent like any other: the
identity gate before its steps, its allow-list (exactly the tools the procedure names, plus those of the
procedures it starts and of its extractors), slot questions answered through ``on_slot``, writes proposed and
committed only through the engine's confirmation path (``PendingAction``, "네", ``on_confirmed``).

Where the procedure stands — the procedure, the instruction and its variables — lives in the step's slots under
``_procedure`` (``POSITION_KEY``), which the conversation state stores between turns (the awaited slot's step,
the pending proposal's step, the queued continuation), so a restarted process resumes mid-procedure.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from pydantic import BaseModel

from sangdam.agents.base import Agent, AgentContext, Outcome, ToolNotAllowed, _mask_tree
from sangdam.agents.common import SLOT_ARGS
from sangdam.orchestrator.blackboard import MissingResult
from sangdam.orchestrator.format import say
from sangdam.orchestrator.state import PendingAction, Step
from sangdam.orchestrator import dialogue
from sangdam.procedures.extractors import EXTRACTOR_TOOLS, FROM_REQUEST, customer_lines, get_extractor, line_value, named_line
from sangdam.procedures.functions import FunctionError, function_tools, get_function
from sangdam.procedures.loader import ProcedureError, load_procedures
from sangdam.procedures.models import Instr, Program, Template, Text
from sangdam.procedures.template import MISSING, TemplateError, fill_args, holds, lookup, render, render_template
from sangdam.tools.base import ToolError

log = logging.getLogger(__name__)

POSITION_KEY = "_procedure"
MAX_INSTRUCTIONS_PER_TURN = 500  # a procedure that jumps in circles without asking anything stops here
BACKEND_FAULTS = frozenset({"backend_unavailable", "backend_outcome_unknown"})
ENGINE_OPS = frozenset({"ask", "propose", "handoff", "start"})  # steps that wait for the customer or hand over
DONE_DEFAULT = "요청하신 내용을 처리했습니다."
BROKEN_KO = ("죄송합니다. 요청을 처리하는 중에 문제가 생겨 지금은 안내해 드리기 어렵습니다. "
             "상담사 연결을 원하시면 \"상담사 연결\"이라고 말씀해 주세요.")


class ProcedureRuntimeError(RuntimeError):
    """A procedure that cannot go on (a field without a value, a jump with no end): names the file and step."""


class ProcedureAgent(Agent):
    """Runs procedure ``procedure`` (and those it starts). One instance per procedure: ``procedure:<name>``."""

    intents: tuple[str, ...] = ()

    def __init__(self, procedure: str, agents: dict[str, Agent] | None = None) -> None:
        self.procedure = procedure
        self.name = f"procedure:{procedure}"  # type: ignore[misc]
        self.agents = agents if agents is not None else {}

    # -- what the engine reads ------------------------------------------------------------------------------------
    def _program(self, name: str | None = None) -> Program:
        try:
            return load_procedures(strict=False)[name or self.procedure]
        except KeyError:  # the file was removed while a conversation was in it
            raise ProcedureRuntimeError(f"procedure {name or self.procedure!r} is no longer defined") from None

    def _closure(self) -> list[Program]:
        """This procedure and every procedure it starts (directly or not)."""
        from sangdam.orchestrator.intents import _BUILTIN_AGENTS, _registry

        programs = load_procedures(strict=False)
        intents = _registry(strict=False).by_name
        seen: dict[str, Program] = {}
        todo = [self.procedure]
        while todo:
            name = todo.pop()
            if name in seen or name not in programs:
                continue
            seen[name] = programs[name]
            for target in programs[name].starts:
                if target in programs:
                    todo.append(target)
                elif target in intents:
                    todo.append(intents[target].procedure)
                elif target in _BUILTIN_AGENTS:
                    continue
        return list(seen.values())

    def _started_builtins(self) -> list[str]:
        from sangdam.orchestrator.intents import _BUILTIN_AGENTS

        return [t for p in self._closure() for t in p.starts if t in _BUILTIN_AGENTS]

    @property
    def tools(self) -> tuple[str, ...]:  # type: ignore[override]
        """The allow-list: the tools the procedure (and what it starts) names, and those its extractors read."""
        names: list[str] = []
        for program in self._closure():
            names.extend(program.tools)
            for extractor in program.extractors:
                names.extend(EXTRACTOR_TOOLS.get(extractor, ()))
            for function in program.functions:
                names.extend(function_tools(function))
        return tuple(dict.fromkeys(names))

    @property
    def needs_customer(self) -> bool:  # type: ignore[override]
        from sangdam.orchestrator.intents import agent_for

        if any(p.identity in ("required", "when") for p in self._closure()):  # "when": some requests do
            return True
        return any(getattr(self.agents.get(agent_for(i)), "needs_customer", True) for i in self._started_builtins())

    def needs_identity(self, step: Step, ctx: AgentContext) -> bool:
        """Whether this request needs a verified customer first. ``identity: when``: the procedure's function
        decides from the request ("제 요금제 뭐예요?" does, "5G 라이트 얼마예요?" does not)."""
        program = self._program()
        others = [p for p in self._closure() if p.name != program.name]
        if program.identity != "when" or any(p.identity in ("required", "when") for p in others):
            return self.needs_customer
        from sangdam.orchestrator.intents import agent_for

        if any(getattr(self.agents.get(agent_for(i)), "needs_customer", True) for i in self._started_builtins()):
            return True
        try:
            decide = get_function(str(program.identity_when))
        except KeyError:  # not registered (logged): the safe side
            log.error("%s: identity_when: function %r is not registered", program.file, program.identity_when)
            return True
        return bool(decide(ctx, {"text": step.text}))

    # -- the agent interface ------------------------------------------------------------------------------------
    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        ctx.step = step  # the running step: a function reads what it depends on (``Blackboard.inputs``)
        pos = _position(step, self.procedure)
        slots = pos["vars"].setdefault("slots", {})
        # values the step brings (a correction re-runs the proposing step with new slot values; "4444도 똑같이 해
        # 주세요" starts again with the previous ones): an `ask` of such a slot takes it without asking
        fresh = POSITION_KEY not in step.slots
        prefilled = {key for key in step.slots if key not in (POSITION_KEY, "line_id")} if fresh else set()
        for key, value in step.slots.items():
            if key != POSITION_KEY:
                slots[key] = value
        if step.slots.get("line_id"):  # a line named since ("0013 회선이요"): the line slots follow it
            for key, value in list(slots.items()):
                if isinstance(value, dict) and "last4" in value and value.get("id") != step.slots["line_id"]:
                    hit = [ln for ln in customer_lines(ctx) if ln["id"] == step.slots["line_id"]]
                    if hit:
                        slots[key] = line_value(hit[0])
                        prefilled |= self._rewind_to(pos, key)
        _add_facts(ctx, pos)
        corrected = {} if fresh else self._corrected(step, pos)
        try:
            return self._run(step, ctx, pos, [], prefilled, corrected)
        except ProcedureRuntimeError as err:  # the procedure's mistake: logged for the operator, never a crash
            log.error("procedure %s stopped: %s", pos.get("name"), err)
            return Outcome(messages=[BROKEN_KO])

    def _corrected(self, step: Step, pos: dict[str, Any]) -> dict[str, Any]:
        """A correction of a waiting proposal ("아시아 말고 일본 3일로 해주세요") re-runs its ``propose`` step with
        the corrected arguments: the values the step brings, by argument name (``pass_id``), replace what the step's
        ``args`` would give (a value the procedure computed or picked earlier)."""
        try:
            program = self._program(pos["name"])
        except ProcedureRuntimeError:
            return {}
        instr = program.instrs[pos["pc"]] if pos["pc"] < len(program.instrs) else None
        if instr is None or instr.op != "propose" or instr.step is None or instr.step.each:
            return {}
        return {k: v for k, v in step.slots.items() if k != POSITION_KEY and k in instr.step.args}

    def _rewind_to(self, pos: dict[str, Any], slot: str) -> set[str]:
        """Another line than the one the procedure went on with: it goes on again from the step after the line's
        `ask` (its checks, "already off", "already suspended", are made for the new line, as a Python agent re-runs
        them). Returns the slots asked since, which keep their answers (asked again only when they have none)."""
        try:
            program = self._program(pos["name"])
        except ProcedureRuntimeError:
            return set()
        for pc, instr in enumerate(program.instrs):
            if instr.op == "ask" and instr.step is not None and instr.step.ask == slot and pc < pos["pc"]:
                answered = {str(i.step.ask) for i in program.instrs[pc + 1:pos["pc"]]
                            if i.op == "ask" and i.step is not None}
                pos["pc"] = pc + 1
                return answered
        return set()

    def on_slot(self, step: Step, slot: str, ctx: AgentContext) -> Step | None:
        pos = step.slots.get(POSITION_KEY)
        if not pos:
            return None
        pos = copy.deepcopy(pos)
        try:
            program = self._program(pos["name"])
        except ProcedureRuntimeError as err:
            log.error("%s", err)
            return None
        instr = program.instrs[pos["pc"]] if pos["pc"] < len(program.instrs) else None
        if instr is None or instr.op != "ask" or instr.step is None or instr.step.ask != slot:
            return None
        if instr.step.options:
            options = lookup(pos["vars"], instr.step.options)
            value = _choose(ctx.text, options)
            if value is None and isinstance(options, list) and len(options) == 1 and dialogue.leads_with_yes(ctx.text):
                value = options[0]  # "네" to a list of one: that one
        else:
            value = get_extractor(instr.step.extractor or "text")(ctx, ctx.text)
        if value is None:
            return None
        pos["vars"].setdefault("slots", {})[slot] = value
        if (instr.step.extractor or "text") in EXTRACTOR_TOOLS:
            pos.setdefault("fact_slots", []).append(slot)
        pos["pc"] += 1
        slots = {POSITION_KEY: pos, **_line_of(step, instr, value)}
        if instr.step.adds_to_request:  # what the answer says beyond the slot is read by the steps after it
            return step.model_copy(update={"slots": slots, "text": f"{step.text} {ctx.text}".strip()})
        return step.model_copy(update={"slots": slots})

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        assert pending.step is not None
        pos = copy.deepcopy(pending.step.slots[POSITION_KEY])
        try:
            program = self._program(pos["name"])
        except ProcedureRuntimeError as err:  # the write ran; only what follows it is lost
            log.error("%s", err)
            return Outcome(messages=[DONE_DEFAULT])
        instr = program.instrs[pos["pc"]]
        _add_facts(ctx, pos)
        if instr.op == "handoff":
            return Outcome(messages=[say("handoff.done", ticket=results[0].ticket_id)], handoff=True)
        assert instr.step is not None
        name = instr.step.save_as or str(instr.step.propose)
        if instr.step.each:  # one call per item: the results in the items' order
            pos["vars"][name] = [_dump(r, ctx) for r in results]
        else:
            pos["vars"][name] = _dump(results[0], ctx) if results else None
        pos.setdefault("facts", []).append(name)
        messages: list[str] = []
        # handed to a person when the result says so (a cancellation request goes on with a human agent)
        handoff = instr.step.hands_off is not None and lookup(pos["vars"], instr.step.hands_off) is True
        if instr.step.done_ko:
            try:
                messages.append(self._text(program, instr, instr.step.done_ko, pos["vars"]))
            except ProcedureRuntimeError as err:
                log.error("procedure %s: %s", pos.get("name"), err)
                messages.append(DONE_DEFAULT)
        pos["pc"] += 1
        # what follows without asking or proposing anything (a say, a computation on the results: "회선의 정지가
        # 해제되었습니다") is said now, right after the done text, as a Python agent's on_confirmed says it
        self._run_inline(pending.step, ctx, pos, messages)
        if pos["pc"] < len(program.instrs):  # the rest runs through the engine, after this reply's "done" text
            # with the values it ran with, as the task a next "4444도 똑같이 해 주세요" repeats (state.last_task)
            values = {k: v for call in pending.calls[:1] for k, v in call.args.items() if k in SLOT_ARGS}
            ctx.state.queue = [pending.step.model_copy(update={"slots": {**values, POSITION_KEY: pos}}),
                               *ctx.state.queue]
        elif not messages:
            messages.append(DONE_DEFAULT)
        return Outcome(messages=messages, handoff=handoff)

    def _run_inline(self, step: Step, ctx: AgentContext, pos: dict[str, Any], messages: list[str]) -> None:
        """Run the steps after a commit up to the first that needs the engine (an ask, a proposal, a handoff, a
        start; ``pos`` then points at it) or the end (``pos`` past the program). A step the backend could not
        answer is left to the engine too."""
        program = self._program(pos["name"])
        try:
            outcome = self._run(step.model_copy(update={"slots": {POSITION_KEY: pos}}), ctx, pos, messages, inline=True)
        except ToolError as err:  # the backend is down: the engine keeps the rest where it was
            if err.code not in BACKEND_FAULTS:
                raise
            return
        except ProcedureRuntimeError as err:
            log.error("procedure %s stopped: %s", pos.get("name"), err)
            pos["pc"] = len(program.instrs)
            return
        messages[:] = outcome.messages  # with a refusal's message, when a step was refused
        stopped = program.instrs[pos["pc"]] if pos["pc"] < len(program.instrs) else None
        if stopped is None or stopped.op not in ENGINE_OPS:
            pos["pc"] = len(program.instrs)  # it ended (an `end`, a refusal said): nothing is left to run

    # -- the runner ------------------------------------------------------------------------------------------------
    def _run(self, step: Step, ctx: AgentContext, pos: dict[str, Any], messages: list[str],
             prefilled: set[str] | None = None, corrected: dict[str, Any] | None = None, *,
             inline: bool = False) -> Outcome:
        program = self._program(pos["name"])
        variables = pos["vars"]
        variables["customer"] = {"verified": ctx.customer_id is not None}
        variables["request"] = {"text": step.text or ctx.text, "intent": step.intent, "silent": step.silent}
        variables["today"] = ctx.today.isoformat()
        for _ in range(MAX_INSTRUCTIONS_PER_TURN):
            if pos["pc"] >= len(program.instrs):
                return Outcome(messages=messages)
            instr = program.instrs[pos["pc"]]
            s = instr.step
            assert s is not None
            op = instr.op
            if inline and op in ENGINE_OPS:  # after a commit: what asks or proposes runs through the engine
                return Outcome(messages=messages)
            if op == "say":
                if not step.silent and (s.when is None or s.each or holds(s.when, variables)):
                    # (a silent step, a prerequisite of another step, gathers facts and says nothing)
                    messages.extend(self._say(program, instr, variables))
                pos["pc"] += 1
            elif op == "ask":
                outcome = self._ask(step, ctx, pos, program, instr, messages, prefilled or set())
                if outcome is not None:
                    return outcome
            elif op == "call":
                try:
                    args = self._args(program, instr, variables)
                    result = ctx.call(str(s.call), **args)
                except ToolError as err:
                    jump = self._on_error(program, instr, err, pos)
                    if jump is None:
                        return Outcome(messages=[*messages, err.message_ko])
                    continue
                name = s.save_as or str(s.call)
                variables[name] = _dump(result, ctx)
                pos.setdefault("facts", []).append(name)
                if s.produce:
                    ctx.blackboard.produce(step.intent, result)
                pos["pc"] += 1
            elif op == "compute":
                try:
                    args = self._args(program, instr, variables)
                    result = self._compute(program, instr, ctx, args)
                except MissingResult:  # a result it needs is absent: the step fails as a step (the engine
                    raise                # says what could not be done), as a Python agent's would
                except ToolError as err:
                    jump = self._on_error(program, instr, err, pos)
                    if jump is None:
                        return Outcome(messages=[*messages, err.message_ko])
                    continue
                name = s.save_as or str(s.compute)
                variables[name] = _dump(result, ctx)
                ctx.blackboard.add_fact(variables[name])  # computed in code from tool results: a fact
                pos.setdefault("facts", []).append(name)
                if s.produce:
                    ctx.blackboard.produce(step.intent, variables[name])
                pos["pc"] += 1
            elif op == "branch":
                branch = s.branch
                assert branch is not None
                target = next((c.goto for c in branch.cases if holds(c, variables, branch.on)), branch.else_)
                pos["pc"] = pos["pc"] + 1 if target is None else _target(program, target)
            elif op == "propose":
                items = _items(s.each, variables) if s.each else [None]
                calls: list[tuple[str, dict[str, Any]]] = []
                previews: list[Any] = []
                try:
                    for item in items:  # every rule checked for every call before anything is proposed
                        args = self._args(program, instr, {**variables, "item": item} if s.each else variables)
                        if corrected:  # a correction's values, by argument name (``_corrected``)
                            args, corrected = {**args, **corrected}, None
                        previews.append(ctx.propose(str(s.propose), **args))
                        calls.append((str(s.propose), args))
                except ToolError as err:
                    jump = self._on_error(program, instr, err, pos)
                    if jump is None:
                        return Outcome(messages=[*messages, err.message_ko])
                    continue
                if not calls:  # nothing to propose (an empty list): the step is skipped
                    pos["pc"] += 1
                    continue
                effects = [p.effect for p in previews]
                summary = (self._text(program, instr, s.summary_ko,
                                      {**variables, "preview": effects if s.each else effects[0]})
                           if s.summary_ko else "\n".join(p.summary_ko for p in previews))
                return self._proposal(step, ctx, pos, calls, summary, messages)
            elif op == "handoff":
                from sangdam.agents.conversation import handoff_summary

                args = {"summary": handoff_summary(ctx)}
                ctx.propose("transfer_to_human", **args)
                text = (self._text(program, instr, s.handoff, variables) if isinstance(s.handoff, str)
                        else say("handoff.proposal"))
                return self._proposal(step, ctx, pos, [("transfer_to_human", args)], text, messages)
            elif op == "start":
                started = self._start(step, ctx, pos, str(s.start), messages)
                if started is not None:
                    return started
                program, variables = self._program(pos["name"]), pos["vars"]
            elif op == "goto":
                pos["pc"] = _target(program, str(s.goto))
            elif op == "end":
                return Outcome(messages=messages)
            elif op == "loop_start":
                self._loop_start(program, instr, pos)
            elif op == "loop_end":
                self._loop_end(program, instr, pos)
            else:  # pragma: no cover - compiled programs hold only the ops above
                raise ProcedureRuntimeError(f"{program.file}: {instr.where}: unknown instruction {op!r}")
        raise ProcedureRuntimeError(f"{program.file}: ran {MAX_INSTRUCTIONS_PER_TURN} steps without asking the "
                                    "customer anything (a goto or loop without an end?)")

    def _ask(self, step: Step, ctx: AgentContext, pos: dict[str, Any], program: Program, instr: Instr,
             messages: list[str], prefilled: set[str]) -> Outcome | None:
        s = instr.step
        assert s is not None and s.ask is not None
        extractor = s.extractor or "text"
        slots = pos["vars"].setdefault("slots", {})
        value = None
        first = pos.get("asked_from_request") is None or s.ask not in pos["asked_from_request"]
        extra: dict[str, Any] = {}
        if s.ask in prefilled and slots.get(s.ask) is not None:  # brought by the step (a repeat, a correction)
            prefilled.discard(s.ask)
            value = slots[s.ask]
        elif extractor == "line":
            lines = customer_lines(ctx)
            preferred = [ln for ln in lines if ln.get("status") in (s.prefer_status or ())] or lines
            given = [ln for ln in lines if slots.get("line_id") and ln["id"] == slots["line_id"]]
            if given:  # the engine resolved it already (the customer named one of their own numbers)
                value = line_value(given[0])
            elif len(preferred) == 1:  # one line (in the preferred states): nothing to ask
                value = line_value(preferred[0])
            elif first and step.text and (named := named_line(ctx, step.text, preferred)) is not None:
                value = line_value(named)
            extra["choices"] = ", ".join(say("slots.line_item", last4=line_value(ln)["last4"], plan=ln.get("plan_name"))
                                         for ln in lines)
        elif s.options is not None:  # a pick from a list the procedure holds ("두 번째 걸로", "아시아 5일")
            if first and step.text:
                value = _choose(step.text, lookup(pos["vars"], s.options))
        elif extractor in FROM_REQUEST and first and step.text:
            value = get_extractor(extractor)(ctx, step.text)
        if first:
            pos.setdefault("asked_from_request", []).append(s.ask)
        if value is not None:
            slots[s.ask] = value
            if extractor in EXTRACTOR_TOOLS:  # read from a tool result: a fact, like one
                pos.setdefault("fact_slots", []).append(s.ask)
            step.slots.update(_line_of(step, instr, value))
            pos["pc"] += 1
            return None
        messages.append(self._text(program, instr, s.question_ko or "", {**pos["vars"], **extra}))
        kept = _line_of(step, instr, None)
        step.slots.clear()
        step.slots[POSITION_KEY] = pos  # the engine keeps this step as the awaited one
        step.slots.update(kept)
        return Outcome(messages=messages, ask_slot=s.ask, ask_holds=s.holds is not False,
                       options=_option_names(lookup(pos["vars"], s.options)) if s.options else [])

    def _proposal(self, step: Step, ctx: AgentContext, pos: dict[str, Any], calls: list[tuple[str, dict[str, Any]]],
                  summary: str, messages: list[str]) -> Outcome:
        proposing = step.model_copy(update={"slots": {POSITION_KEY: copy.deepcopy(pos)}}, deep=True)
        pending = ctx.pending(proposing, calls, summary)
        return Outcome(messages=[*messages, summary], proposal=pending)

    def _start(self, step: Step, ctx: AgentContext, pos: dict[str, Any], target: str,
               messages: list[str]) -> Outcome | None:
        """Continue with another procedure (its variables fresh, the slots kept), or hand the step to the
        built-in intent's agent (what it asks or proposes is then that agent's)."""
        from sangdam.orchestrator.intents import _BUILTIN_AGENTS, _registry, agent_for

        programs = load_procedures(strict=False)
        intents = _registry(strict=False).by_name
        name = target if target in programs else (intents[target].procedure if target in intents else None)
        if name is not None:
            turn = {k: pos["vars"][k] for k in ("customer", "request", "today") if k in pos["vars"]}  # the turn's own
            pos.update(name=name, pc=0, vars={"slots": dict(pos["vars"].get("slots", {})), **turn}, facts=[])
            return None
        if target not in _BUILTIN_AGENTS:
            raise ProcedureRuntimeError(f"{self._program(pos['name']).file}: start: {target!r} is unknown")
        agent = self.agents[agent_for(target)]
        delegated = Step(agent=agent.name, intent=target, text=step.text)
        ctx.allowed = frozenset(agent.tools)
        outcome = agent.handle(delegated, ctx)
        # the engine keeps ``step`` when the agent asks: from now on it is the built-in agent's step
        step.agent, step.intent, step.slots = delegated.agent, delegated.intent, delegated.slots
        return Outcome(messages=[*messages, *outcome.messages], proposal=outcome.proposal,
                       ask_slot=outcome.ask_slot, options=outcome.options, handoff=outcome.handoff)

    def _loop_start(self, program: Program, instr: Instr, pos: dict[str, Any]) -> None:
        assert instr.loop is not None and instr.loop_id is not None
        items = _items(instr.loop.over, pos["vars"])
        if items is not None and not items:
            pos["pc"] = instr.exit_pc
            return
        state = {"index": 1, "item": items[0] if items else None}
        pos["vars"].setdefault("_loops", {})[instr.loop_id] = state
        pos["vars"]["loop"] = state
        pos["pc"] += 1

    def _loop_end(self, program: Program, instr: Instr, pos: dict[str, Any]) -> None:
        assert instr.loop is not None and instr.loop_id is not None
        loops = pos["vars"].setdefault("_loops", {})
        state = loops.get(instr.loop_id) or {"index": 1, "item": None}
        if instr.loop.until is not None and holds(instr.loop.until, pos["vars"]):
            loops.pop(instr.loop_id, None)
            pos["pc"] = instr.exit_pc
            return
        items = _items(instr.loop.over, pos["vars"])
        limit = min(instr.loop.max, len(items)) if items is not None else instr.loop.max
        if state["index"] < limit:
            state = {"index": state["index"] + 1, "item": items[state["index"]] if items else None}
            loops[instr.loop_id] = state
            pos["vars"]["loop"] = state
            pos["pc"] = instr.body_start
            return
        loops.pop(instr.loop_id, None)
        pos["pc"] = instr.else_pc if instr.else_pc is not None else instr.exit_pc

    def _on_error(self, program: Program, instr: Instr, err: ToolError, pos: dict[str, Any]) -> int | None:
        s = instr.step
        assert s is not None
        label = s.on_error.get(err.code) or (s.on_error.get("any") if err.code not in BACKEND_FAULTS else None)
        if label is None:
            if err.code in BACKEND_FAULTS:
                raise err  # the engine keeps the dialogue where it was and says the system is unavailable
            return None
        pos["vars"]["error"] = {"code": err.code, "message_ko": err.message_ko}
        pos["pc"] = _target(program, label)
        return pos["pc"]

    def _args(self, program: Program, instr: Instr, variables: dict[str, Any]) -> dict[str, Any]:
        assert instr.step is not None
        try:
            return fill_args(instr.step.args, variables)
        except TemplateError as err:
            raise ProcedureRuntimeError(f"{program.file}: {instr.where}.args: {err}") from None

    def _text(self, program: Program, instr: Instr, text: Text, variables: dict[str, Any]) -> str:
        """Korean text written out in the procedure or by template reference, its fields filled."""
        try:
            if isinstance(text, list):  # parts of one message, joined by a space (an empty part left out); a
                out = ""              # template part with `each` puts its lines (one per item) on lines of their own
                for t in text:
                    part = self._text(program, instr, t, variables)
                    if part:
                        sep = "\n" if isinstance(t, Template) and t.each is not None else " "
                        out = f"{out}{sep}{part}" if out else part
                return out
            if isinstance(text, Template):
                if text.each is not None:  # one line per item
                    return "\n".join(render_template(text.template, text.args, {**variables, "item": item},
                                                      program.labels) for item in _items(text.each, variables) or [])
                return render_template(text.template, text.args, variables, program.labels)
            return render(text, variables, program.labels)
        except (TemplateError, KeyError, IndexError) as err:
            raise ProcedureRuntimeError(f"{program.file}: {instr.where}: {err}") from None

    def _say(self, program: Program, instr: Instr, variables: dict[str, Any]) -> list[str]:
        """A ``say`` step's messages: one, or one per item of its ``each`` list."""
        s = instr.step
        assert s is not None and s.say is not None
        if not s.each:
            return [self._text(program, instr, s.say, variables)]
        items = [{**variables, "item": item} for item in _items(s.each, variables) or []]
        return [self._text(program, instr, s.say, v) for v in items if s.when is None or holds(s.when, v)]

    def _compute(self, program: Program, instr: Instr, ctx: AgentContext, args: dict[str, Any]) -> Any:
        assert instr.step is not None and instr.step.compute is not None
        name = instr.step.compute
        try:
            fn = get_function(name)
        except KeyError:
            raise ProcedureRuntimeError(f"{program.file}: {instr.where}: function {name!r} is not registered") from None
        try:
            return fn(ctx, args)
        except (FunctionError, ToolNotAllowed) as err:  # the function's mistake: the step cannot go on
            raise ProcedureRuntimeError(f"{program.file}: {instr.where}: {name}: {err}") from None


def _position(step: Step, procedure: str) -> dict[str, Any]:
    pos = step.slots.get(POSITION_KEY)
    if pos:
        return copy.deepcopy(pos)
    return {"name": procedure, "pc": 0, "vars": {"slots": {}}, "facts": []}


def _line_of(step: Step, instr: Instr, value: Any) -> dict[str, Any]:
    """The step's ``line_id`` slot, as a Python agent sets it: the line an ``ask`` with the ``line`` extractor
    found (``value``), else the one the step held (the engine shares it with the steps that read this step's
    result, and a repeat "한 번 더" reads it from the task remembered)."""
    if instr.step is not None and instr.step.extractor == "line":
        return {"line_id": value["id"]} if isinstance(value, dict) and value.get("id") else {}
    return {"line_id": step.slots["line_id"]} if step.slots.get("line_id") else {}


def _add_facts(ctx: AgentContext, pos: dict[str, Any]) -> None:
    """Results of earlier turns (and slots read from tool results) are facts this turn may state."""
    variables = pos["vars"]
    facts = {k: variables.get(k) for k in pos.get("facts", [])}
    facts.update({f"slots.{k}": variables.get("slots", {}).get(k) for k in pos.get("fact_slots", [])})
    if facts:
        ctx.blackboard.add_fact(facts)


def _target(program: Program, label: str) -> int:
    return len(program.instrs) if label == "end" else program.label_pc[label]


def _items(over: Any, variables: dict[str, Any]) -> list[Any] | None:
    if over is None:
        return None
    if isinstance(over, list):
        return over
    found = lookup(variables, over)
    return list(found) if isinstance(found, list) else []


def _choose(text: str, options: Any) -> Any:
    """The item of ``options`` (dicts with ``name``, listed in the order shown) that ``text`` names, by name or by
    position ("두 번째 걸로", "제일 싼 거": the list order); None when it names none."""
    if not isinstance(options, list) or not options:
        return None
    named = dialogue.match_by_name(text, [o for o in options if isinstance(o, dict) and o.get("name")])
    if named:
        return named[0]
    index = dialogue.listed_position(text, len(options))
    return options[index] if index is not None else None


def _option_names(options: Any) -> list[dict[str, Any]]:
    """The options an ``ask`` offers, as the dialogue state keeps them (id and name: the chat shows buttons)."""
    if not isinstance(options, list):
        return []
    return [{"id": o.get("id"), "name": o.get("name")} for o in options if isinstance(o, dict) and o.get("name")]


def _dump(result: Any, ctx: AgentContext) -> Any:
    """A tool result as plain data, PII fields masked (the procedure's variables are stored with the state)."""
    data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    return _mask_tree(data, ctx.mask)


class ProcedureBackedAgent(Agent):
    """A built-in sub-agent some of whose intents are served by packaged procedures (``serves:``): the intent keeps
    its agent name (the taxonomy contract), its steps run the procedure; the agent's other intents, and everything
    else it does, stay its own."""

    def __init__(self, base: Agent, procedures: dict[str, ProcedureAgent] | None = None) -> None:
        self.base = base
        self.by_intent: dict[str, ProcedureAgent] = dict(procedures or {})
        self.name = base.name  # type: ignore[misc]
        self.intents = base.intents  # type: ignore[misc]

    @property
    def tools(self) -> tuple[str, ...]:  # type: ignore[override]
        names = list(self.base.tools)
        for agent in self.by_intent.values():
            names.extend(agent.tools)
        return tuple(dict.fromkeys(names))

    @property
    def needs_customer(self) -> bool:  # type: ignore[override]
        return self.base.needs_customer

    def _procedure(self, step: Step | None) -> ProcedureAgent | None:
        return self.by_intent.get(step.intent) if step is not None else None

    def needs_identity(self, step: Step, ctx: AgentContext) -> bool:
        agent = self._procedure(step)
        return agent.needs_identity(step, ctx) if agent is not None else self.base.needs_identity(step, ctx)

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        agent = self._procedure(step)
        if agent is None:
            return self.base.handle(step, ctx)
        before = getattr(self.base, "before_procedure", None)
        if before is not None and POSITION_KEY not in step.slots:  # a request the agent answers itself (a status
            outcome = before(step, ctx)                              # question routed to a write intent)
            if outcome is not None:
                return outcome
        ctx.allowed = frozenset(agent.tools)  # the procedure's own allow-list
        return agent.handle(step, ctx)

    def on_slot(self, step: Step, slot: str, ctx: AgentContext) -> Step | None:
        agent = self._procedure(step)
        if agent is not None and POSITION_KEY in step.slots:
            return agent.on_slot(step, slot, ctx)
        return self.base.on_slot(step, slot, ctx)

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        agent = self._procedure(pending.step)
        if agent is not None and pending.step is not None and POSITION_KEY in pending.step.slots:
            return agent.on_confirmed(pending, results, ctx)
        return self.base.on_confirmed(pending, results, ctx)

    def __getattr__(self, name: str) -> Any:  # what only the built-in agent has (offer, …)
        return getattr(self.__dict__["base"], name)


class _Unserved(Agent):
    """The agent name of built-in intents that are all served by procedures (the taxonomy keeps the name)."""

    def __init__(self, name: str) -> None:
        from sangdam.orchestrator.intents import AGENT_FOR_INTENT

        self.name = name  # type: ignore[misc]
        self.intents = tuple(i for i, a in AGENT_FOR_INTENT.items() if a == name)  # type: ignore[misc]

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:  # its procedure was not loaded (logged)
        return Outcome(messages=[BROKEN_KO])

    def on_slot(self, step: Step, slot: str, ctx: AgentContext) -> Step | None:
        """The engine's own "which line?" (another person's line was named) asked before the procedure ran."""
        from sangdam.agents.common import fill_line_slot

        return fill_line_slot(step, ctx) if slot == "line" else None

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        """A proposal stored by a version whose Python agent served the intent (its step has no procedure
        position): the agreed writes ran; the reply says so in general terms (their results are facts of the turn,
        shown in the trace and the console)."""
        return Outcome(messages=[DONE_DEFAULT])


def serve_builtin_intents(agents: dict[str, Agent]) -> None:
    """Hand the built-in intents that packaged procedures serve (``serves:``) to those procedures."""
    from sangdam.orchestrator.intents import AGENT_FOR_INTENT

    try:
        programs = load_procedures(strict=False)
    except ProcedureError as err:
        log.error("procedures not loaded: %s", err)
        return
    for program in programs.values():
        for intent in program.serves:
            owner = AGENT_FOR_INTENT[intent]
            if owner not in agents:  # every intent of the agent is a procedure: no Python agent at all
                agents[owner] = ProcedureBackedAgent(_Unserved(owner))
            wrapper = agents[owner]
            if not isinstance(wrapper, ProcedureBackedAgent):
                wrapper = agents[owner] = ProcedureBackedAgent(wrapper)
            wrapper.by_intent[intent] = ProcedureAgent(program.name, agents)


def all_procedure_agents(agents: dict[str, Agent]) -> dict[str, Agent]:
    """A ``ProcedureAgent`` for every loaded procedure (a broken file is logged; the others still load)."""
    try:
        names = list(load_procedures(strict=False))
    except ProcedureError as err:
        log.error("procedures not loaded: %s", err)
        return {}
    return {f"procedure:{n}": ProcedureAgent(n, agents) for n in names}


__all__ = ["MISSING", "POSITION_KEY", "ProcedureAgent", "ProcedureBackedAgent", "ProcedureRuntimeError",
           "all_procedure_agents", "serve_builtin_intents"]
