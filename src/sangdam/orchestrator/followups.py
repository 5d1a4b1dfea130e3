"""Follow-ups: the customer's answer to what the bot asked in its last reply.

A pending proposal waits for 네/아니요 (or the pick of one priced option); an identity request waits for phone
number and birth date; a slot question waits for its value (a device step of troubleshooting too: "해결됐어요",
"그래도 안 돼요"). Each handler returns False when the message is not such an answer but a new request.
"""

from __future__ import annotations

from typing import Any

from sangdam.agents.common import SLOT_ARGS, mentioned_args
from sangdam.orchestrator import dialogue, identity
from sangdam.orchestrator.format import say
from sangdam.orchestrator.intents import NON_TASK_INTENTS
from sangdam.orchestrator.planner import plan
from sangdam.orchestrator.state import Awaiting, PendingAction, Step
from sangdam.orchestrator.turn import Turn
from sangdam.orchestrator.types import ToolCallRecord
from sangdam.tools.base import ToolError
from sangdam.tools.execution import executed_keys

# A message routed to another task with at least this confidence is a new request, not a "yes".
OTHER_REQUEST_CONFIDENCE = 0.7
# Requests that only read: asked while a proposal waits, they are answered and the proposal stays pending.
READ_ONLY_INTENTS = frozenset({"billing.inquiry", "plan.info", "plan.recommend", "data.usage", "roaming.info",
                               "contract.info", "policy.question"})


class FollowUps:
    """Mixed into ``Orchestrator``: uses its ``agents``, ``router``, ``privacy`` and ``_run_steps``."""

    agents: dict[str, Any]
    privacy: Any
    router: Any

    def _run_steps(self, turn: Turn, steps: list[Any]) -> None:  # provided by Orchestrator
        raise NotImplementedError

    def _understand(self, turn: Turn) -> Any:  # provided by Orchestrator
        raise NotImplementedError

    def _route(self, turn: Turn) -> Any:
        """The route of this turn's message (from its commands, generated once per turn)."""
        from sangdam.orchestrator.engine import _route_of

        return _route_of(self._understand(turn))

    # -- pending confirmations ----------------------------------------------------------------------------
    def _resolve_pending(self, turn: Turn) -> bool:
        """Handle the customer's answer to a proposal. False: the message is a new request (routed next).

        A write runs only on an unambiguous yes to *this* proposal: a bare yes or a pointer at it ("네",
        "그걸로 해주세요"), or an agreement whose content restates it ("네 2기가 충전해 주세요"). A new value
        re-proposes (preview again, ask again); a question or a pause keeps the proposal pending; a decline or
        another request cancels it, and the reply says so. Nothing else ever runs it.
        """
        state, ctx = turn.state, turn.ctx
        pending = state.pending
        assert pending is not None
        agent = self.agents[pending.agent]
        ctx.allowed = frozenset(agent.tools)
        reconciled = self._reconcile(turn, pending)
        if reconciled is not None:
            return reconciled
        if pending.choices:
            return self._resolve_choice(turn, pending, agent)
        text = ctx.text
        takes_back, instead = dialogue.after_correction(text)
        changes, named = self._corrections(turn, pending, instead)
        if changes:
            return self._repropose(turn, pending, changes, instead)
        if takes_back and named:  # "3기가 말고 2기가요" with 2 GB proposed: the same values again
            return self._keep_pending(turn, pending, "confirm.same")
        negative = takes_back or dialogue.is_negative(text)
        about = dialogue.is_question(text) and self._about_proposal(text)  # "충전하면 얼마예요?"
        # "됐고 상담사 바꿔" lets something else go and asks for the person: that part is no "no"
        rest = dialogue.after_waiver(text)
        waived = rest != text
        if _only_transfers(pending) and not dialogue.is_negative(rest) and "agent.human" in self._route(turn).intents:
            return self._confirm(turn, pending)  # "됐고 상담사 바꿔" while a transfer is offered: that is the yes
        other = None if about else self._other_tasks(turn, pending)
        if other is not None and _only_transfers(pending) and not dialogue.is_affirmative(text):
            # an offered handoff is not a task the customer started: another request (at any confidence) is
            # answered, and the offer lapses (recorded as declined)
            self._record_declined(turn, _parts(pending))
            turn.state.pending, turn.route = None, other
            return False
        if negative and dialogue.declines_all(text):  # "다 취소해 주세요", "둘 다 안 할게요": no to all that is open
            return self._decline(turn)
        if other is not None and negative and (other.confidence >= OTHER_REQUEST_CONFIDENCE or waived):
            # "아니요, 요금이나 알려 주세요", "충전은 됐고 로밍이나 켜줘": the no is clear and the rest is a request of
            # its own (routed as any new message); after "…은 됐고" at any confidence
            turn.route = other
            return self._cancel_for_other_request(turn, said="confirm.declined")
        if other is not None and (other.confidence >= OTHER_REQUEST_CONFIDENCE or _reads_only(other)):
            # another task interrupts; a question that only reads ("근데 요금제 뭐 쓰고 있지?") is answered at
            # any confidence: the proposal waits on the stack either way
            turn.route = other
            return self._other_request(turn)
        if dialogue.asks_to_wait(text):
            return self._keep_pending(turn, pending, "confirm.hold")
        if dialogue.is_question(text):
            return self._keep_pending(turn, pending, "confirm.not_yet")
        if negative:
            return self._decline(turn)
        if dialogue.is_short_answer(text):
            return self._confirm(turn, pending)
        # A sign of another task, even an unsure one, makes an agreement without a leading "네" ambiguous.
        if other is not None and not dialogue.leads_with_yes(text):
            return self._keep_pending(turn, pending, "confirm.unclear")
        if dialogue.is_affirmative(text):
            return self._confirm(turn, pending)
        return self._keep_pending(turn, pending, "confirm.unclear")

    def _other_request(self, turn: Turn) -> bool:
        """A different request while a proposal waits: it interrupts. The proposal stays on the dialogue stack
        untouched (neither confirmed nor lost); the request runs in a frame of its own, and when that frame no
        longer waits for anything the proposal is asked again (``_resume``)."""
        assert turn.route is not None
        state = turn.state
        for frame in state.interrupt(intent=next(iter(turn.route.intents), None)):  # too many open tasks
            if frame.pending is not None:
                self._record_declined(turn, _parts(frame.pending))
                turn.messages.append(say("confirm.dropped"))
        self._run_steps(turn, plan(list(turn.route.intents), turn.ctx.text))
        return True

    def _resume(self, turn: Turn) -> None:
        """The task started over an open one is done: the interrupted proposal is asked again, previewed anew,
        as the last thing the reply says. A question of a resumed frame waits for its answer as it was."""
        state = turn.state
        if state.handed_off:
            return
        frame = state.resumable()
        if frame is None:
            return
        frame.interrupted = False
        if frame.pending is not None:
            self._keep_pending(turn, frame.pending, "confirm.still_waiting")

    def _reconcile(self, turn: Turn, pending: PendingAction) -> bool | None:
        """A proposal whose writes already committed is done, whatever the customer answers now.

        The turn that ran them may have died before it was saved (the pending state survived): its calls are
        replayed under the same idempotency keys — reported, never charged twice. Parts that never ran stay
        pending. None when nothing of the proposal ran.
        """
        conv = turn.ctx.conversation_id
        parts = [p for p in _parts(pending) if p.calls]
        keys = {_call_key(conv, p, i) for p in parts for i in range(len(p.calls))}
        done = executed_keys(turn.ctx.engine, keys)
        if not done:
            return None
        ran = [p for p in parts if any(_call_key(conv, p, i) in done for i in range(len(p.calls)))]
        rest = [p for p in _parts(pending) if p not in ran]
        turn.messages.append(say("confirm.already_done"))
        if rest:
            for part in ran:
                self._execute(turn, part)
            turn.state.pending = rest[0].model_copy(update={"then": rest[1:]})
            return self._keep_pending(turn, turn.state.pending, "confirm.still_waiting")
        queued = bool(turn.state.queue)
        self._confirm(turn, ran[0].model_copy(update={"then": ran[1:]}))
        # an answer to the proposal ("아니요") is answered by the above; anything else is a request of its own
        return dialogue.is_short_answer(turn.ctx.text) or dialogue.is_negative(turn.ctx.text) or queued

    def _confirm(self, turn: Turn, pending: PendingAction) -> bool:
        state = turn.state
        state.pending = None
        parts = _parts(pending)
        for i, part in enumerate(parts):
            if not self._execute(turn, part):
                # The operator's system did not answer: this part and the rest stay agreed-to-be-asked; a "네"
                # retries them under the same idempotency keys (never a second charge). Queued work waits.
                state.pending = part.model_copy(update={"then": parts[i + 1:]})
                return True
        queued, state.queue = state.queue, []
        self._run_steps(turn, queued)
        return True

    def _resolve_choice(self, turn: Turn, pending: PendingAction, agent: Any) -> bool:
        """The answer to a list of priced options: naming one previews it; only a leading yes with the name
        ("네, 아시아 5일짜리로 해주세요") agrees to it at once."""
        ctx = turn.ctx
        text = ctx.text
        takes_back, instead = dialogue.after_correction(text)
        chosen = agent.pick_choice(pending, ctx, instead)
        if chosen is None and len(pending.choices) == 1 and dialogue.leads_with_yes(text):
            chosen = agent.pick_only_choice(pending)
        if chosen is not None:
            if dialogue.leads_with_yes(text) and not dialogue.is_question(text) and not takes_back:
                return self._confirm(turn, chosen)
            outcome = agent.propose_choice(chosen, ctx)
            turn.messages.extend(outcome.messages)
            turn.messages.append(say("confirm.question"))
            turn.state.pending = outcome.proposal
            return True
        if takes_back or dialogue.is_negative(text):
            return self._decline(turn)
        if dialogue.is_affirmative(text) or dialogue.is_question(text) or dialogue.asks_to_wait(text):
            turn.messages.append(say("confirm.pick_one"))  # "네" to a list of options: which one?
            return True
        turn.state.pending = None
        return False

    def _corrections(self, turn: Turn, pending: PendingAction, instead: str) -> tuple[dict[int, dict[str, Any]], bool]:
        """Per part of the proposal, the arguments the message gives a different value ("3기가로" → gb 3), and
        whether it names any value of the proposal at all."""
        changes: dict[int, dict[str, Any]] = {}
        named = False
        asks = dialogue.is_question(instead)  # "바로 적용되나요?" asks about the timing; it changes nothing
        for i, part in enumerate(_parts(pending)):
            if not part.calls:
                continue
            turn.ctx.allowed = frozenset(self.agents[part.agent].tools)
            args = part.calls[0].args
            found = mentioned_args(args, instead, turn.ctx)
            named = named or bool(found)
            diff = {k: v for k, v in found.items() if args.get(k) != v and not (asks and k == "effective")}
            if diff:
                changes[i] = diff
        return changes, named

    def _repropose(self, turn: Turn, pending: PendingAction, changes: dict[int, dict[str, Any]], instead: str) -> bool:
        """Re-run the proposing steps with the corrected values: a new preview and a new question."""
        state = turn.state
        parts = _parts(pending)
        self._record_declined(turn, [parts[i] for i in changes])
        steps = []
        for i, part in enumerate(parts):
            step = part.step or Step(agent=part.agent, intent=part.intent)
            args = {k: v for call in part.calls[:1] for k, v in call.args.items() if k in SLOT_ARGS}
            update: dict[str, Any] = {"slots": {**step.slots, **args, **changes.get(i, {})}}
            if i in changes and instead.strip():
                update["text"] = instead.strip()
            steps.append(step.model_copy(update=update))
        state.pending = None
        queued = state.queue
        turn.messages.append(say("confirm.corrected"))
        self._run_steps(turn, steps)
        state.queue = [*state.queue, *queued]
        return True

    def _keep_pending(self, turn: Turn, pending: PendingAction, lead: str) -> bool:
        """Leave the proposal pending and show it again, previewed anew (its facts are this turn's)."""
        ctx = turn.ctx
        summaries: list[str] = []
        try:
            for part in _parts(pending):
                ctx.allowed = frozenset(self.agents[part.agent].tools)
                summaries.extend(ctx.propose(c.tool, **c.args).summary_ko for c in part.calls)
        except ToolError as err:  # the rules refuse it now: it cannot stay pending
            turn.state.pending = None
            turn.messages.append(err.message_ko)
            return True
        turn.messages.append(say(lead))
        turn.messages.extend(summaries or [pending.summary_ko])
        turn.messages.append(say("confirm.question"))
        return True

    def _about_proposal(self, text: str) -> bool:
        """A question about doing the proposed thing ("충전하면 얼마예요?", "네 근데 언제 적용돼요?")."""
        return dialogue.leads_with_yes(text) or dialogue.mentions_proposal(text)

    def _other_tasks(self, turn: Turn, pending: PendingAction) -> Any:
        """The route of the message when it names a task other than the proposal's (any confidence), else None."""
        if dialogue.is_short_answer(turn.ctx.text):
            return None
        route = self._route(turn)
        tasks = [i for i in route.intents if i not in NON_TASK_INTENTS]
        related = {p.intent for p in _parts(pending)}
        return route if tasks and not related.issuperset(tasks) else None

    def _cancel_for_other_request(self, turn: Turn, said: str = "confirm.dropped") -> bool:
        """Another request: the proposal is cancelled, explicitly, and the message is routed as new."""
        state = turn.state
        if state.pending is not None:
            self._record_declined(turn, _parts(state.pending))
        state.pending = None
        state.queue = []
        turn.messages.append(say(said))
        return False

    def _execute(self, turn: Turn, pending: PendingAction) -> bool:
        """Run the calls of one agreed proposal (idempotent per proposal) and report their effect; False when the
        operator's systems could not be reached (the proposal may be retried as it is)."""
        state, ctx = turn.state, turn.ctx
        agent = self.agents[pending.agent]
        ctx.allowed = frozenset(agent.tools)
        results: list[Any] = []
        try:
            for i, call in enumerate(pending.calls):
                results.append(ctx.call(call.tool, _idempotency_key=_call_key(ctx.conversation_id, pending, i), **call.args))
        except ToolError as err:
            turn.messages.append(err.message_ko)
            return err.code not in BACKEND_FAULTS
        outcome = agent.on_confirmed(pending, results, ctx)
        turn.messages.extend(outcome.messages)
        state.handed_off = state.handed_off or outcome.handoff
        state.actions.extend({"tool": c.tool, "args": c.args} for c in pending.calls)
        if pending.step is not None:  # "4444도 똑같이 해 주세요" next: the values of what just ran
            state.remember_task(pending.intent, {**pending.step.slots, **(pending.calls[0].args if pending.calls else {})})
        return True

    def _record_declined(self, turn: Turn, parts: list[PendingAction]) -> None:
        """The trace and the summary show what the customer turned down or replaced."""
        for part in parts:
            turn.ctx.tool_calls.extend(
                ToolCallRecord(name=c.tool, args=_mask_args(c.args, turn.ctx.mask), status="declined") for c in part.calls
            )

    def _decline(self, turn: Turn) -> bool:
        pending = turn.state.pending
        if pending is not None:
            self._record_declined(turn, _parts(pending))
        turn.state.pending = None
        if dialogue.declines_all(turn.ctx.text):  # "다 취소해 주세요": every open proposal, not only the top one
            for frame in turn.state.stack[:-1]:
                if frame.pending is not None:
                    self._record_declined(turn, _parts(frame.pending))
            turn.state.stack = turn.state.stack[-1:]
        turn.messages.append(say("confirm.declined"))
        queued, turn.state.queue = turn.state.queue, []
        self._run_steps(turn, queued)
        return True

    # -- identity -----------------------------------------------------------------------------------------
    def _resolve_identity(self, turn: Turn, original: str, *, asked: bool) -> bool:
        """Verify the identity parts the customer gave, or ask for what is missing. False: not an identity
        answer (``asked``: a new request to route; otherwise nothing to verify yet)."""
        state, ctx = turn.state, turn.ctx
        held = self.privacy.held(ctx.conversation_id)
        if identity.closed(state):  # failed too often here: never checked again, whatever is offered
            self.privacy.forget_identity(ctx.conversation_id)
            return identity.refuse(turn, held, self.router, say("identity.closed"), asked=asked)
        if not held.ready:
            return identity.answer_without_attempt(turn, held, self.router) if asked else False
        ctx.allowed = frozenset({"verify_identity"})
        try:
            result = ctx.call("verify_identity", phone=held.phone, birth_date=held.birth.isoformat())
        except ToolError as err:  # a throttle: wait (minutes), or closed for this conversation
            self.privacy.forget_identity(ctx.conversation_id)
            if err.code == "verification_closed":
                state.verify_attempts = max(state.verify_attempts, identity.MAX_FAILURES)
            said = say("identity.closed") if identity.closed(state) else err.message_ko
            return identity.refuse(turn, held, self.router, said, asked=asked)
        if not result.verified:
            self.privacy.attempted(ctx.conversation_id)  # kept: a correction of one part is tried with the other
            state.verify_attempts += 1
            if identity.closed(state):
                self.privacy.forget_identity(ctx.conversation_id)
                state.awaiting = None
                state.queue = []
                turn.messages.append(say("identity.locked", attempts=identity.MAX_FAILURES))
            else:
                state.awaiting = Awaiting(kind="identity")
                turn.messages.append(say("identity.failed"))
            return True
        self.privacy.forget_identity(ctx.conversation_id)
        state.verified_customer_id = result.customer_id
        state.awaiting = None
        turn.messages.append(say("identity.ok"))
        queued, state.queue = state.queue, []
        if queued:
            self._run_steps(turn, queued)
            return True
        return asked  # offered with a request: routing continues

    # -- slots ----------------------------------------------------------------------------------------------
    def _resolve_slot(self, turn: Turn) -> bool:
        state, ctx = turn.state, turn.ctx
        awaiting = state.awaiting
        assert awaiting is not None and awaiting.step is not None
        agent = self.agents[awaiting.step.agent]
        ctx.allowed = frozenset(agent.tools)
        filled = agent.on_slot(awaiting.step, awaiting.slot or "", ctx)
        if filled is None and dialogue.is_bare_yes_no(ctx.text):
            state.awaiting = None
            if dialogue.is_negative(ctx.text):  # "아니요" to "어느 회선인가요?": the request is dropped
                state.queue = []
                turn.messages.append(say("confirm.stopped"))
                return True
            queued, state.queue = state.queue, []  # "네" is not the value: ask for it again
            self._run_steps(turn, [awaiting.step, *queued])
            return True
        if filled is None:
            state.awaiting = None
            state.queue = []
            return False
        state.awaiting = None
        queued, state.queue = state.queue, []
        self._run_steps(turn, [filled, *queued])
        return True


# The backend did not answer (or its answer was lost): the agreed proposal stays, to be retried as it is.
BACKEND_FAULTS = frozenset({"backend_unavailable", "backend_outcome_unknown"})


def _reads_only(route: Any) -> bool:
    tasks = [i for i in route.intents if i not in NON_TASK_INTENTS]
    return bool(tasks) and READ_ONLY_INTENTS.issuperset(tasks)


def _only_transfers(pending: PendingAction) -> bool:
    """Whether the proposal is a handoff to a human agent and nothing else."""
    calls = [c for part in _parts(pending) for c in part.calls]
    return bool(calls) and all(c.tool == "transfer_to_human" for c in calls)


def _call_key(conversation_id: str, part: PendingAction, index: int) -> str:
    """Idempotency key of one call of an agreed proposal: a retried or replayed turn never runs it twice."""
    return f"{conversation_id}:{part.id}:{index}"


def _parts(pending: PendingAction) -> list[PendingAction]:
    """The proposal and the ones bundled with it, each on its own."""
    return [pending.model_copy(update={"then": []}), *pending.then]


def _mask_args(args: dict[str, Any], mask: Any) -> dict[str, Any]:
    return {k: mask(v) if isinstance(v, str) else v for k, v in args.items()}
