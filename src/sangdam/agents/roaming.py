"""Roaming agent: passes by country, turning roaming on (with a pass); turning it off is the packaged procedure
roaming_disable (resources/procedures/roaming_disable.yaml), run through this agent."""

from __future__ import annotations

import re
from typing import Any

from sangdam.agents.base import Agent, AgentContext, Outcome
from sangdam.agents.common import LINE_TOOLS, ask_line, confirm, fill_line_slot, resolve_line
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.format import gb, say, won
from sangdam.orchestrator.state import PendingAction, PlannedCall, Step
from sangdam.tools.messages import country_codes, country_name_ko

_ENABLE_VERB = re.compile(r"(켜\s*주|켜줘|켜\s*줘|신청|가입|활성화\s*해|해\s*주세요|해줘)")
_DISABLE_VERB = re.compile(r"(꺼\s*주|꺼줘|끄|끌|해제|중지|비활성|off)", re.I)
_STATUS = re.compile(r"(켜져|꺼져|되어\s*있|돼\s*있|상태|사용\s*중|이용\s*중|적용)")


def find_country(text: str) -> str | None:
    """ISO code of a country named in ``text`` ("일본", "미국 출장", "Japan")."""
    compact = dialogue.compact(text)
    lowered = text.lower()
    best: tuple[int, str] | None = None
    for name, code in country_codes().items():
        key = dialogue.compact(name)
        if key.isascii():  # English names as whole words only ("japan"), never codes inside words ("pin")
            found = len(key) >= 3 and re.search(rf"(?<![a-z]){re.escape(name.lower())}(?![a-z])", lowered)
        else:
            found = len(key) >= 2 and key in compact
        if found and (best is None or len(key) > best[0]):
            best = (len(key), code)
    return best[1] if best else None


class RoamingAgent(Agent):
    name = "roaming"
    intents = ("roaming.enable", "roaming.disable", "roaming.info")
    tools = ("list_roaming_passes", "enable_roaming", "disable_roaming", "get_line", *LINE_TOOLS)

    def needs_identity(self, step: Step, ctx: AgentContext) -> bool:
        return step.intent != "roaming.info"

    def before_procedure(self, step: Step, ctx: AgentContext) -> Outcome | None:
        """A status question routed to a change ("제 폰 지금 로밍 켜져 있어요?", "로밍 상태 보여줘"): answered, read
        only, before any change is proposed. Also run first for ``roaming.disable``, whose steps are the packaged
        procedure ``roaming_disable`` (resources/procedures/roaming_disable.yaml)."""
        text = step.text or ctx.text
        verb = _DISABLE_VERB if step.intent == "roaming.disable" else _ENABLE_VERB
        if ctx.customer_id and _STATUS.search(text) and find_country(text) is None and not verb.search(text):
            return self._status(step, ctx)
        return None

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        if (status := self.before_procedure(step, ctx)) is not None:
            return status
        if step.intent == "roaming.info":
            return self._info(step, ctx)
        if step.intent != "roaming.enable":  # roaming.disable runs its procedure; here only if none was loaded
            from sangdam.procedures.runner import BROKEN_KO

            return Outcome(messages=[BROKEN_KO])
        line = resolve_line(step, ctx, statuses=("active",))
        if line is None:
            return ask_line(ctx)
        step.slots["line_id"] = line["id"]
        return self._enable(step, ctx)

    def _passes(self, country: str | None, ctx: AgentContext) -> Any:
        return ctx.call("list_roaming_passes", country=country) if country else ctx.call("list_roaming_passes")

    def _listing(self, passes: Any) -> list[str]:
        header = (say("roaming.passes_header", country=passes.country_name or country_name_ko(passes.country))
                  if passes.country else say("roaming.passes_header_all"))
        items = [say("roaming.pass_item", name=p.name, days=p.days, data=gb(p.data_gb), price=won(p.price_krw)) for p in passes.passes]
        return [header, *items]

    def _info(self, step: Step, ctx: AgentContext) -> Outcome:
        text = step.text or ctx.text
        if ctx.customer_id and _STATUS.search(text) and find_country(text) is None:
            return self._status(step, ctx)
        country = step.slots.get("country") or find_country(text)
        passes = self._passes(country, ctx)
        if not passes.passes:
            return Outcome(messages=[say("roaming.no_passes", country=passes.country_name or country)])
        messages = self._listing(passes)
        ctx.state.last_passes = [p.id for p in passes.passes]  # what "두 번째 걸로" next points at
        if ctx.customer_id:
            line = resolve_line(step, ctx)
            if line is not None:
                detail = ctx.call("get_line", line_id=line["id"])
                if detail.roaming_enabled:
                    messages.append(say("roaming.status_on", pass_text=""))
        return Outcome(messages=messages)

    def _status(self, step: Step, ctx: AgentContext) -> Outcome:
        line = resolve_line(step, ctx)
        if line is None:
            return ask_line(ctx)
        detail = ctx.call("get_line", line_id=line["id"])
        if not detail.roaming_enabled:
            return Outcome(messages=[say("roaming.status_off")])
        pass_text = ""
        if detail.roaming_pass_id:
            passes = {p.id: p for p in self._passes(None, ctx).passes}
            if detail.roaming_pass_id in passes:
                pass_text = " " + say("roaming.status_pass", name=passes[detail.roaming_pass_id].name)
        return Outcome(messages=[say("roaming.status_on", pass_text=pass_text)])

    def _enable(self, step: Step, ctx: AgentContext) -> Outcome:
        text = step.text or ctx.text
        all_passes = self._passes(None, ctx).model_dump(mode="json")["passes"]
        named = step.slots.get("pass_id") or next(iter(p["id"] for p in dialogue.match_by_name(text, all_passes)), None)
        if not named and (idx := dialogue.listed_position(text, len(ctx.state.last_passes))) is not None:
            named = ctx.state.last_passes[idx]  # "두 번째 걸로", "제일 싼 걸로" right after the passes were listed
        if named:
            args = {"line_id": step.slots["line_id"], "pass_id": named}
            proposal = ctx.propose("enable_roaming", **args)
            return confirm(ctx, step, [("enable_roaming", args)], proposal.summary_ko)
        country = step.slots.get("country") or find_country(text)
        if country is None:
            return Outcome(messages=[say("roaming.ask_country")], ask_slot="country")
        passes = self._passes(country, ctx)
        if not passes.passes:
            return Outcome(messages=[say("roaming.no_passes", country=passes.country_name or country)])
        ctx.state.last_passes = [p.id for p in passes.passes]
        choices = [{"id": p.id, "name": p.name} for p in passes.passes]
        pending = ctx.pending(step, [], "", choices=choices, slots={"line_id": step.slots["line_id"]})
        return Outcome(messages=[*self._listing(passes), say("roaming.choose")], proposal=pending)

    def pick_choice(self, pending: PendingAction, ctx: AgentContext, text: str) -> PendingAction | None:
        """The option ``text`` picks (by name, "두 번째", "제일 싼 거"), as a one-call pending action."""
        hit = dialogue.match_by_name(text, pending.choices)
        choice = hit[0] if hit else None
        if choice is None:
            idx = dialogue.listed_position(text, len(pending.choices))  # passes are listed cheapest first
            choice = pending.choices[idx] if idx is not None else None
        if choice is None:
            return None
        args = {"line_id": pending.slots["line_id"], "pass_id": choice["id"]}
        return pending.model_copy(update={"calls": [PlannedCall(tool="enable_roaming", args=args)], "choices": []})

    def pick_only_choice(self, pending: PendingAction) -> PendingAction:
        """The single option of a one-item list (the customer just said "네")."""
        args = {"line_id": pending.slots["line_id"], "pass_id": pending.choices[0]["id"]}
        return pending.model_copy(update={"calls": [PlannedCall(tool="enable_roaming", args=args)], "choices": []})

    def propose_choice(self, chosen: PendingAction, ctx: AgentContext) -> Outcome:
        args = chosen.calls[0].args
        proposal = ctx.propose("enable_roaming", **args)
        pending = chosen.model_copy(update={"summary_ko": proposal.summary_ko})
        return Outcome(messages=[proposal.summary_ko], proposal=pending)

    def on_slot(self, step: Step, slot: str, ctx: AgentContext) -> Step | None:
        if slot == "line":
            return fill_line_slot(step, ctx)
        if slot == "country":
            country = find_country(ctx.text)
            if country is None:
                return None
            return step.model_copy(update={"slots": {**step.slots, "country": country}, "text": f"{step.text} {ctx.text}"})
        return None

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        r = results[0]
        if not r.roaming_enabled:  # roaming.disable's own confirmations are its procedure's
            return Outcome(messages=[say("roaming.disabled")])
        if r.pass_name:
            return Outcome(messages=[say("roaming.enabled", name=r.pass_name, price=won(r.charge_krw))])
        return Outcome(messages=[say("roaming.enabled_payg")])
