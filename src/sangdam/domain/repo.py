"""Small read helpers over the domain tables (counts, dumps, areas and outages)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sangdam.domain.models import Base, Outage


def table_counts(session: Session) -> dict[str, int]:
    """Row count of every Sangdam table, in dependency order."""
    return {
        table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def dump_tables(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Every row of every Sangdam table as JSON-ready dicts, ordered by primary key.

    Meant for comparisons (two seeds are identical iff their dumps are) and debugging, not for large data.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for table in Base.metadata.sorted_tables:
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).mappings()
        out[table.name] = [{key: _plain(value) for key, value in row.items()} for row in rows]
    return out


def area_of(address: str | None) -> str | None:
    """The outage area of an address: its first two words, ``"<시·도> <시·군·구>"`` (e.g. ``서울 관악구``)."""
    if not address:
        return None
    words = address.replace(",", " ").split()
    return " ".join(words[:2]) if len(words) >= 2 else None


def active_outages(session: Session, area: str | None = None) -> list[Outage]:
    """Unresolved outages, optionally only those of ``area`` (exact match), oldest first."""
    query = select(Outage).where(Outage.resolved.is_(False))
    if area:
        query = query.where(Outage.area == area)
    return list(session.scalars(query.order_by(Outage.started_at, Outage.id)))
