"""Load telecom data from plain dictionaries: scenario fixtures, the demo seed, tests.

The shape is the ``fixtures:`` block of an evaluation scenario (docs/scenarios.md), with the domain model's field
names (a public contract)::

    {"plans": [...], "roaming_passes": [...],
     "customers": [{..., "lines": [...], "bills": [...], "usage_daily": [...]}],
     "outages": [...], "tickets": [...]}

Values may come straight from YAML: dates as ``date`` objects or ISO strings, datetimes as ``datetime``, ``date``
or ISO strings. Every record is validated by a pydantic model, then references are checked (a line's plan exists,
a bill's line belongs to the same customer, ids are unique...). Any problem raises :class:`FixtureError`, whose
message names each offending field by path, e.g. ``customers[0].lines[1].plan_id: unknown plan 'P-X'``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sangdam.config import today as settings_today
from sangdam.domain.fixture_schema import (
    DEFAULT_CREATED_AT,
    BillIn,
    BillItemIn,
    CustomerIn,
    FixtureSet,
    LineIn,
    OutageIn,
    PlanIn,
    RoamingPassIn,
    TicketIn,
    UsageIn,
)
from sangdam.domain.models import Bill, Customer, Line, Outage, Plan, RoamingPass, Ticket, UsageDaily

__all__ = [
    "DEFAULT_CREATED_AT",
    "BillIn",
    "BillItemIn",
    "CustomerIn",
    "FixtureError",
    "FixtureSet",
    "LineIn",
    "OutageIn",
    "PlanIn",
    "RoamingPassIn",
    "TicketIn",
    "UsageIn",
    "check_references",
    "load_fixtures",
    "parse_fixtures",
]

class FixtureError(ValueError):
    """Invalid fixture data. ``problems`` holds ``(field path, message)`` pairs; ``str()`` lists them all."""

    def __init__(self, problems: Iterable[tuple[str, str]]):
        self.problems: list[tuple[str, str]] = list(problems)
        lines = [f"{path}: {message}" if path else message for path, message in self.problems]
        super().__init__("invalid fixtures:\n  " + "\n  ".join(lines))


def _path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_fixtures(data: Mapping[str, Any] | FixtureSet | None) -> FixtureSet:
    """Validate ``data`` into a :class:`FixtureSet` (raises :class:`FixtureError` naming each bad field)."""
    if isinstance(data, FixtureSet):
        return data
    if data is not None and not isinstance(data, Mapping):
        raise FixtureError([("", f"fixtures must be a mapping, got {type(data).__name__}")])
    try:
        return FixtureSet.model_validate(dict(data or {}))
    except ValidationError as exc:
        raise FixtureError((_path(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)) from None


def check_references(
    fs: FixtureSet,
    *,
    known_plans: Iterable[str] = (),
    known_passes: Iterable[str] = (),
    known_customers: Iterable[str] = (),
    known_lines: Iterable[str] = (),
) -> list[tuple[str, str]]:
    """Problems with ids and references inside ``fs``; ``known_*`` are ids already in the database."""
    problems: list[tuple[str, str]] = []
    plans = set(known_plans)
    passes = set(known_passes)

    def unique(items: Iterable[tuple[str, Any]], what: str, seen: set | None = None) -> None:
        seen = set() if seen is None else seen
        for path, key in items:
            if key in seen:
                problems.append((path, f"duplicate {what} {key!r}"))
            seen.add(key)

    unique(((f"plans[{i}].id", p.id) for i, p in enumerate(fs.plans)), "plan id")
    unique(((f"plans[{i}].name", p.name) for i, p in enumerate(fs.plans)), "plan name")
    unique(((f"roaming_passes[{i}].id", r.id) for i, r in enumerate(fs.roaming_passes)), "roaming pass id")
    plans |= {p.id for p in fs.plans}
    passes |= {r.id for r in fs.roaming_passes}

    customers = set(known_customers)
    all_lines = set(known_lines)
    unique(((f"customers[{i}].id", c.id) for i, c in enumerate(fs.customers)), "customer id", set(customers))
    line_ids: set[str] = set(all_lines)
    numbers: set[str] = set()
    bill_ids: set[str] = set()
    for ci, c in enumerate(fs.customers):
        base = f"customers[{ci}]"
        own = {line.id for line in c.lines}
        for li, line in enumerate(c.lines):
            lp = f"{base}.lines[{li}]"
            unique([(f"{lp}.id", line.id)], "line id", line_ids)
            if line.number is None:
                problems.append((f"{lp}.number", "required for every line but the customer's first"))
            else:
                unique([(f"{lp}.number", line.number)], "line number", numbers)
            for field in ("plan_id", "pending_plan_id"):
                ref = getattr(line, field)
                if ref is not None and ref not in plans:
                    problems.append((f"{lp}.{field}", f"unknown plan {ref!r}"))
            if line.roaming_pass_id is not None and line.roaming_pass_id not in passes:
                problems.append((f"{lp}.roaming_pass_id", f"unknown roaming pass {line.roaming_pass_id!r}"))
        periods: set[tuple[str, str]] = set()
        for bi, bill in enumerate(c.bills):
            bp = f"{base}.bills[{bi}]"
            if bill.line_id is None:
                problems.append((f"{bp}.line_id", "required when the customer has more than one line"))
                continue
            if bill.line_id not in own:
                problems.append((f"{bp}.line_id", f"line {bill.line_id!r} is not one of this customer's lines"))
            unique([(f"{bp}.id", bill.id)], "bill id", bill_ids)
            unique([(f"{bp}.period", (bill.line_id, bill.period))], "bill for line and period", periods)
        days: set[tuple[str, dt.date]] = set()
        for ui, usage in enumerate(c.usage_daily):
            up = f"{base}.usage_daily[{ui}]"
            if usage.line_id is None:
                problems.append((f"{up}.line_id", "required when the customer has more than one line"))
            elif usage.line_id not in own:
                problems.append((f"{up}.line_id", f"line {usage.line_id!r} is not one of this customer's lines"))
            else:
                unique([(f"{up}.date", (usage.line_id, usage.date))], "usage day for line", days)
    customers |= {c.id for c in fs.customers}

    unique(((f"outages[{i}].id", o.id) for i, o in enumerate(fs.outages)), "outage id")
    unique(((f"tickets[{i}].id", t.id) for i, t in enumerate(fs.tickets)), "ticket id")
    for ti, ticket in enumerate(fs.tickets):
        if ticket.customer_id is not None and ticket.customer_id not in customers:
            problems.append((f"tickets[{ti}].customer_id", f"unknown customer {ticket.customer_id!r}"))
        if ticket.line_id is not None and ticket.line_id not in line_ids:
            problems.append((f"tickets[{ti}].line_id", f"unknown line {ticket.line_id!r}"))
    return problems


def _existing(session: Session, column: Any, keys: Iterable[Any]) -> set[Any]:
    keys = list(keys)
    found: set[Any] = set()
    for start in range(0, len(keys), 500):  # stay below bound-parameter limits
        found |= set(session.scalars(select(column).where(column.in_(keys[start : start + 500]))))
    return found


def _database_conflicts(session: Session, fs: FixtureSet) -> list[tuple[str, str]]:
    """Records of ``fs`` that clash with rows already in the database (customer and line ids are checked by
    ``check_references``; plans and passes are upserted, but a plan name must stay unique)."""
    numbers = {
        line.number: f"customers[{ci}].lines[{li}].number"
        for ci, c in enumerate(fs.customers)
        for li, line in enumerate(c.lines)
        if line.number
    }
    bills = {b.id: f"customers[{ci}].bills[{bi}].id" for ci, c in enumerate(fs.customers) for bi, b in enumerate(c.bills)}
    outages = {o.id: f"outages[{i}].id" for i, o in enumerate(fs.outages)}
    tickets = {t.id: f"tickets[{i}].id" for i, t in enumerate(fs.tickets)}
    problems = []
    for column, paths, what in (
        (Line.number, numbers, "line number"),
        (Bill.id, bills, "bill"),
        (Outage.id, outages, "outage"),
        (Ticket.id, tickets, "ticket"),
    ):
        for key in sorted(_existing(session, column, paths)):
            problems.append((paths[key], f"{what} {key!r} already exists"))
    names = {p.name: (i, p.id) for i, p in enumerate(fs.plans)}
    for plan_id, name in session.execute(select(Plan.id, Plan.name)):
        if name in names and names[name][1] != plan_id:
            problems.append((f"plans[{names[name][0]}].name", f"plan name {name!r} is already used by plan {plan_id!r}"))
    return problems


def load_fixtures(
    session: Session, data: Mapping[str, Any] | FixtureSet | None, *, today: dt.date | None = None
) -> FixtureSet:
    """Validate ``data`` and add it to the database through ``session`` (flushed, not committed).

    Plans and roaming passes are upserted by id (a scenario may restate or change a catalogue entry); every
    other record must be new. References may point at rows already in the database (e.g. the catalogue loaded
    before). ``today`` (default: the fixtures' own ``today``, else settings) dates tickets without
    ``created_at``. Raises :class:`FixtureError` before writing anything if the data is invalid.
    Returns the validated :class:`FixtureSet` with every default filled in.
    """
    fs = parse_fixtures(data)
    problems = check_references(
        fs,
        known_plans=session.scalars(select(Plan.id)),
        known_passes=session.scalars(select(RoamingPass.id)),
        known_customers=session.scalars(select(Customer.id)),
        known_lines=session.scalars(select(Line.id)),
    )
    problems += _database_conflicts(session, fs)
    if problems:
        raise FixtureError(problems)

    for plan in fs.plans:
        session.merge(Plan(**plan.model_dump()))
    for rp in fs.roaming_passes:
        session.merge(RoamingPass(**rp.model_dump()))
    session.flush()

    # Bulk inserts: the demo seed loads ~10,000 usage rows through here.
    customer_rows = [c.model_dump(exclude={"lines", "bills", "usage_daily"}) for c in fs.customers]
    line_rows = [{**line.model_dump(), "customer_id": c.id} for c in fs.customers for line in c.lines]
    bill_rows = [{**b.model_dump(), "customer_id": c.id} for c in fs.customers for b in c.bills]
    usage_rows = [u.model_dump() for c in fs.customers for u in c.usage_daily]
    day = today or fs.today
    ticket_rows = []
    for t in fs.tickets:
        row = t.model_dump()
        if row["created_at"] is None:
            row["created_at"] = dt.datetime.combine(day or settings_today(), dt.time(9))
        ticket_rows.append(row)
    for model, rows in (
        (Customer, customer_rows),
        (Line, line_rows),
        (Bill, bill_rows),
        (UsageDaily, usage_rows),
        (Outage, [o.model_dump() for o in fs.outages]),
        (Ticket, ticket_rows),
    ):
        _insert(session, model, rows)
    session.flush()
    return fs


def _insert(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    """Core executemany on the table: several times faster than ORM bulk insert for the seed's usage rows."""
    if rows:
        session.execute(insert(model.__table__), rows)  # type: ignore[attr-defined]
