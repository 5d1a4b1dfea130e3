"""Typed ports: the operator's systems, one ``Protocol`` per system, with pydantic models in and out.

Every method is one operation of a canonical tool, with that tool's input model (``sangdam.tools.inputs``) and
result model (``sangdam.tools.results``). A write is two methods: ``preview_<tool>`` (every check and the computed
effect — the ``*Effect`` models below — nothing written) and ``commit_<tool>(…, idempotency_key)`` (the write, at
most once per key: the key reaches the backend, so a retried turn never charges twice even when it is remote).

:class:`Ports` gives these typed views over any :class:`~sangdam.backends.core.Backend` (``sql``, ``rest``, …):
``Ports(backend).lines.get_line(ctx, LineArgs(line_id="L-1"))``. The tool layer uses the same ``Backend`` by tool
name; :data:`EFFECTS` is how it checks a preview before the customer is asked (a backend whose preview does not fit
is a fault, never a confirmation question built on a wrong number).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from sangdam.backends.core import Backend
from sangdam.tools.base import NoArgs, ToolContext
from sangdam.tools.inputs import (
    BillArgs,
    ChangePlanArgs,
    CreateTicketArgs,
    EnableRoamingArgs,
    GetBillsArgs,
    LineArgs,
    ListPlansArgs,
    OutagesArgs,
    RefillDataArgs,
    RoamingPassesArgs,
    SuspendLineArgs,
    TransferArgs,
)
from sangdam.tools.results import (
    BillExplanation,
    BillList,
    CancellationResult,
    ContractInfo,
    CustomerInfo,
    DataUsage,
    Diagnostics,
    LineDetail,
    LineList,
    LineStatusResult,
    OutageList,
    PaymentResult,
    PlanChangeResult,
    PlanList,
    RecommendationResult,
    RefillResult,
    RoamingPassList,
    RoamingResult,
    TicketResult,
)


# --- effects: what a write would do (shown to the customer before they agree) ---------------------------------
class Effect(BaseModel):
    """Base of the preview models: fields a backend adds beyond these are dropped (never shown to a customer)."""

    model_config = ConfigDict(extra="ignore")


class ChangePlanEffect(Effect):
    line_id: str
    line_number: str
    old_plan_id: str
    old_plan_name: str
    old_monthly_fee_krw: int
    new_plan_id: str
    new_plan_name: str
    new_monthly_fee_krw: int
    effective: Literal["next_cycle", "immediate"]
    effective_date: dt.date
    prorated_charge_krw: int
    switch_cost_krw: int
    replaces_pending_plan_id: str | None = None


class RefillDataEffect(Effect):
    line_id: str
    line_number: str
    gb: int
    price_per_gb_krw: int
    charge_krw: int
    new_allowance_gb: float
    bill_period: str


class EnableRoamingEffect(Effect):
    line_id: str
    line_number: str
    pass_id: str | None
    pass_name: str | None
    pass_days: int | None
    pass_data_gb: float | None
    charge_krw: int
    bill_period: str


class DisableRoamingEffect(Effect):
    line_id: str
    line_number: str
    pass_id: str | None


class SuspendLineEffect(Effect):
    line_id: str
    line_number: str
    reason: str
    reason_ko: str
    new_status: str
    effective_date: dt.date


class ResumeLineEffect(Effect):
    line_id: str
    line_number: str
    old_status: str
    reason: str | None
    effective_date: dt.date


class PayBillEffect(Effect):
    bill_id: str
    period: str
    amount_krw: int
    was_overdue: bool
    lines_to_resume: list[str]
    remaining_overdue_krw: int


class CreateTicketEffect(Effect):
    category: str
    category_ko: str
    line_id: str | None
    summary: str


class TransferEffect(Effect):
    category: str
    summary: str
    customer_id: str | None


class CancellationEffect(Effect):
    line_id: str
    line_number: str
    discount_payback_krw: int
    device_installment_left_krw: int
    early_termination_total_krw: int
    as_of: dt.date


EFFECTS: dict[str, type[Effect]] = {
    "change_plan": ChangePlanEffect,
    "refill_data": RefillDataEffect,
    "enable_roaming": EnableRoamingEffect,
    "disable_roaming": DisableRoamingEffect,
    "suspend_line": SuspendLineEffect,
    "resume_line": ResumeLineEffect,
    "pay_bill": PayBillEffect,
    "create_ticket": CreateTicketEffect,
    "transfer_to_human": TransferEffect,
    "request_cancellation": CancellationEffect,
}


# --- the systems -------------------------------------------------------------------------------------------------
class CustomersPort(Protocol):
    """Identity and customer profile (CRM)."""

    def find_customer(self, phone: str, birth_date: dt.date) -> tuple[str, str] | None: ...
    def customer_names(self, customer_ids: set[str]) -> dict[str, str]: ...
    def get_customer(self, ctx: ToolContext, args: NoArgs) -> CustomerInfo: ...


class LinesPort(Protocol):
    """Subscriptions: the customer's lines, their status and contract."""

    def list_lines(self, ctx: ToolContext, args: NoArgs) -> LineList: ...
    def get_line(self, ctx: ToolContext, args: LineArgs) -> LineDetail: ...
    def get_contract(self, ctx: ToolContext, args: LineArgs) -> ContractInfo: ...
    def preview_suspend_line(self, ctx: ToolContext, args: SuspendLineArgs) -> SuspendLineEffect: ...
    def commit_suspend_line(self, ctx: ToolContext, args: SuspendLineArgs, idempotency_key: str | None) -> LineStatusResult: ...
    def preview_resume_line(self, ctx: ToolContext, args: LineArgs) -> ResumeLineEffect: ...
    def commit_resume_line(self, ctx: ToolContext, args: LineArgs, idempotency_key: str | None) -> LineStatusResult: ...
    def preview_request_cancellation(self, ctx: ToolContext, args: LineArgs) -> CancellationEffect: ...
    def commit_request_cancellation(self, ctx: ToolContext, args: LineArgs, idempotency_key: str | None) -> CancellationResult: ...


class CataloguePort(Protocol):
    """Plans (tariffs) and plan changes."""

    def plan_names(self) -> list[str]: ...
    def list_plans(self, ctx: ToolContext, args: ListPlansArgs) -> PlanList: ...
    def recommend_plans(self, ctx: ToolContext, args: LineArgs) -> RecommendationResult: ...
    def preview_change_plan(self, ctx: ToolContext, args: ChangePlanArgs) -> ChangePlanEffect: ...
    def commit_change_plan(self, ctx: ToolContext, args: ChangePlanArgs, idempotency_key: str | None) -> PlanChangeResult: ...


class BillingPort(Protocol):
    """Bills and payments."""

    def get_bills(self, ctx: ToolContext, args: GetBillsArgs) -> BillList: ...
    def explain_bill(self, ctx: ToolContext, args: BillArgs) -> BillExplanation: ...
    def preview_pay_bill(self, ctx: ToolContext, args: BillArgs) -> PayBillEffect: ...
    def commit_pay_bill(self, ctx: ToolContext, args: BillArgs, idempotency_key: str | None) -> PaymentResult: ...


class UsagePort(Protocol):
    """Data usage and refills."""

    def get_data_usage(self, ctx: ToolContext, args: LineArgs) -> DataUsage: ...
    def preview_refill_data(self, ctx: ToolContext, args: RefillDataArgs) -> RefillDataEffect: ...
    def commit_refill_data(self, ctx: ToolContext, args: RefillDataArgs, idempotency_key: str | None) -> RefillResult: ...


class RoamingPort(Protocol):
    """Roaming passes and the roaming switch."""

    def list_roaming_passes(self, ctx: ToolContext, args: RoamingPassesArgs) -> RoamingPassList: ...
    def preview_enable_roaming(self, ctx: ToolContext, args: EnableRoamingArgs) -> EnableRoamingEffect: ...
    def commit_enable_roaming(self, ctx: ToolContext, args: EnableRoamingArgs, idempotency_key: str | None) -> RoamingResult: ...
    def preview_disable_roaming(self, ctx: ToolContext, args: LineArgs) -> DisableRoamingEffect: ...
    def commit_disable_roaming(self, ctx: ToolContext, args: LineArgs, idempotency_key: str | None) -> RoamingResult: ...


class NetworkPort(Protocol):
    """Network diagnostics and outages."""

    def check_line_diagnostics(self, ctx: ToolContext, args: LineArgs) -> Diagnostics: ...
    def get_outages(self, ctx: ToolContext, args: OutagesArgs) -> OutageList: ...


class TicketsPort(Protocol):
    """Trouble tickets and handoff to human agents."""

    def preview_create_ticket(self, ctx: ToolContext, args: CreateTicketArgs) -> CreateTicketEffect: ...
    def commit_create_ticket(self, ctx: ToolContext, args: CreateTicketArgs, idempotency_key: str | None) -> TicketResult: ...
    def preview_transfer_to_human(self, ctx: ToolContext, args: TransferArgs) -> TransferEffect: ...
    def commit_transfer_to_human(self, ctx: ToolContext, args: TransferArgs, idempotency_key: str | None) -> TicketResult: ...


PORTS: dict[str, type] = {
    "customers": CustomersPort, "lines": LinesPort, "catalogue": CataloguePort, "billing": BillingPort,
    "usage": UsagePort, "roaming": RoamingPort, "network": NetworkPort, "tickets": TicketsPort,
}

M = TypeVar("M", bound=BaseModel)


class _View:
    """One system's typed methods over a backend's by-name calls (results validated into the declared models)."""

    def __init__(self, backend: Backend, port: type) -> None:
        self._backend, self._port = backend, port

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not hasattr(self._port, name):
            raise AttributeError(f"{self._port.__name__} has no operation {name!r}")
        backend = self._backend
        if name in ("find_customer", "customer_names", "plan_names"):
            return getattr(backend, name)
        if name.startswith("preview_"):
            tool = name.removeprefix("preview_")
            return lambda ctx, args: EFFECTS[tool].model_validate(backend.preview(tool, ctx, args))
        if name.startswith("commit_"):
            tool = name.removeprefix("commit_")
            return lambda ctx, args, idempotency_key: _as(_output(tool), backend.commit(tool, ctx, args, idempotency_key))
        return lambda ctx, args: _as(_output(name), backend.read(name, ctx, args))


class Ports:
    """Typed access to every system of one backend: ``Ports(b).billing.get_bills(ctx, GetBillsArgs())``."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        for attr, port in PORTS.items():
            setattr(self, attr, _View(backend, port))

    customers: CustomersPort
    lines: LinesPort
    catalogue: CataloguePort
    billing: BillingPort
    usage: UsagePort
    roaming: RoamingPort
    network: NetworkPort
    tickets: TicketsPort


def _output(tool: str) -> type[BaseModel]:
    from sangdam.tools.registry import get_tool

    return get_tool(tool).output_model


def _as(model: type[M], value: Any) -> M:
    return value if isinstance(value, model) else model.model_validate(
        value.model_dump(mode="json") if isinstance(value, BaseModel) else value)
