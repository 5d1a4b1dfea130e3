"""The orchestrator: one customer turn, end to end.

    mask PII → (pending confirmation | identity answer | slot answer | troubleshooting answer | route → plan)
    → run steps through sub-agents (shared blackboard) → proactive notices → compose → verify → persist + trace

The same object serves the HTTP server, the CLI chat and the evaluation runner.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from sangdam.agents import build_agents
from sangdam.agents.base import AgentContext, Outcome
from sangdam.config import get_settings
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.blackboard import Blackboard
from sangdam.orchestrator.format import say
from sangdam.orchestrator.planner import plan
from sangdam.orchestrator.privacy import Privacy
from sangdam.orchestrator.responder import Responder
from sangdam.orchestrator.state import Awaiting, ConversationState, PendingAction, Step
from sangdam.orchestrator.store import ConversationStore
from sangdam.orchestrator.types import ToolCallRecord, TurnResult
from sangdam.tools.base import ToolError

MAX_MESSAGE_CHARS = 2000
# A message routed to another task with at least this confidence is a new request, not a "yes".
OTHER_REQUEST_CONFIDENCE = 0.7
# Agents whose work concerns the customer's account: only after these are proactive notices relevant.
ACCOUNT_AGENTS = frozenset({"billing", "plans", "data", "roaming", "tech_support", "line", "contract"})
MAX_VERIFY_ATTEMPTS = 3


class InvalidMessage(ValueError):
    """A customer message the orchestrator refuses to process (empty, too long)."""

    def __init__(self, code: str, message_en: str, message_ko: str) -> None:
        super().__init__(message_en)
        self.code, self.message_en, self.message_ko = code, message_en, message_ko


@dataclass
class _Turn:
    """Mutable working set of one turn."""

    ctx: AgentContext
    messages: list[str] = field(default_factory=list)
    route: Any = None
    stages: dict[str, float] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    llm_calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state(self) -> ConversationState:
        return self.ctx.state


class Orchestrator:
    """Routes, plans, runs sub-agents with tools, checks the reply, and persists the conversation."""

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        today: dt.date | None = None,
        llm: Any = None,
        kb_name: str = "default",
        router: Any = None,
    ) -> None:
        from sangdam.domain.db import get_engine

        self.engine = engine or get_engine()
        self._today = today
        self.llm = llm
        self.kb_name = kb_name
        self._router = router
        self.store = ConversationStore(self.engine)
        self.privacy = Privacy()
        self.agents = build_agents(kb_name=kb_name, llm=llm)
        self.responder = Responder(self.engine, llm=llm)

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

    def start_conversation(self, customer_id: str | None = None, channel: str = "api") -> str:
        """Open a conversation; ``customer_id`` is set when the channel already authenticated the customer."""
        return self.store.create(customer_id=customer_id, channel=channel, now=self._now())

    def handle(self, conversation_id: str, text: str) -> TurnResult:
        """Process one customer message and return the checked reply."""
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
        masked = self.privacy.mask(conversation_id, text, today=self.today)
        state.turn_index += 1

        if conv.mode == "human":  # an agent took over: the bot stays silent, the message is kept
            self.store.save_turn(conversation_id, state, [("customer", masked)], None, self._now())
            return TurnResult(
                conversation_id=conversation_id, turn_index=state.turn_index, reply="", handed_off=True,
                trace_id="", latency_ms=round((time.perf_counter() - t0) * 1000, 3),
            )

        ctx = AgentContext(
            engine=self.engine, today=self.today, conversation_id=conversation_id, state=state, text=masked,
            blackboard=Blackboard(), tool_calls=[], mask=self.privacy.mask_only,
        )
        turn = _Turn(ctx=ctx)
        stage = time.perf_counter()
        self._dispatch(turn, text)
        turn.stages["orchestrate_ms"] = _ms(stage)

        stage = time.perf_counter()
        reply, verdict = self.responder.compose(turn.messages, ctx, turn.llm_calls)
        turn.stages["respond_verify_ms"] = _ms(stage)

        latency = _ms(t0)
        trace = self._trace(turn, masked, reply, verdict, latency)
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
            handed_off=state.handed_off,
            verified_customer_id=state.verified_customer_id,
            verifier=verdict,
            trace_id=trace_id or "",
            latency_ms=latency,
        )

    # -- dispatch ---------------------------------------------------------------------------------------
    def _dispatch(self, turn: _Turn, original: str) -> None:
        state = turn.state
        self._remember_preferences(turn)
        if state.pending is not None and self._resolve_pending(turn):
            return
        if state.awaiting and state.awaiting.kind == "identity" and self._resolve_identity(turn, original, asked=True):
            return
        if state.awaiting and state.awaiting.kind == "slot" and self._resolve_slot(turn):
            return
        if state.troubleshoot is not None and self._continue_troubleshooting(turn):
            return
        # identity offered together with a request ("010-… 1990-04-12인데 요금 알려줘")
        if not state.verified_customer_id and self.privacy.identity(turn.ctx.conversation_id)[0]:
            self._resolve_identity(turn, original, asked=False)
        stage = time.perf_counter()
        turn.route = self.router.route(turn.ctx.text)
        turn.stages["route_ms"] = _ms(stage)
        if turn.route.via == "llm":
            turn.llm_calls.append({"role": "fast", "purpose": "route"})
        state.awaiting = None
        self._run_steps(turn, plan(list(turn.route.intents), turn.ctx.text))

    def _run_steps(self, turn: _Turn, steps: list[Step]) -> None:
        """Run ``steps`` in order. Information steps always run; proposals are gathered and confirmed
        together at the end of the reply; a question (missing slot, option to pick) stops the plan there."""
        state, ctx = turn.state, turn.ctx
        steps = list(steps)
        proposals: list[PendingAction] = []
        proposal_messages: list[str] = []
        deferred: list[Step] = []
        while steps:
            step = steps.pop(0)
            agent = self.agents[step.agent]
            if agent.needs_identity(step) and not state.verified_customer_id:
                state.awaiting = Awaiting(kind="identity")
                deferred.extend([step, *steps])
                turn.messages.append(say("identity.ask"))
                break
            ctx.allowed = frozenset(agent.tools)
            t0 = time.perf_counter()
            try:
                outcome = agent.handle(step, ctx)
            except ToolError as err:  # a refused rule: explain, never drop silently
                outcome = Outcome(messages=[err.message_ko])
            turn.steps.append({"agent": step.agent, "intent": step.intent, "slots": step.slots,
                               "depends_on": step.depends_on, "silent": step.silent, "ms": _ms(t0)})
            if proposals and (outcome.ask_slot is not None or (outcome.proposal and outcome.proposal.choices)):
                deferred.append(step)  # asks something: after the customer answered the proposal
                continue
            if outcome.handoff:
                state.handed_off = True
            if outcome.proposal is not None:
                proposals.append(outcome.proposal)
                proposal_messages.extend(outcome.messages)
                if outcome.proposal.choices:  # the customer must pick an option first
                    deferred.extend(steps)
                    break
                continue
            if not step.silent:
                turn.messages.extend(outcome.messages)
            if outcome.ask_slot is not None:
                state.awaiting = Awaiting(kind="slot", slot=outcome.ask_slot, step=step)
                deferred.extend(steps)
                break
        state.queue = deferred
        if proposals:
            state.pending = proposals[0].model_copy(update={"then": proposals[1:]})
            turn.messages.extend(proposal_messages)
            if not state.pending.choices:
                turn.messages.append(say("confirm.question"))
        self._proactive(turn)

    # -- pending confirmations ----------------------------------------------------------------------------
    def _resolve_pending(self, turn: _Turn) -> bool:
        """Handle the customer's answer to a proposal. False: the message is a new request (pending dropped)."""
        state, ctx = turn.state, turn.ctx
        pending = state.pending
        assert pending is not None
        agent = self.agents[pending.agent]
        ctx.allowed = frozenset(agent.tools)
        if pending.choices:
            chosen = agent.pick_choice(pending, ctx)
            if chosen is None and len(pending.choices) == 1 and dialogue.is_affirmative(ctx.text):
                chosen = agent.pick_only_choice(pending)
            if chosen is not None:
                if dialogue.is_explicit_yes(ctx.text):
                    pending = chosen
                else:  # picked an option without agreeing yet: propose that one concretely
                    outcome = agent.propose_choice(chosen, ctx)
                    turn.messages.extend(outcome.messages)
                    turn.messages.append(say("confirm.question"))
                    state.pending = outcome.proposal
                    return True
            elif dialogue.is_negative(ctx.text):
                return self._decline(turn)
            elif dialogue.is_affirmative(ctx.text):  # "네" to a list of options: which one?
                turn.messages.append(say("confirm.pick_one"))
                return True
            else:
                state.pending = None
                return False
        elif dialogue.is_negative(ctx.text):
            return self._decline(turn)
        elif not dialogue.is_affirmative(ctx.text) or self._is_other_request(turn, pending):
            state.pending = None
            turn.messages.append(say("confirm.dropped"))
            return False

        state.pending = None
        for part in [pending.model_copy(update={"then": []}), *pending.then]:
            self._execute(turn, part)
        queued, state.queue = state.queue, []
        self._run_steps(turn, queued)
        return True

    def _execute(self, turn: _Turn, pending: PendingAction) -> None:
        """Run the calls of one agreed proposal (idempotent per proposal) and report their effect."""
        state, ctx = turn.state, turn.ctx
        agent = self.agents[pending.agent]
        ctx.allowed = frozenset(agent.tools)
        results: list[Any] = []
        try:
            for i, call in enumerate(pending.calls):
                results.append(ctx.call(call.tool, _idempotency_key=f"{ctx.conversation_id}:{pending.id}:{i}", **call.args))
        except ToolError as err:
            turn.messages.append(err.message_ko)
            return
        outcome = agent.on_confirmed(pending, results, ctx)
        turn.messages.extend(outcome.messages)
        state.handed_off = state.handed_off or outcome.handoff
        state.actions.extend({"tool": c.tool, "args": c.args} for c in pending.calls)

    def _is_other_request(self, turn: _Turn, pending: PendingAction) -> bool:
        """Whether an affirmative-sounding message is really a different request ("글로벌 15일로 신청해
        주세요" while a transfer to a human is pending): it then must not confirm the pending action."""
        if dialogue.is_short_answer(turn.ctx.text):
            return False
        route = self.router.route(turn.ctx.text)
        tasks = [i for i in route.intents if i not in ("chitchat", "out_of_scope")]
        related = {pending.intent, *(p.intent for p in pending.then)}
        if tasks and route.confidence >= OTHER_REQUEST_CONFIDENCE and not related.intersection(tasks):
            turn.route = route
            return True
        return False

    def _decline(self, turn: _Turn) -> bool:
        pending = turn.state.pending
        for part in [pending, *pending.then] if pending else []:  # the trace and summary show what was refused
            turn.ctx.tool_calls.extend(
                ToolCallRecord(name=c.tool, args=_mask_args(c.args, turn.ctx.mask), status="declined") for c in part.calls
            )
        turn.state.pending = None
        turn.messages.append(say("confirm.declined"))
        queued, turn.state.queue = turn.state.queue, []
        self._run_steps(turn, queued)
        return True

    # -- identity -----------------------------------------------------------------------------------------
    def _resolve_identity(self, turn: _Turn, original: str, *, asked: bool) -> bool:
        state, ctx = turn.state, turn.ctx
        phone, birth = self.privacy.identity(ctx.conversation_id)
        if not phone or not birth:
            if not asked:
                return False
            missing = "identity.need_birth_date" if phone else "identity.need_phone"
            if not phone and not birth:
                # not an identity answer at all: treat it as a new request, keep the gate
                state.awaiting = None
                return False
            turn.messages.append(say(missing))
            return True
        ctx.allowed = frozenset({"verify_identity"})
        try:
            result = ctx.call("verify_identity", phone=phone, birth_date=birth.isoformat())
        except ToolError as err:
            turn.messages.append(err.message_ko)
            return True
        finally:
            self.privacy.forget_identity(ctx.conversation_id)
        if not result.verified:
            state.verify_attempts += 1
            if state.verify_attempts >= MAX_VERIFY_ATTEMPTS:
                state.awaiting = None
                state.queue = []
                turn.messages.append(say("identity.locked", attempts=MAX_VERIFY_ATTEMPTS))
            else:
                state.awaiting = Awaiting(kind="identity")
                turn.messages.append(say("identity.failed"))
            return True
        state.verified_customer_id = result.customer_id
        state.awaiting = None
        turn.messages.append(say("identity.ok"))
        queued, state.queue = state.queue, []
        if queued:
            self._run_steps(turn, queued)
            return True
        return asked  # offered with a request: routing continues

    # -- slots and troubleshooting ------------------------------------------------------------------------
    def _resolve_slot(self, turn: _Turn) -> bool:
        state, ctx = turn.state, turn.ctx
        awaiting = state.awaiting
        assert awaiting is not None and awaiting.step is not None
        agent = self.agents[awaiting.step.agent]
        filled = agent.on_slot(awaiting.step, awaiting.slot or "", ctx)
        if filled is None:
            state.awaiting = None
            state.queue = []
            return False
        state.awaiting = None
        queued, state.queue = state.queue, []
        self._run_steps(turn, [filled, *queued])
        return True

    def _continue_troubleshooting(self, turn: _Turn) -> bool:
        agent = self.agents["tech_support"]
        ctx = turn.ctx
        ctx.allowed = frozenset(agent.tools)
        outcome = agent.continue_flow(ctx)
        if outcome is None:
            return False
        turn.messages.extend(outcome.messages)
        if outcome.proposal is not None:
            turn.state.pending = outcome.proposal
            turn.messages.append(say("confirm.question"))
        return True

    # -- personalisation ------------------------------------------------------------------------------------
    def _remember_preferences(self, turn: _Turn) -> None:
        from sangdam.personalization.preferences import detect_preferences, save_preferences

        prefs = detect_preferences(turn.ctx.text)
        if prefs and turn.state.verified_customer_id:
            save_preferences(self.engine, turn.state.verified_customer_id, prefs, now=self._now())
            turn.messages.append(say("preferences.saved", channel=say(f"preferences.channels.{prefs['contact_channel']}")))

    def _proactive(self, turn: _Turn) -> None:
        from sangdam.personalization.notices import proactive_notices

        state = turn.state
        served = any(s["agent"] in ACCOUNT_AGENTS for s in turn.steps)
        if not state.verified_customer_id or not served or state.notices_checked:
            return
        state.notices_checked = True  # once per conversation: a notice is news, not a refrain
        intents = [s["intent"] for s in turn.steps]
        for kind, text in proactive_notices(turn.ctx, exclude=set(state.notices_sent), intents=intents):
            state.notices_sent.append(kind)
            turn.messages.append(text)

    # -- helpers --------------------------------------------------------------------------------------------
    def _now(self) -> dt.datetime:
        clock = dt.datetime.now().time().replace(microsecond=0)
        return dt.datetime.combine(self.today, clock)

    def _trace(self, turn: _Turn, masked: str, reply: str, verdict: Any, latency: float) -> dict[str, Any]:
        route = turn.route
        return {
            "user": masked,
            "reply": reply,
            "intents": list(route.intents) if route else [],
            "confidence": float(route.confidence) if route else None,
            "via": route.via if route else "dialogue",
            "plan": turn.steps,
            "tool_calls": [c.model_dump(mode="json") for c in turn.ctx.tool_calls],
            "verifier": verdict.model_dump(mode="json") if verdict else None,
            "llm_calls": turn.llm_calls,
            "pending": turn.state.pending.model_dump(mode="json") if turn.state.pending else None,
            "latency_ms": {"total": latency, **turn.stages},
        }

    # -- agent console support ------------------------------------------------------------------------------
    def transcript(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.store.transcript(conversation_id)

    def traces(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.store.traces(conversation_id)


def _mask_args(args: dict[str, Any], mask: Any) -> dict[str, Any]:
    return {k: mask(v) if isinstance(v, str) else v for k, v in args.items()}


def _transferred(calls: list[ToolCallRecord]) -> bool:
    return any(c.name in ("transfer_to_human", "request_cancellation") and c.status == "ok" for c in calls)


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


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
