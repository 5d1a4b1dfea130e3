"""Read tools about the network side: roaming passes, line diagnostics, outages."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.domain.models import RoamingPass
from sangdam.backends.sql import lookups
from sangdam.tools import messages
from sangdam.tools.base import ToolContext, ToolError
from sangdam.tools.inputs import LineArgs, OutagesArgs, RoamingPassesArgs
from sangdam.tools.results import Diagnostics, OutageList, OverdueBill, RoamingPassList
from sangdam.backends.sql.views import outage_info, pass_info


def resolve_country(text: str) -> str:
    """ISO-3166 alpha-2 code of ``text`` (``JP``, ``jp``, ``일본``, ``Japan``), else ``unknown_country``."""
    table = messages.country_codes()
    key = messages.normalise_name(text)
    if key in table:
        return table[key]
    if re.fullmatch(r"[A-Za-z]{2}", text.strip()):
        return text.strip().upper()  # a well-formed code we have no name for: still usable against pass lists
    raise ToolError("unknown_country", f"unknown country {text!r}", {"country": text})


def list_roaming_passes(session: Session, ctx: ToolContext, args: RoamingPassesArgs) -> RoamingPassList:
    passes = session.scalars(select(RoamingPass).order_by(RoamingPass.price, RoamingPass.id)).all()
    code = resolve_country(args.country) if args.country and args.country.strip() else None
    if code:
        passes = [p for p in passes if code in (p.countries or [])]
    return RoamingPassList(
        country=code,
        country_name=messages.country_name_ko(code) if code else None,
        passes=[pass_info(p) for p in passes],
    )


def check_line_diagnostics(session: Session, ctx: ToolContext, args: LineArgs) -> Diagnostics:
    """Network-side facts for troubleshooting, with ``findings`` ordered from most to least blocking."""
    line = lookups.owned_line(session, ctx, args.line_id)
    cust = lookups.customer(session, ctx)
    allowance = lookups.allowance_gb(line)
    cap_reached = allowance is not None and float(line.data_used_gb or 0) >= allowance
    outages = lookups.active_outages(session, ctx.today, cust.address) if cust.address else []
    overdue = lookups.overdue_bills(session, cust.id)
    rp = session.get(RoamingPass, line.roaming_pass_id) if line.roaming_pass_id else None

    findings = []
    if line.status != "active":
        findings.append(f"line_{line.status}")  # line_suspended | line_lost | line_closed
    if overdue:
        findings.append("overdue_bill")
    if outages:
        findings.append("outage_in_area")
    if cap_reached:
        findings.append("data_cap_reached")
    if not line.mms_enabled:
        findings.append("mms_disabled")
    return Diagnostics(
        line_id=line.id,
        status=line.status,
        suspend_reason=line.suspend_reason,
        plan_name=line.plan.name,
        data_used_gb=round(float(line.data_used_gb or 0), 2),
        allowance_gb=allowance,
        data_cap_reached=cap_reached,
        throttle_kbps=line.plan.throttle_kbps if cap_reached else None,
        roaming_enabled=line.roaming_enabled,
        roaming_pass_id=line.roaming_pass_id,
        roaming_pass_name=rp.name if rp else None,
        mms_enabled=line.mms_enabled,
        outages=[outage_info(o) for o in outages],
        overdue_bills=[OverdueBill(id=b.id, period=b.period, amount_krw=b.amount) for b in overdue],
        findings=findings,
    )


def get_outages(session: Session, ctx: ToolContext, args: OutagesArgs) -> OutageList:
    area = args.area.strip() if args.area else None
    return OutageList(outages=[outage_info(o) for o in lookups.active_outages(session, ctx.today, area or None)])
