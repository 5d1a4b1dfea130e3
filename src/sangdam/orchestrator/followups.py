"""Follow-ups: the customer's answer to what the bot asked in its last reply.

A pending proposal waits for 네/아니요 (or the pick of one priced option); an identity request waits for phone
number and birth date; a slot question waits for its value; a troubleshooting flow waits for "해결됐어요" or
"그래도 안 돼요". Each handler returns False when the message is not such an answer but a new request.
"""

from __future__ import annotations

from typing import Any

from sangdam.orchestrator import dialogue
from sangdam.orchestrator.format import say
from sangdam.orchestrator.state import Awaiting, PendingAction
from sangdam.orchestrator.turn import Turn
from sangdam.orchestrator.types import ToolCallRecord
from sangdam.tools.base import ToolError

MAX_VERIFY_ATTEMPTS = 3
# A message routed to another task with at least this confidence is a new request, not a "yes".
OTHER_REQUEST_CONFIDENCE = 0.7


class FollowUps:
    """Mixed into ``Orchestrator``: uses its ``agents``, ``router``, ``privacy`` and ``_run_steps``."""

    agents: dict[str, Any]
    privacy: Any
    router: Any

    def _run_steps(self, turn: Turn, steps: list[Any]) -> None:  # provided by Orchestrator
        raise NotImplementedError

    # -- pending confirmations ----------------------------------------------------------------------------
    def _resolve_pending(self, turn: Turn) -> bool:
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

    def _execute(self, turn: Turn, pending: PendingAction) -> None:
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

    def _is_other_request(self, turn: Turn, pending: PendingAction) -> bool:
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

    def _decline(self, turn: Turn) -> bool:
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
    def _resolve_identity(self, turn: Turn, original: str, *, asked: bool) -> bool:
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
    def _resolve_slot(self, turn: Turn) -> bool:
        state, ctx = turn.state, turn.ctx
        awaiting = state.awaiting
        assert awaiting is not None and awaiting.step is not None
        agent = self.agents[awaiting.step.agent]
        ctx.allowed = frozenset(agent.tools)
        filled = agent.on_slot(awaiting.step, awaiting.slot or "", ctx)
        if filled is None:
            state.awaiting = None
            state.queue = []
            return False
        state.awaiting = None
        queued, state.queue = state.queue, []
        self._run_steps(turn, [filled, *queued])
        return True

    def _continue_troubleshooting(self, turn: Turn) -> bool:
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


def _mask_args(args: dict[str, Any], mask: Any) -> dict[str, Any]:
    return {k: mask(v) if isinstance(v, str) else v for k, v in args.items()}
