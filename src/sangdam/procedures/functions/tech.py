"""Troubleshooting computation for ``tech_troubleshoot.yaml`` (the built-in intent ``tech.troubleshoot``).

The flows (trigger words, the network-side checks that explain a symptom, the device steps) are data in
``resources/agents/troubleshooting.yaml``. Here: which flow a symptom names (``pick_flow``), how the customer
answered a device step (``fix_result``), and which network-side finding explains the symptom
(``troubleshooting_finding``: the first blocking finding of the flow's checks, or roaming off abroad; the sum of the
overdue bills). The questions, the explanations, the loop over the device steps and the ticket are the procedure's.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

from sangdam.orchestrator import dialogue
from sangdam.orchestrator.resources import load_resource
from sangdam.procedures.functions import FunctionError, register_function
from sangdam.tools.messages import format_value

_ABROAD = re.compile(r"(해외|외국|출장\s*중|여행\s*중|현지)")
_WANTS_TICKET = re.compile(r"(접수|기사|점검\s*요청|수리|a/s|as\s*신청)", re.I)


@lru_cache(maxsize=1)
def flows() -> dict[str, Any]:
    return load_resource("agents/troubleshooting.yaml")["flows"]


def pick_flow(text: str) -> str | None:
    """The flow whose trigger words appear in ``text`` (first listed wins: specific before generic); a country
    named ("지금 일본인데 안 돼요") is a connectivity problem abroad: ``mobile_data``. None when no flow fits."""
    for flow_id, flow in flows().items():
        if any(dialogue.compact(t) in dialogue.compact(text) for t in flow["triggers"]):
            return flow_id
    from sangdam.agents.roaming import find_country

    if find_country(text):
        return "mobile_data"
    return None


def is_abroad(text: str) -> bool:
    from sangdam.agents.roaming import find_country

    return bool(_ABROAD.search(text) or find_country(text) not in (None, "KR"))


def fix_result(text: str) -> str | None:
    """The customer's answer to a device step: ``resolved`` ("됐어요"), ``ticket`` (asks for a ticket or a
    technician), ``not_resolved`` ("아니요", "그래도 안 돼요", "네 해 봤어요"); None when the message is about
    something else (a new request)."""
    if dialogue.says_resolved(text):
        return "resolved"
    if _WANTS_TICKET.search(text):
        return "ticket"
    if dialogue.is_negative(text) or dialogue.says_not_resolved(text) or dialogue.is_affirmative(text):
        return "not_resolved"
    return None


@register_function("troubleshooting_flow")
def troubleshooting_flow(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The flow ``args["flow"]`` (an id, or the symptom's text): ``{id, name, checks, steps}``."""
    given = str(args.get("flow") or "")
    flow_id = given if given in flows() else pick_flow(given)
    if flow_id is None:
        raise FunctionError(f"no troubleshooting flow fits {given!r}")
    flow = flows()[flow_id]
    return {"id": flow_id, "name": flow["name"], "checks": list(flow["checks"]), "steps": list(flow["steps"])}


@register_function("troubleshooting_finding")
def troubleshooting_finding(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
    """What explains the symptom on the network side, from ``check_line_diagnostics``' result (``diagnostics``),
    the flow's ``checks`` and the request ``text``: ``finding`` (the first of the diagnostics' findings, most
    blocking first, that the flow checks; else ``roaming_off`` when the customer is abroad with roaming off; else
    None), ``overdue_total_krw`` (the sum of the overdue bills) and ``outage_expected_at`` (when the first outage
    is expected to end, as Korean text; None when unknown)."""
    diag = args.get("diagnostics")
    if not isinstance(diag, dict):
        raise FunctionError("'diagnostics' must be check_line_diagnostics' result")
    checks = set(args.get("checks") or ())
    blocking = [f for f in diag.get("findings") or [] if f in checks]
    finding = blocking[0] if blocking else None
    if finding is None and not diag.get("roaming_enabled") and is_abroad(str(args.get("text") or "")):
        finding = "roaming_off"  # nothing on the device will help
    outages = diag.get("outages") or []
    expected = outages[0].get("expected_end") if outages else None
    return {
        "finding": finding,
        "overdue_total_krw": sum(int(b.get("amount_krw") or 0) for b in diag.get("overdue_bills") or []),
        "outage_expected_at": format_value("at", dt.datetime.fromisoformat(expected)) if expected else None,
    }
