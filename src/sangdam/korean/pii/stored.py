"""Personal data left in a database: every text and JSON value of the conversation tables, read by the detector
and searched for known values (a customer's number and birth date in every common spelling).

What Sangdam stores about a conversation — transcript, traces, state, audit rows, idempotency records — must
hold personal data only masked (docs/data-at-rest.md). ``scan_database`` checks that on a real database
(``sangdam pii scan-db``) and in the tests; the domain tables (customers, lines, …) hold personal data by design
and are left out unless asked for.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, MetaData, select

from sangdam.korean.pii.detector import detect

# The operator's records of customers and their accounts: personal data by design, access-controlled there.
DOMAIN_TABLES = frozenset({
    "customers", "lines", "bills", "usage_daily", "plans", "roaming_passes", "outages", "alembic_version",
})
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})$")
_MOBILE = re.compile(r"0\d{9,10}$")


class Finding(BaseModel):
    """Personal data found in one stored value: where, what kind, and the matched text masked but its length."""

    table: str
    column: str
    row: str  # the row's primary key
    kind: str  # a PII type of the detector, or "known"
    excerpt: str  # the value around the match, the match itself replaced by ``*``


def spellings(value: str) -> list[str]:
    """The ways ``value`` may be written: a mobile number with any separator, a date in the common Korean
    forms, anything else as given."""
    digits = re.sub(r"\D", "", value)
    if _MOBILE.match(digits):
        a, b, c = digits[:3], digits[3:-4], digits[-4:]
        return [digits, *(sep.join((a, b, c)) for sep in ("-", " ", ".")), f"{b}-{c}", f"+82 {a[1:]}-{b}-{c}"]
    if m := _DATE.match(value.strip()):
        y, mo, d = m.groups()
        return [value, f"{y}{mo}{d}", f"{y[2:]}{mo}{d}", f"{y}.{mo}.{d}", f"{y[2:]}.{mo}.{d}",
                f"{int(y)}년 {int(mo)}월 {int(d)}일", f"{y[2:]}년 {int(mo)}월 {int(d)}일"]
    return [value]


def scan_database(engine: Engine, known: Iterable[str] = (), tables: Iterable[str] | None = None) -> list[Finding]:
    """Every stored value of ``tables`` (default: all but ``DOMAIN_TABLES``) that holds detected personal data or
    one of the ``known`` values in any spelling."""
    needles = [s for value in known for s in spellings(value)]
    meta = MetaData()
    meta.reflect(bind=engine)
    wanted = set(tables) if tables is not None else set(meta.tables) - DOMAIN_TABLES
    findings: list[Finding] = []
    with engine.connect() as conn:
        for name in sorted(wanted & set(meta.tables)):
            table = meta.tables[name]
            keys = [c.name for c in table.primary_key.columns] or [table.columns[0].name]
            for row in conn.execute(select(table)).mappings():
                pk = "/".join(str(row[k]) for k in keys)
                for column, value in row.items():
                    for kind, start, end, text in _hits(_as_text(value), needles):
                        findings.append(Finding(table=name, column=column, row=pk, kind=kind,
                                                excerpt=_excerpt(text, start, end)))
    return findings


def _as_text(value: Any) -> str:
    if value is None or isinstance(value, (int, float, bool, dt.date, dt.datetime)):
        return ""  # numbers and timestamps are not personal data by themselves
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    if text[:1] in "{[":
        try:  # JSON stored as text (SQLite): read it with Korean unescaped
            return json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            pass
    return text


def _hits(text: str, needles: list[str]) -> Iterator[tuple[str, int, int, str]]:
    if not text:
        return
    for ent in detect(text):
        yield ent.type.value, ent.start, ent.end, text
    for needle in needles:
        for m in re.finditer(rf"(?<!\d){re.escape(needle)}(?!\d)", text):
            yield "known", m.start(), m.end(), text


def _excerpt(text: str, start: int, end: int, around: int = 24) -> str:
    return text[max(0, start - around):start] + "*" * (end - start) + text[end:end + around]
