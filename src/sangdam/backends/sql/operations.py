"""Which function of the sql adapter serves which built-in tool (the demo tables' implementation of each port
operation): reads have a ``handler``; writes a ``plan`` (every check, the effect, nothing written) and an ``apply``
(performs exactly that effect), run by :class:`~sangdam.backends.sql.SqlBackend` in the session it opens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from sangdam.backends.sql import account, account_writes, line_writes, network, usage
from sangdam.tools.base import ToolContext

ReadHandler = Callable[[Session, ToolContext, Any], BaseModel]
PlanHandler = Callable[[Session, ToolContext, Any], dict[str, Any]]
ApplyHandler = Callable[[Session, ToolContext, Any, dict[str, Any]], BaseModel]


@dataclass(frozen=True)
class Operation:
    handler: ReadHandler | None = None
    plan: PlanHandler | None = None
    apply: ApplyHandler | None = None


OPERATIONS: dict[str, Operation] = {
    "get_customer": Operation(handler=account.get_customer),
    "list_lines": Operation(handler=account.list_lines),
    "get_line": Operation(handler=account.get_line),
    "get_bills": Operation(handler=account.get_bills),
    "explain_bill": Operation(handler=account.explain_bill),
    "list_plans": Operation(handler=account.list_plans),
    "pay_bill": Operation(plan=account_writes.plan_pay_bill, apply=account_writes.apply_pay_bill),
    "create_ticket": Operation(plan=account_writes.plan_create_ticket, apply=account_writes.apply_create_ticket),
    "transfer_to_human": Operation(plan=account_writes.plan_transfer, apply=account_writes.apply_transfer),
    "request_cancellation": Operation(plan=account_writes.plan_request_cancellation, apply=account_writes.apply_request_cancellation),
    "change_plan": Operation(plan=line_writes.plan_change_plan, apply=line_writes.apply_change_plan),
    "refill_data": Operation(plan=line_writes.plan_refill_data, apply=line_writes.apply_refill_data),
    "enable_roaming": Operation(plan=line_writes.plan_enable_roaming, apply=line_writes.apply_enable_roaming),
    "disable_roaming": Operation(plan=line_writes.plan_disable_roaming, apply=line_writes.apply_disable_roaming),
    "suspend_line": Operation(plan=line_writes.plan_suspend_line, apply=line_writes.apply_suspend_line),
    "resume_line": Operation(plan=line_writes.plan_resume_line, apply=line_writes.apply_resume_line),
    "list_roaming_passes": Operation(handler=network.list_roaming_passes),
    "check_line_diagnostics": Operation(handler=network.check_line_diagnostics),
    "get_outages": Operation(handler=network.get_outages),
    "get_data_usage": Operation(handler=usage.get_data_usage),
    "recommend_plans": Operation(handler=usage.recommend_plans),
    "get_contract": Operation(handler=usage.get_contract),
}
