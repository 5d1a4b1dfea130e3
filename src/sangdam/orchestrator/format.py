"""Korean rendering of facts: money, data sizes, dates, and templates from ``resources/templates``."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from sangdam.korean.particles import resolve
from sangdam.orchestrator.resources import load_resource
from sangdam.tools.messages import format_value


def won(amount: int | float) -> str:
    """19800 → "19,800원"; negative amounts keep their sign (same rendering as the tools' Korean texts)."""
    return format_value("amount_krw", int(round(amount)))


def gb(value: float | None) -> str:
    """12 → "12GB", 12.5 → "12.5GB", None → "무제한"."""
    return "무제한" if value is None else format_value("data_gb", float(value))


def kdate(value: dt.date | str | None) -> str:
    """2026-12-01 → "2026년 12월 1일"."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return format_value("date", value)


def kperiod(period: str) -> str:
    """"2026-10" → "2026년 10월"."""
    year, month = period.split("-")
    return f"{int(year)}년 {int(month)}월"


def speed(kbps: int | None) -> str:
    if kbps is None:
        return "속도 제한 없음"
    return f"{kbps // 1000}Mbps" if kbps >= 1000 and kbps % 1000 == 0 else f"{kbps}kbps"


@lru_cache(maxsize=1)
def templates() -> dict[str, Any]:
    return load_resource("templates/ko.yaml")


def say(key: str, **values: Any) -> str:
    """Render template ``key`` (dotted path in ``templates/ko.yaml``) with ``values``.

    A particle after a value is written in the double notation and resolved for the rendered value:
    ``{plan}(으)로`` gives "5G 스탠다드로" or "5G 슬림으로" (``sangdam.korean.particles``).
    """
    node: Any = templates()
    for part in key.split("."):
        node = node[part]
    if isinstance(node, list):  # a list template joins its lines
        node = "\n".join(node)
    return resolve(str(node).format(**values)).strip()
