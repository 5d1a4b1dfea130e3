"""Telecom data model (SQLAlchemy 2.0).

Field names of the first eight tables are a public contract: scenario fixtures and other programs use them.
Money is integer KRW, dates are ``date``; string primary keys keep fixtures readable (``C1``, ``P-5G-59``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of every Sangdam table."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    network: Mapped[str] = mapped_column(String(8))  # "5G" | "LTE"
    monthly_fee: Mapped[int] = mapped_column(Integer)
    data_gb: Mapped[float | None] = mapped_column(Float, nullable=True)  # None = unlimited
    throttle_kbps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    refill_price_per_gb: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(Text, default="")


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(120), nullable=True)
    address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    segment: Mapped[str] = mapped_column(String(40), default="standard")
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=dt.datetime(2020, 1, 1))

    lines: Mapped[list[Line]] = relationship(back_populates="customer", order_by="Line.id")
    bills: Mapped[list[Bill]] = relationship(back_populates="customer", order_by="Bill.period")


class Line(Base):
    __tablename__ = "lines"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|suspended|lost|closed
    roaming_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    data_used_gb: Mapped[float] = mapped_column(Float, default=0.0)
    data_refill_gb: Mapped[float] = mapped_column(Float, default=0.0)
    contract_kind: Mapped[str] = mapped_column(String(24), default="none")  # none|selective_discount|device_installment
    contract_start: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    contract_end: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    monthly_discount: Mapped[int] = mapped_column(Integer, default=0)
    device_model: Mapped[str | None] = mapped_column(String(80), nullable=True)
    device_installment_left: Mapped[int] = mapped_column(Integer, default=0)
    # Beyond the contract: network-side facts used by diagnostics and pending changes.
    suspend_reason: Mapped[str | None] = mapped_column(String(24), nullable=True)  # lost|temporary|military|nonpayment
    mms_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    roaming_pass_id: Mapped[str | None] = mapped_column(ForeignKey("roaming_passes.id"), nullable=True)
    pending_plan_id: Mapped[str | None] = mapped_column(ForeignKey("plans.id"), nullable=True)

    customer: Mapped[Customer] = relationship(back_populates="lines")
    plan: Mapped[Plan] = relationship(foreign_keys=[plan_id])


class Bill(Base):
    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("line_id", "period", name="uq_bills_line_period"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="issued")  # issued|paid|overdue
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"name": str, "amount": int}]

    customer: Mapped[Customer] = relationship(back_populates="bills")


class UsageDaily(Base):
    __tablename__ = "usage_daily"

    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    data_mb: Mapped[int] = mapped_column(Integer, default=0)
    voice_min: Mapped[int] = mapped_column(Integer, default=0)
    sms: Mapped[int] = mapped_column(Integer, default=0)


class RoamingPass(Base):
    __tablename__ = "roaming_passes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    days: Mapped[int] = mapped_column(Integer)
    data_gb: Mapped[float] = mapped_column(Float)
    price: Mapped[int] = mapped_column(Integer)
    countries: Mapped[list[Any]] = mapped_column(JSON, default=list)  # ISO-3166 alpha-2


class Outage(Base):
    """A known network outage in an area (used by diagnostics and ``get_outages``)."""

    __tablename__ = "outages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    area: Mapped[str] = mapped_column(String(80), index=True)  # e.g. "서울 강남구"
    service: Mapped[str] = mapped_column(String(16), default="data")  # data|voice|all
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expected_end: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), nullable=True, index=True)
    line_id: Mapped[str | None] = mapped_column(ForeignKey("lines.id"), nullable=True)
    category: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|in_progress|closed
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class AuditLog(Base):
    """Append-only record of every write tool call (success or refusal)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    who: Mapped[str] = mapped_column(String(80))
    tool: Mapped[str] = mapped_column(String(60), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class ToolExecution(Base):
    """Idempotency record: a write run once per key; a retry returns the stored result."""

    __tablename__ = "tool_executions"

    idempotency_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    tool: Mapped[str] = mapped_column(String(60))
    args_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class BackendRequest(Base):
    """Idempotency record of the ``sql`` adapter, kept with the operator's records it guards: a commit under a key
    seen before returns the stored result and writes nothing (Sangdam's own ``tool_executions`` is the other side
    of the same promise, in Sangdam's store)."""

    __tablename__ = "backend_requests"

    idempotency_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    operation: Mapped[str] = mapped_column(String(60))
    args_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class CustomerPreference(Base):
    """Contact preferences a customer told Sangdam ("앞으로 문자로 안내해 주세요"): Sangdam's own record, merged over
    what the operator's CRM holds when the profile is read."""

    __tablename__ = "customer_preferences"

    customer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
