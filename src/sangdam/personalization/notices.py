"""Proactive notices: things the customer should know, stated once per conversation, from tool results.

Data nearly used up (≤ 10% of the allowance left, or capped), an overdue bill, a contract ending within
30 days. A notice is skipped when this turn's reply already covers its topic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sangdam.orchestrator.format import gb, kdate, say, won
from sangdam.tools.base import ToolError

if TYPE_CHECKING:
    from sangdam.agents.base import AgentContext

DATA_LOW_SHARE = 0.10
NOTICE_TOOLS = frozenset({"list_lines", "get_data_usage", "get_bills", "get_contract"})
# notice kind → intents whose reply already covers it
_COVERED_BY = {"overdue": "billing.", "data": "data.", "contract_ending": "contract."}


def proactive_notices(ctx: AgentContext, exclude: set[str], intents: list[str] | None = None) -> Iterator[tuple[str, str]]:
    """(kind, Korean text) for each relevant notice not yet sent in this conversation."""
    intents = intents or []
    wanted = [k for k in ("overdue", "data", "contract_ending") if k not in exclude
              and not any(i.startswith(_COVERED_BY[k]) for i in intents)]
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
