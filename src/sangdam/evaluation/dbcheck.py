"""Database-side grading: field values by table and id, row counts, bill totals, unchanged tables.

Values are compared with the column's type in mind (τ²-bench grades by final state, so the comparison must not
be fooled by representation): dates accept ``2026-11-15`` or a ``date``; floats compare with a tolerance; booleans
must be booleans; JSON columns compare structurally.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from difflib import get_close_matches
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Engine, Float, Integer, Table, func, select
from sqlalchemy.types import JSON

from sangdam.domain.models import Base

FLOAT_ABS_TOL = 1e-6

# Tables holding customer and catalogue data: what "the database is unchanged" means (conversation state, traces,
# the audit log and tickets may legitimately change in any conversation).
CUSTOMER_DATA_TABLES: tuple[str, ...] = ("plans", "customers", "lines", "bills", "usage_daily", "roaming_passes")


def _table(name: str) -> Table:
    try:
        return Base.metadata.tables[name]
    except KeyError:
        known = ", ".join(sorted(Base.metadata.tables))
        raise ValueError(f"unknown table {name!r} (known: {known})") from None


def _field_problems(path: str, table: str, fields: Iterable[str]) -> list[tuple[str, str]]:
    if table not in Base.metadata.tables:
        close = get_close_matches(table, list(Base.metadata.tables), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return [(path, f"unknown table {table!r}{hint}")]
    tbl = _table(table)
    out = []
    for name in fields:
        if name not in tbl.c:
            close = [k for k in tbl.c.keys() if name in k] or get_close_matches(name, tbl.c.keys(), n=1)
            hint = f" (did you mean {' or '.join(repr(c) for c in close[:3])}?)" if close else ""
            out.append((f"{path}.{name}", f"table {table!r} has no field {name!r}{hint}"))
    return out


def final_problems(final: Any) -> list[tuple[str, str]]:
    """``(field path, message)`` for unknown tables or fields in a scenario's ``final`` block."""
    problems: list[tuple[str, str]] = []
    for table, rows in final.db.items():
        if table not in Base.metadata.tables:
            problems += _field_problems(f"final.db.{table}", table, [])
            continue
        for row_id, fields in rows.items():
            problems += _field_problems(f"final.db.{table}.{row_id}", table, fields.keys())
    if isinstance(final.db_unchanged, list):
        for i, table in enumerate(final.db_unchanged):
            problems += _field_problems(f"final.db_unchanged[{i}]", table, [])
    for i, rc in enumerate(final.rows):
        if rc.table not in Base.metadata.tables:
            problems += _field_problems(f"final.rows[{i}].table", rc.table, [])
        else:
            problems += _field_problems(f"final.rows[{i}].where", rc.table, rc.where.keys())
    return problems


def _coerce_expected(column_type: Any, expected: Any) -> Any:
    if expected is None:
        return None
    if isinstance(column_type, DateTime) and isinstance(expected, str):
        return dt.datetime.fromisoformat(expected)
    if isinstance(column_type, Date) and not isinstance(expected, dt.datetime):
        if isinstance(expected, str):
            return dt.date.fromisoformat(expected)
    return expected


def values_equal(column_type: Any, expected: Any, actual: Any) -> bool:
    """Type-aware equality of an expected scenario value and a value read from the database."""
    expected = _coerce_expected(column_type, expected)
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(column_type, Boolean):
        return isinstance(expected, bool) and bool(actual) is expected
    if isinstance(column_type, Float) or isinstance(expected, float) or isinstance(actual, float):
        if isinstance(expected, bool) or not isinstance(expected, int | float):
            return False
        return math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=FLOAT_ABS_TOL)
    if isinstance(column_type, Integer):
        return not isinstance(expected, bool) and isinstance(expected, int) and int(actual) == expected
    if isinstance(column_type, DateTime | Date):
        return actual == expected
    if isinstance(column_type, JSON):
        return _json_equal(expected, actual)
    return str(actual) == str(expected) if isinstance(expected, str) else actual == expected


def _json_equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(_json_equal(expected[k], actual[k]) for k in expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(_json_equal(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, float) or isinstance(actual, float):
        return isinstance(actual, int | float) and math.isclose(float(actual), float(expected), abs_tol=FLOAT_ABS_TOL)
    if isinstance(expected, dt.date):
        return str(actual) == expected.isoformat()
    return expected == actual


def _fmt(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value)


def check_db_fields(engine: Engine, expected: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Failures (empty when all match) of ``{table: {id: {field: value}}}`` against the database."""
    failures: list[str] = []
    with engine.connect() as conn:
        for table_name, rows in expected.items():
            tbl = _table(table_name)
            pk = list(tbl.primary_key.columns)
            if len(pk) != 1:
                failures.append(f"final db: table {table_name!r} has a composite key; use 'rows' to check it")
                continue
            for row_id, fields in rows.items():
                row = conn.execute(select(tbl).where(pk[0] == row_id)).mappings().first()
                if row is None:
                    failures.append(f"final db: {table_name} {row_id!r} not found")
                    continue
                for field, want in fields.items():
                    got = row[field]
                    if not values_equal(tbl.c[field].type, want, got):
                        failures.append(
                            f"final db: {table_name}.{row_id}.{field}: expected {_fmt(want)}, got {_fmt(got)}"
                        )
    return failures


def count_rows(engine: Engine, table_name: str, where: dict[str, Any]) -> int:
    """Number of rows of ``table_name`` whose fields equal ``where`` (type-aware, as in ``values_equal``)."""
    tbl = _table(table_name)
    with engine.connect() as conn:
        rows = conn.execute(select(tbl)).mappings().all()
    return sum(1 for r in rows if all(values_equal(tbl.c[f].type, v, r[f]) for f, v in where.items()))


def bill_totals(engine: Engine) -> dict[str, int]:
    """Sum of bill amounts per customer id."""
    bills = _table("bills")
    with engine.connect() as conn:
        rows = conn.execute(select(bills.c.customer_id, func.sum(bills.c.amount)).group_by(bills.c.customer_id))
        return {cid: int(total or 0) for cid, total in rows}


def snapshot(engine: Engine, tables: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables``, sorted, for an exact before/after comparison."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name in tables:
            tbl = _table(name)
            rows = conn.execute(select(tbl).order_by(*tbl.primary_key.columns)).all()
            out[name] = [tuple(r) for r in rows]
    return out


def diff_snapshots(before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """Failures naming each table whose rows changed, with the first differing row."""
    failures: list[str] = []
    for name, rows_before in before.items():
        rows_after = after.get(name, [])
        if rows_before == rows_after:
            continue
        changed = [r for r in rows_after if r not in rows_before]
        removed = [r for r in rows_before if r not in rows_after]
        detail = f"now {changed[0]!r}" if changed else f"removed {removed[0]!r}" if removed else "row order"
        failures.append(f"final db_unchanged: table {name!r} changed ({len(changed)} new/changed rows; {detail})")
    return failures
