"""Tech support agent: guided troubleshooting flows.

Network-side facts first (``check_line_diagnostics``: suspension, overdue bill, outage in the area, data cap,
MMS provisioning): when the network explains the symptom, the customer is told so and no device step is
wasted. Otherwise one device step per turn; when the steps are exhausted, a ticket is proposed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from sangdam.agents.base import Agent, AgentContext, Outcome
from sangdam.agents.common import LINE_TOOLS, ask_line, confirm, fill_line_slot, last4, resolve_line
from sangdam.orchestrator import dialogue
from sangdam.orchestrator.format import say, speed, won
from sangdam.orchestrator.resources import load_resource
from sangdam.orchestrator.state import PendingAction, Step, TroubleshootState
from sangdam.tools.messages import format_value


_ABROAD = re.compile(r"(해외|외국|출장\s*중|여행\s*중|현지)")
_WANTS_TICKET = re.compile(r"(접수|기사|점검\s*요청|수리|a/s|as\s*신청)", re.I)


def _is_abroad(text: str) -> bool:
    from sangdam.orchestrator.dialogue import find_country

    return bool(_ABROAD.search(text) or find_country(text) not in (None, "KR"))


@lru_cache(maxsize=1)
def flows() -> dict[str, Any]:
    return load_resource("agents/troubleshooting.yaml")


def pick_flow(text: str) -> str | None:
    """The flow whose trigger words appear in ``text`` (first listed wins: specific before generic)."""
    for flow_id, flow in flows()["flows"].items():
        if any(dialogue.compact(t) in dialogue.compact(text) for t in flow["triggers"]):
            return flow_id
    from sangdam.orchestrator.dialogue import find_country

    if find_country(text):  # "지금 일본인데 안 돼요": a connectivity problem abroad
        return "mobile_data"
    return None


class TechSupportAgent(Agent):
    name = "tech_support"
    intents = ("tech.troubleshoot",)
    tools = ("check_line_diagnostics", "get_outages", "create_ticket", *LINE_TOOLS)

    def handle(self, step: Step, ctx: AgentContext) -> Outcome:
        flow_id = step.slots.get("flow") or pick_flow(step.text or ctx.text)
        if flow_id is None:
            return Outcome(messages=[flows()["ask_symptom"]], ask_slot="symptom")
        line = resolve_line(step, ctx)
        if line is None:
            return ask_line(ctx)
        step.slots.update(flow=flow_id, line_id=line["id"])
        diag = ctx.call("check_line_diagnostics", line_id=line["id"])
        flow = flows()["flows"][flow_id]
        blocking = [f for f in diag.findings if f in flow["checks"]]
        if not blocking and not diag.roaming_enabled and _is_abroad(step.text or ctx.text):
            ctx.state.troubleshoot = None  # abroad with roaming off: nothing on the device will help
            return Outcome(messages=[say("tech.found.roaming_off")])
        if blocking:
            ctx.state.troubleshoot = None
            return self._explain(blocking[0], diag, step, ctx)
        ctx.state.troubleshoot = TroubleshootState(flow=flow_id, line_id=line["id"], step_index=0)
        return Outcome(messages=[say("tech.network_ok", last4=last4(line["number"])), _device_step(flow, 0)])

    def _explain(self, finding: str, diag: Any, step: Step, ctx: AgentContext) -> Outcome:
        if finding in ("line_suspended", "line_lost", "line_closed"):
            reason = say(f"line.reasons.{diag.suspend_reason}") if diag.suspend_reason else ""
            messages = [say(f"tech.found.{finding}", reason=reason)]
            if diag.overdue_bills:
                messages.append(say("tech.found.overdue_bill", amount=won(_overdue_total(diag, ctx))))
            return Outcome(messages=messages)
        if finding == "overdue_bill":
            return Outcome(messages=[say("tech.found.overdue_bill", amount=won(_overdue_total(diag, ctx)))])
        if finding == "outage_in_area":
            outage = diag.outages[0]
            expected = say("tech.found.outage_expected", when=format_value("at", outage.expected_end)) if outage.expected_end else ""
            return Outcome(messages=[say("tech.found.outage_in_area", area=outage.area, expected=expected)])
        if finding == "data_cap_reached":
            return Outcome(messages=[say("tech.found.data_cap_reached", speed=speed(diag.throttle_kbps))])
        # mms_disabled: only the operator can provision it → propose a ticket
        summary = say("tech.mms_ticket")
        args = {"category": "tech_support", "summary": "MMS not provisioned on line; customer cannot send MMS", "line_id": diag.line_id}
        ctx.propose("create_ticket", **args)
        return confirm(ctx, step, [("create_ticket", args)], "\n".join([say("tech.found.mms_disabled"), summary]))

    def continue_flow(self, ctx: AgentContext) -> Outcome | None:
        """The customer's answer to a device step; None when the message is about something else."""
        ts = ctx.state.troubleshoot
        assert ts is not None
        text = ctx.text
        if dialogue.says_resolved(text):
            ctx.state.troubleshoot = None
            return Outcome(messages=[say("tech.resolved")])
        if not (dialogue.is_negative(text) or dialogue.says_not_resolved(text)
                or dialogue.is_affirmative(text) or _WANTS_TICKET.search(text)):
            ctx.state.troubleshoot = None
            return None
        flow = flows()["flows"][ts.flow]
        ts.step_index += 1
        if ts.step_index < len(flow["steps"]) and not _WANTS_TICKET.search(text):
            return Outcome(messages=[_device_step(flow, ts.step_index)])
        ctx.state.troubleshoot = None
        args = {"category": "tech_support", "summary": f"troubleshooting '{ts.flow}' exhausted without resolution",
                "line_id": ts.line_id}
        ctx.propose("create_ticket", **args)
        step = Step(agent=self.name, intent="tech.troubleshoot", slots={"flow": ts.flow, "line_id": ts.line_id})
        pending = ctx.pending(step, [("create_ticket", args)], say("tech.exhausted"))
        return Outcome(messages=[say("tech.exhausted")], proposal=pending)

    def on_slot(self, step: Step, slot: str, ctx: AgentContext) -> Step | None:
        if slot == "line":
            return fill_line_slot(step, ctx)
        if slot == "symptom":
            flow_id = pick_flow(ctx.text)
            return step.model_copy(update={"slots": {**step.slots, "flow": flow_id}}) if flow_id else None
        return None

    def on_confirmed(self, pending: PendingAction, results: list[Any], ctx: AgentContext) -> Outcome:
        return Outcome(messages=[say("tech.ticket_done", ticket=results[0].ticket_id)])


def _overdue_total(diag: Any, ctx: AgentContext) -> int:
    total = sum(b.amount_krw for b in diag.overdue_bills)
    ctx.blackboard.add_fact({"overdue_total_krw": total})  # a sum of tool amounts, computed in code
    return total


def _device_step(flow: dict[str, Any], index: int) -> str:
    return say("tech.ask_device_step", instruction=flow["steps"][index])
