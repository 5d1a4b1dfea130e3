"""The orchestrator: one customer turn, end to end.

    mask PII → (pending confirmation | identity answer | slot answer | route → plan)
    → run steps through sub-agents (shared blackboard) → proactive notices → compose → verify → persist + trace

The same object serves the HTTP server, the CLI chat and the evaluation runner.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlalchemy import Engine

from sangdam.agents import build_agents
from sangdam.agents.base import AgentContext, Outcome
from sangdam.agents.common import foreign_target
from sangdam.config import get_settings
from sangdam.contact_center.escalation import Escalation, record_turn_signal
from sangdam.orchestrator import dialogue, identity
from sangdam.orchestrator.blackboard import Blackboard
from sangdam.orchestrator.followups import BACKEND_FAULTS, FollowUps
from sangdam.korean.particles import attach
from sangdam.orchestrator.format import say
from sangdam.orchestrator.intents import NON_TASK_INTENTS
from sangdam.orchestrator.planner import plan
from sangdam.orchestrator.privacy import Privacy
from sangdam.orchestrator.responder import Responder
from sangdam.orchestrator.state import Awaiting, PendingAction, Step
from sangdam.orchestrator.store import ConversationStore
from sangdam.orchestrator.turn import Turn, elapsed_ms
from sangdam.orchestrator.turn_lock import TurnLock
from sangdam.orchestrator.types import ToolCallRecord, TurnResult
from sangdam.tools.base import ToolError

MAX_MESSAGE_CHARS = 2000
# Agents whose work concerns the customer's account: only after these are proactive notices relevant.
ACCOUNT_AGENTS = frozenset({"billing", "plans", "data", "roaming", "tech_support", "line", "contract"})


class InvalidMessage(ValueError):
    """A customer message the orchestrator refuses to process (empty, too long)."""

    def __init__(self, code: str, message_en: str, message_ko: str) -> None:
        super().__init__(message_en)
        self.code, self.message_en, self.message_ko = code, message_en, message_ko


class Orchestrator(FollowUps):
    """Routes, plans, runs sub-agents with tools, checks the reply, and persists the conversation."""

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        today: dt.date | None = None,
        llm: Any = None,
        kb_name: str = "default",
        router: Any = None,
        backend: Any = None,
        generator: Any = None,
    ) -> None:
        from sangdam.backends import backend_for
        from sangdam.domain.db import get_engine

        self.engine = engine or get_engine()  # Sangdam's own store
        self.backend = backend if backend is not None else backend_for(self.engine)  # the operator's systems
        self._today = today
        self.llm = llm
        self.kb_name = kb_name
        self._router = router
        self._generator = generator  # understanding: message → commands (understanding/generators.py)
        self.store = ConversationStore(self.engine)
        self.privacy = Privacy()
        self.agents = build_agents(kb_name=kb_name, llm=llm)
        self.responder = Responder(self.backend, llm=llm)
        agentic = _agentic_agent(llm, self.responder, kb_name)  # a model trusted to plan and call tools (docs/agent.md)
        if agentic is not None:
            self.agents[agentic.name] = agentic
        # One turn per conversation at a time: across worker processes on PostgreSQL (advisory lock), every turn
        # of the process on SQLite (one writer). See turn_lock.py.
        self.turn_lock = TurnLock(self.engine)
        # sentiment and escalation per customer turn: decided before composing, stored with the turn
        self.escalation = Escalation(self.engine, self.agents["handoff"])
        self.store.turn_hooks.append(record_turn_signal)

    # -- public API -------------------------------------------------------------------------------------
    @property
    def today(self) -> dt.date:
        return self._today or get_settings().today_date()

    @property
    def router(self) -> Any:
        if self._router is None:
            from sangdam.orchestrator.router import get_router

            self._router = get_router(fallback=_llm_fallback(self.llm))
        return self._router

    @property
    def generator(self) -> Any:
        """The command generator: the classifier, combined with the LLM for a profile trusted to decide intents
        (then the router's own LLM fallback is not asked as well)."""
        if self._generator is None:
            from sangdam.understanding.generators import default_generator

            llm = self.llm if _llm_fallback(self.llm) is not None else None
            if llm is not None and self._router is None:
                from sangdam.orchestrator.router import get_router

                self._router = get_router()  # the classifier alone: the LLM generator is asked when unsure
            self._generator = default_generator(llm, router=self.router)
        return self._generator

    def start_conversation(self, customer_id: str | None = None, channel: str = "api") -> str:
        """Open a conversation; ``customer_id`` is set when the channel already authenticated the customer."""
        return self.store.create(customer_id=customer_id, channel=channel, now=self._now())

    def handle(self, conversation_id: str, text: str, source: str | None = None) -> TurnResult:
        """Process one customer message and return the checked reply. ``source``: where it came from (client
        address or session id), so identity checks from one source are throttled across conversations."""
        with self.turn_lock.hold(conversation_id):
            return self._handle(conversation_id, text, source)

    def _handle(self, conversation_id: str, text: str, source: str | None = None) -> TurnResult:
        t0 = time.perf_counter()
        text = (text or "").strip()
        if not text:
            raise InvalidMessage("empty_message", "message text is empty", say("errors.empty_message"))
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidMessage(
                "message_too_long",
                f"message longer than {MAX_MESSAGE_CHARS} characters",
                say("errors.message_too_long", limit=MAX_MESSAGE_CHARS),
            )
        conv, state = self.store.load(conversation_id)
        masked = self.privacy.mask(conversation_id, text, today=self.today, identifying=not state.verified_customer_id)
        state.turn_index += 1

        if conv.mode == "human":  # an agent took over: the bot stays silent, the message is kept
            self.store.save_turn(conversation_id, state, [("customer", masked)], None, self._now())
            return TurnResult(
                conversation_id=conversation_id, turn_index=state.turn_index, reply="", handed_off=True,
                trace_id="", latency_ms=round((time.perf_counter() - t0) * 1000, 3),
            )

        ctx = AgentContext(
            engine=self.engine, today=self.today, conversation_id=conversation_id, state=state, text=masked,
            blackboard=Blackboard(), tool_calls=[], mask=self.privacy.mask_only, source=source,
            phones_in=lambda masked_text: self.privacy.phones_in(conversation_id, masked_text),
            backend=self.backend,
        )
        turn = Turn(ctx=ctx)
        stage = time.perf_counter()
        before = state.model_copy(deep=True)
        try:
            self._dispatch(turn, text)
        except ToolError as err:
            if err.code not in BACKEND_FAULTS:
                raise
            _keep_dialogue(state, before)  # the operator's systems failed mid-turn: ask again where we were
            turn.messages.append(err.message_ko)
        else:
            self._resume(turn)  # a task started over an open one is done: the open one is asked again
        state.prune()
        _remember_task(state, turn.steps)
        signal = self.escalation.assess(turn)  # may append the offer of a human agent
        turn.stages["orchestrate_ms"] = elapsed_ms(stage)

        stage = time.perf_counter()
        phrase = not any(step.get("agent") == "agentic" for step in turn.steps)  # the agent's answer is model-written
        reply, verdict = self.responder.compose(turn.messages, ctx, turn.llm_calls, phrase=phrase)
        turn.stages["respond_verify_ms"] = elapsed_ms(stage)

        latency = elapsed_ms(t0)
        trace = self._trace(turn, masked, reply, verdict, latency)
        trace["signal"] = signal
        trace_id = self.store.save_turn(
            conversation_id, state, [("customer", masked), ("bot", reply)], trace, self._now(),
            mode="human" if state.handed_off and conv.mode == "bot" and _transferred(ctx.tool_calls) else None,
        )
        return TurnResult(
            conversation_id=conversation_id,
            turn_index=state.turn_index,
            reply=reply,
            intents=list(turn.route.intents) if turn.route else [],
            confidence=float(turn.route.confidence) if turn.route else 1.0,
            via=turn.route.via if turn.route else "dialogue",
            tool_calls=ctx.tool_calls,
            pending_action=state.pending.model_dump(mode="json") if state.pending else None,
            options=list(state.awaiting.options) if state.awaiting else [],
            handed_off=state.handed_off,
            verified_customer_id=state.verified_customer_id,
            verifier=verdict,
            trace_id=trace_id or "",
            latency_ms=latency,
        )

    # -- dispatch ---------------------------------------------------------------------------------------
    def _dispatch(self, turn: Turn, original: str) -> None:
        state = turn.state
        asked = state.awaiting is not None  # the last reply asked something
        if self._remember_preferences(turn):  # "앞으로 문자로 안내해 주세요": nothing else to do
            return
        if state.pending is not None and self._resolve_pending(turn):
            return
        if state.awaiting and state.awaiting.kind == "identity" and self._resolve_identity(turn, original, asked=True):
            return
        if state.awaiting and state.awaiting.kind == "slot" and self._resolve_slot(turn):
            return
        offered, state.offered = state.offered, None
        if offered is not None and not asked and state.pending is None and dialogue.takes_up(turn.ctx.text):
            # "그럼 그걸로 해 주세요" after a previewed what-if: now it is proposed (and still needs its own yes)
            self._run_steps(turn, [offered])
            return
        if not asked and dialogue.is_bare_yes_no(turn.ctx.text):  # "네"/"아니요" with nothing asked: say so
            turn.messages.append(say("confirm.nothing_no" if dialogue.is_negative(turn.ctx.text) else "confirm.nothing_yes"))
            state.awaiting = None
            return
        # identity offered together with a request ("010-… 1990-04-12인데 요금 알려줘")
        just_verified = attempted = False
        if not state.verified_customer_id and self.privacy.identity(turn.ctx.conversation_id)[0]:
            said = len(turn.messages)
            self._resolve_identity(turn, original, asked=False)
            just_verified, attempted = state.verified_customer_id is not None, len(turn.messages) > said
        identity_question = state.awaiting  # a failed attempt asks again; kept when nothing else was asked
        if turn.route is None:  # not already routed while judging an answer to a proposal
            turn.route = _route_of(self._understand(turn))
        tasks = [i for i in turn.route.intents if i not in NON_TASK_INTENTS]
        if offered is not None and not asked and state.pending is None and tasks == [offered.intent] \
                and dialogue.names_nothing(turn.ctx.text):
            # "그럼 바꿔줘" right after "5G 라이트로 바꾸면 얼마 아껴요?": that change, now proposed (its own yes follows)
            state.awaiting = None
            self._run_steps(turn, [offered])
            return
        if turn.route.via == "llm":
            turn.llm_calls.append({"role": "fast", "purpose": "route"})
        state.awaiting = None
        if attempted and NON_TASK_INTENTS.issuperset(turn.route.intents):  # only the identity was given
            turn.messages = [say("identity.ok_ask") if m == say("identity.ok") else m for m in turn.messages]
            state.awaiting = None if just_verified else identity_question
            return
        self._run_steps(turn, self._plan(turn))
        self._answer_cannot_handle(turn)

    def _plan(self, turn: Turn) -> list[Step]:
        """Steps for the turn's commands. A question about what one of the customer's own actions would cost or
        when it would apply ("바로 바꾸면 얼마 더 내요?") previews that action without proposing it (``what_if``);
        other questions about actions are answered from the documents."""
        from sangdam.understanding.commands import AskKnowledge, StartTask

        understood = turn.understanding.commands if turn.understanding is not None else []
        intents = list(turn.route.intents)
        what_if: set[str] = set()
        for command in understood:
            if isinstance(command, AskKnowledge) and command.about and dialogue.asks_figure(command.question):
                what_if.add(command.about)
                at = intents.index("policy.question") if "policy.question" in intents else len(intents)
                intents[at:at + 1] = [] if command.about in intents else [command.about]
        steps = plan(intents, turn.ctx.text)
        commands = [c for c in understood if isinstance(c, StartTask)]
        given = {c.intent: c.slots for c in commands if c.slots}
        # what the dialogue resolved reads its own part of the message ("4444 말고 3333이요" → "3333이요")
        clauses = {c.intent: c.clause for c in commands if c.generator == "dialogue" and c.clause}
        steps = self._without_declined(turn, steps)
        for step in steps:
            step.what_if = step.intent in what_if
            if not step.silent and step.intent in given:  # values the message left out but meant ("4444도 똑같이")
                step.slots = {**given[step.intent], **step.slots}
            if not step.silent and step.intent in clauses:
                step.text = clauses[step.intent]
        return self._delegate(turn, steps)

    def _without_declined(self, turn: Turn, steps: list[Step]) -> list[Step]:
        """A change the customer says not to make ("그럼 해지 안 할게요", "충전은 안 해도 돼요") is no request: it is
        acknowledged and nothing is proposed (it was read as the change itself: the proposal then needed only a yes)."""
        from sangdam.understanding.cannot import topic_of
        from sangdam.understanding.commands import ACTION_INTENTS

        from sangdam.orchestrator.router import split_clauses

        if not any(s.intent in ACTION_INTENTS and not s.silent for s in steps):
            return steps  # nothing to propose: no refusal to look for (most turns; kiwi is not run again)
        # the refusing clause must be about the step's own task: in "충전 필요 없고 일본 3일 로밍 켜 주세요" the refusal
        # is the top-up's, not the roaming's. Each refusing clause is routed once; the first one per task is named.
        refused: dict[str, str] = {}
        for clause in split_clauses(turn.ctx.text):
            if dialogue.declines_doing(clause):
                refused.setdefault(self.router.route(clause).intents[0], clause)
        kept = []
        for step in steps:
            if step.intent in ACTION_INTENTS and not step.silent and step.intent in refused:
                topic = topic_of(refused[step.intent])
                turn.messages.append(say("understanding.not_doing", topic=attach(topic, "은")) if topic
                                     else say("understanding.not_doing_other"))
                continue
            kept.append(step)
        return kept

    def _delegate(self, turn: Turn, steps: list[Step]) -> list[Step]:
        """With a model trusted to act (profile flag ``agentic``), what no intent serves goes to the LLM agent
        instead of being declined: the whole message when it is out of scope or the classifier is unsure of it (below
        the router's calibrated threshold: no procedure is known to fit), else each unservable clause; and a
        read request that needs reasoning over several results (comparisons, superlatives, a "why" over figures:
        ``dialogue.needs_reasoning``) goes to it whole instead of one read procedure. Writes keep their procedures."""
        if "agentic" not in self.agents:
            return steps
        u = turn.understanding
        from sangdam.agents.conversation import refused_by_rule

        from sangdam.orchestrator.followups import READ_ONLY_INTENTS

        intents = list(turn.route.intents)
        if intents == ["out_of_scope"] and not refused_by_rule(turn.ctx.text):
            turn.delegated.append(turn.ctx.text)
            return [Step(agent="agentic", intent="out_of_scope", text=turn.ctx.text)]
        threshold = getattr(self.router, "threshold", None)
        if u is not None and threshold is not None and u.confidence < threshold and u.generator == "classifier" \
                and not refused_by_rule(turn.ctx.text):  # the classifier is unsure: no procedure is known to fit
            turn.delegated.append(turn.ctx.text)
            return [Step(agent="agentic", intent=intents[0] if intents else "out_of_scope", text=turn.ctx.text)]
        tasks = [i for i in intents if i not in NON_TASK_INTENTS]
        if tasks and READ_ONLY_INTENTS.issuperset(tasks) and dialogue.needs_reasoning(turn.ctx.text) \
                and not any(s.what_if for s in steps):  # compare, rank, explain over several results: the agent
            turn.delegated.append(turn.ctx.text)
            return [Step(agent="agentic", intent=tasks[0], text=turn.ctx.text)]
        for command in (u.cannot_handle if u is not None else []):
            turn.delegated.append(command.clause)
            steps.append(Step(agent="agentic", intent="out_of_scope", text=command.clause))
        return steps

    def _understand(self, turn: Turn) -> Any:
        """The message's commands, generated once per turn (the follow-ups may ask first)."""
        if turn.understanding is None:
            stage = time.perf_counter()
            understood = self.generator.generate(turn.ctx.text)
            last = turn.state.last_task
            if last and last.get("turn") == turn.state.turn_index - 1:  # "4444는요?", "그걸로 해 주세요"
                from sangdam.orchestrator.ellipsis import resolve
                from sangdam.understanding.generators import Understanding

                threshold = getattr(self.router, "threshold", 0.5)
                commands = resolve(turn.ctx.text, last, understood, threshold)
                if commands:
                    understood = Understanding(commands=commands, confidence=1.0, generator="dialogue")
            turn.understanding = understood
            turn.stages["route_ms"] = elapsed_ms(stage)
        return turn.understanding

    def _answer_cannot_handle(self, turn: Turn) -> None:
        """Clauses no intent serves, next to ones that were served: each is answered, never dropped. Said before
        the question the customer is to answer (which comes last)."""
        from sangdam.understanding.cannot import cannot_handle_message

        u = turn.understanding
        if u is None or "out_of_scope" in turn.route.intents:  # the whole message is answered as such
            return
        for command in u.cannot_handle:
            if command.clause in turn.delegated or turn.ctx.text in turn.delegated:  # the LLM agent answered it
                continue
            text = cannot_handle_message(command.clause)
            turn.ctx.blackboard.add_fact(command.clause)  # the customer's own words, named back to them
            state = turn.state
            asks = state.pending is not None or state.awaiting is not None
            at = len(turn.messages) - 1 if asks and turn.messages else len(turn.messages)
            turn.messages.insert(at, text)

    def _run_steps(self, turn: Turn, steps: list[Step]) -> None:
        """Run ``steps`` in order, each after the steps whose results it needs (``depends_on``, set by the planner's
        ``link``). Information steps always run; proposals are gathered and confirmed together at the end of the
        reply; a question (missing slot, option to pick) stops the plan there. A step whose needed step failed
        says what it could not do; one whose needed step waits for the customer waits with it, in the queue."""
        from sangdam.orchestrator.blackboard import StepResult
        from sangdam.orchestrator.planner import blocked_message, link

        state, ctx = turn.state, turn.ctx
        steps = link(list(steps))  # needed steps first (again, for a queue from an earlier turn)
        board = ctx.blackboard
        board.new_plan()
        proposals: list[PendingAction] = []
        proposal_messages: list[str] = []
        deferred: list[Step] = []
        for index, step in enumerate(steps):
            rest = steps[index + 1:]
            needed = [board.step_result(d) for d in step.depends_on]
            if any(r is not None and r.status == "failed" for r in needed):  # never run on missing data
                board.record_step(index, StepResult(step.intent, "failed"))
                self._say_once(turn, [blocked_message(step.intent)])
                continue
            if any(r is None or r.status != "ok" for r in needed):  # a needed step waits for the customer
                board.record_step(index, StepResult(step.intent, "waiting"))
                deferred.append(step)
                continue
            agent = self.agents[step.agent]
            ctx.allowed = frozenset(agent.tools)
            if not state.verified_customer_id and agent.needs_identity(step, ctx):
                if identity.closed(state):  # verification failed too often here: say so, ask nothing
                    turn.messages.append(say("identity.closed"))
                    break
                state.awaiting = Awaiting(kind="identity")
                deferred.extend([step, *rest])
                turn.messages.append(say("identity.ask"))
                break
            t0, calls, failed = time.perf_counter(), len(ctx.tool_calls), False
            unrun = step.model_copy(deep=True)  # a procedure's step keeps its place in it: this one starts over
            board.produced.pop(step.intent, None)  # what this step produces, and only that, is its result
            try:
                # a line, number or person the customer named that is not theirs: refused or asked, never swapped
                outcome = (foreign_target(step, ctx) if step.agent in ACCOUNT_AGENTS and ctx.customer_id else None)
                outcome = outcome or agent.handle(step, ctx)
            except ToolError as err:  # a refused rule: explain, never drop silently
                outcome, failed = Outcome(messages=[err.message_ko]), True
            if outcome.trace is not None:  # the LLM agent's run: steps, tokens, rejected drafts
                turn.llm_calls.append({"role": "strong", "purpose": "agent", **outcome.trace})
            if outcome.needs_identity:  # it needs the customer's records: the identity gate asks first
                state.awaiting = Awaiting(kind="identity")
                deferred.extend([step, *rest])
                turn.messages.append(say("identity.ask"))
                break
            status = self._step_status(outcome, failed, board.produced.get(step.intent),
                                       needed_later=any(index in s.depends_on for s in rest))
            board.record_step(index, StepResult(step.intent, status, board.produced.get(step.intent)))
            turn.steps.append({"agent": step.agent, "intent": step.intent, "slots": step.slots,
                               "depends_on": step.depends_on, "silent": step.silent, "status": status,
                               "tools": [c.name for c in ctx.tool_calls[calls:]], "ms": elapsed_ms(t0)})
            if status == "ok":
                self._share_line(steps, index)
            elif status == "failed" and step.silent and any(index in s.depends_on for s in rest):
                self._say_once(turn, outcome.messages)  # why the step that needed it cannot be done
            holds = outcome.ask_slot is not None and outcome.ask_holds
            if proposals and holds:
                # asks something (a slot, a pick from the options it lists): run again after the customer answered
                # the proposal, from its start (what it said before asking is said then)
                deferred.append(unrun)
                continue
            if outcome.handoff:
                state.handed_off = True
            if outcome.proposal is not None and step.what_if:  # asked what it would do: said, not proposed
                turn.messages.extend(outcome.messages)
                turn.messages.append(say("confirm.what_if"))
                state.offered = step.model_copy(update={"what_if": False})
                continue
            if outcome.proposal is not None:
                proposals.append(outcome.proposal)
                proposal_messages.extend(outcome.messages)
                continue
            if not step.silent or outcome.ask_slot is not None:  # a silent step's question is asked all the same
                turn.messages.extend(outcome.messages)
            if outcome.ask_slot is not None:
                state.awaiting = Awaiting(kind="slot", slot=outcome.ask_slot, step=step,
                                          options=outcome.options)
                if outcome.ask_holds:  # else (a device step to try) the message's other requests still run
                    deferred.extend(rest)
                    break
        state.queue = deferred
        if proposals:
            state.pending = proposals[0].model_copy(update={"then": proposals[1:]})
            turn.messages.extend(proposal_messages)
        self._proactive(turn)
        if proposals:  # the question the customer answers comes last
            asks = any("?" in m for m in proposal_messages)  # "…접수할까요?": only how to answer is left to say
            turn.messages.append(say("confirm.answer_hint" if asks else "confirm.question"))

    @staticmethod
    def _step_status(outcome: Outcome, failed: bool, produced: Any, *, needed_later: bool) -> str:
        """How a step ended, for the steps that need it: ``failed`` (a tool error, or nothing produced: a refusal),
        ``waiting`` (it asked the customer something or proposed), else ``ok``."""
        if failed:
            return "failed"
        if outcome.ask_slot is not None or outcome.proposal is not None:
            return "waiting"
        return "failed" if needed_later and produced is None else "ok"

    @staticmethod
    def _share_line(steps: list[Step], index: int) -> None:
        """The line step ``index`` was about is the line of the steps that read its result and of their other needed
        steps still to run: one question about the line, and every fact of a recommendation about the same line."""
        line = steps[index].slots.get("line_id")
        if not line:
            return
        for later in steps[index + 1:]:
            if index in later.depends_on:
                for s in [later, *(steps[d] for d in later.depends_on if d > index)]:
                    if not s.slots.get("line_id"):
                        s.slots["line_id"] = line

    @staticmethod
    def _say_once(turn: Turn, messages: list[str]) -> None:
        turn.messages.extend(m for m in messages if m not in turn.messages)

    # -- personalisation ------------------------------------------------------------------------------------
    def _remember_preferences(self, turn: Turn) -> bool:
        """Save a preference the customer states; True when the message states nothing else (turn done)."""
        from sangdam.personalization.preferences import detect_preferences, save_preferences, states_only_preferences

        prefs = detect_preferences(turn.ctx.text)
        if not prefs or not turn.state.verified_customer_id:
            return False
        save_preferences(self.engine, turn.state.verified_customer_id, prefs, now=self._now(), backend=self.backend)
        turn.messages.append(say("preferences.saved", channel=say(f"preferences.channels.{prefs['contact_channel']}")))
        return turn.state.pending is None and states_only_preferences(turn.ctx.text)

    def _proactive(self, turn: Turn) -> None:
        from sangdam.personalization.notices import proactive_notices, related_notices

        state = turn.state
        served = [s["intent"] for s in turn.steps if s["agent"] in ACCOUNT_AGENTS]
        if not state.verified_customer_id or not served:
            return
        kinds = related_notices(served, exclude={*state.notices_sent, *state.notices_considered})
        if not kinds:
            return
        state.notices_considered.extend(kinds)  # each kind once per conversation: a notice is news, not a refrain
        earlier = [m["text"] for m in self.store.transcript(turn.ctx.conversation_id) if m["role"] == "bot"]
        for kind, text in proactive_notices(turn.ctx, kinds, said=[*earlier, *turn.messages]):
            state.notices_sent.append(kind)
            turn.messages.append(text)

    # -- helpers --------------------------------------------------------------------------------------------
    def _now(self) -> dt.datetime:
        clock = dt.datetime.now().time().replace(microsecond=0)
        return dt.datetime.combine(self.today, clock)

    def _trace(self, turn: Turn, masked: str, reply: str, verdict: Any, latency: float) -> dict[str, Any]:
        route = turn.route
        return {
            "user": masked,
            "reply": reply,
            "intents": list(route.intents) if route else [],
            "confidence": float(route.confidence) if route else None,
            "via": route.via if route else "dialogue",
            "commands": ([c.model_dump(mode="json", exclude_defaults=False) for c in turn.understanding.commands]
                         if turn.understanding is not None else []),
            "generator": turn.understanding.generator if turn.understanding is not None else None,
            "plan": turn.steps,
            "tool_calls": [c.model_dump(mode="json") for c in turn.ctx.tool_calls],
            "verifier": verdict.model_dump(mode="json") if verdict else None,
            "llm_calls": turn.llm_calls,
            "pending": turn.state.pending.model_dump(mode="json") if turn.state.pending else None,
            "stack": turn.state.snapshot(),
            "latency_ms": {"total": latency, **turn.stages},
        }

    # -- agent console support ------------------------------------------------------------------------------
    def transcript(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.store.transcript(conversation_id)

    def traces(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.store.traces(conversation_id)


def _remember_task(state: Any, steps: list[dict[str, Any]]) -> None:
    """The task this turn served, for a next message that leans on it ("4444는요?"); a confirmation keeps the
    task it confirmed (set when the proposal ran)."""
    served = [s for s in steps if not s["silent"] and s["agent"] in ACCOUNT_AGENTS]
    if served:
        state.remember_task(served[-1]["intent"], served[-1]["slots"])
    elif state.last_task and state.last_task.get("turn") != state.turn_index:
        state.last_task = None


def _route_of(understanding: Any) -> Any:
    """The route (intents, confidence, who decided) the commands stand for: the turn's public record."""
    from sangdam.orchestrator.router import RouteResult

    return RouteResult(intents=understanding.intents, confidence=understanding.confidence,
                       via="llm" if understanding.route_via == "llm" else "classifier")


def _keep_dialogue(state: Any, before: Any) -> None:
    """Put the dialogue back where it stood before a turn the operator's systems broke off: the same proposal
    pending, the same question asked, the same queued work. What did run stays done (identity verified, writes
    committed under their idempotency keys, which a retry of the proposal replays, never repeats)."""
    state.stack = before.stack


def _transferred(calls: list[ToolCallRecord]) -> bool:
    return any(c.name in ("transfer_to_human", "request_cancellation") and c.status == "ok" for c in calls)


def _agentic_agent(llm: Any, responder: Responder, kb_name: str = "default") -> Any:
    """The LLM agent, only when the strong role's model profile is trusted to act (``agentic: true``)."""
    if llm is None:
        return None
    import inspect

    # an explicit flag on the LLM object (tests, the eval runner's scripted model), read without calling anything
    probe = inspect.getattr_static(llm, "agentic", None)
    profile = None
    config = getattr(llm, "config", None)
    if config is not None:
        from sangdam.llm.profiles import get_profile

        profile = get_profile(config.roles["strong"].profile)
    if isinstance(probe, bool):
        trusted = probe
    else:
        trusted = bool(profile is not None and profile.agentic)
    if not trusted:
        return None
    from sangdam.agentic.agent import AgenticAgent

    # a reasoning model thinks while it plans; the answer itself is asked for with reasoning off
    reasoning = True if profile is not None and profile.reasoning.method != "none" else None
    # a server's own tool calls where its model has them; the embedded backend decodes the JSON action under a grammar
    native = bool(profile is not None and profile.tool_calls and config.roles["strong"].backend == "openai")
    return AgenticAgent(llm, reasoning=reasoning, kb_name=kb_name, native=native,
                        verify=lambda text, ctx: responder.verifier.check(text, ctx.blackboard, ctx.tool_calls))


def _llm_fallback(llm: Any) -> Any:
    """The router's LLM fallback, only when the fast role's model is trusted to decide intents.

    Measured (bench/routing/fallback.py, held-out utterances below the confidence threshold): the classifier
    alone is right on 91.8%; the embedded 0.5B/1.5B models on 51%/61%, at 2.5–3.6 s. A weak model must not
    overrule the classifier, so with the embedded default the classifier's answer stands.
    """
    if llm is None:
        return None
    config = getattr(llm, "config", None)
    if config is not None:
        from sangdam.llm.profiles import get_profile

        if not get_profile(config.roles["fast"].profile).decides_intents:
            return None
    from sangdam.orchestrator.router_llm import LlmIntentFallback

    return LlmIntentFallback(llm)
