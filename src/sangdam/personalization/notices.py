"""Proactive notices: things the customer should know, stated once per conversation, from tool results.

Data nearly used up (≤ 10% of the allowance left, or capped), an overdue bill, a contract ending within
30 days. A notice is given only when it is new to the customer (neither this reply nor an earlier one in the
conversation states its fact: ``resources/templates/facts.yaml``) and related to what was asked (``_RELATED``):
a contract ending is no footnote to a data question.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sangdam.orchestrator.format import gb, kdate, say, won
from sangdam.orchestrator.repetition import stated_facts
from sangdam.tools.base import ToolError

if TYPE_CHECKING:
    from sangdam.agents.base import AgentContext

DATA_LOW_SHARE = 0.10
NOTICE_TOOLS = frozenset({"list_lines", "get_data_usage", "get_bills", "get_contract"})
# notice kind → intents (prefixes) it is related to: an unpaid bill matters to bills, a blocked line and every
# change that costs money; data left to data, plans and faults; a contract ending to contracts, plans and bills
_RELATED = {
    "overdue": ("billing.inquiry", "line.", "tech.", "plan.change", "data.refill", "roaming.enable", "contract.cancel"),
    "data": ("data.usage", "plan.", "tech."),
    "contract_ending": ("contract.", "plan.", "billing.inquiry"),
}
# notice kind → the facts (facts.yaml) that, once stated, make it old news
_FACTS = {"overdue": {"overdue"}, "data": {"data_out", "data_low"}, "contract_ending": {"contract_ending"}}


def related_notices(intents: list[str], exclude: set[str]) -> list[str]:
    """The notice kinds related to a turn that served ``intents``, except those in ``exclude``."""
    return [k for k in _RELATED if k not in exclude and any(i.startswith(_RELATED[k]) for i in intents)]


def proactive_notices(ctx: AgentContext, kinds: list[str], said: list[str] | None = None) -> Iterator[tuple[str, str]]:
    """(kind, Korean text) for each notice of ``kinds`` that applies and is new to the customer: its fact is not
    stated in ``said`` (the earlier bot replies and this reply so far)."""
    told = stated_facts("\n".join(said or []))
    wanted = [k for k in kinds if not (_FACTS[k] & told)]
    if not wanted:
        return
    saved_allowed = ctx.allowed
    ctx.allowed = NOTICE_TOOLS
    try:
        lines = [ln for ln in (ctx.blackboard.get("list_lines") or ctx.call("list_lines").model_dump(mode="json"))["lines"]
                 if ln["status"] == "active"]
        if "overdue" in wanted:
            bills = ctx.call("get_bills", status="overdue", months=12)
            if bills.total_overdue_krw > 0:
                yield "overdue", say("notices.overdue", amount=won(bills.total_overdue_krw))
        for line in lines:
            if "data" in wanted:
                u = ctx.call("get_data_usage", line_id=line["id"])
                if not u.unlimited and u.allowance_gb:
                    if u.throttled:
                        yield "data", say("notices.data_out")
                        wanted.remove("data")
                    elif u.remaining_gb is not None and u.remaining_gb <= DATA_LOW_SHARE * u.allowance_gb:
                        yield "data", say("notices.data_low", remaining=gb(u.remaining_gb), allowance=gb(u.allowance_gb))
                        wanted.remove("data")
            if "contract_ending" in wanted:
                c = ctx.call("get_contract", line_id=line["id"])
                if c.ends_within_30_days and c.days_to_end is not None and c.days_to_end > 0:
                    yield "contract_ending", say("notices.contract_ending", date=kdate(c.contract_end), days=c.days_to_end)
                    wanted.remove("contract_ending")
    except ToolError:
        return
    finally:
        ctx.allowed = saved_allowed
