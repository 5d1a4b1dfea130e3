"""The insights dashboard: ``GET /api/v1/insights/summary`` (agent and admin keys) and its page ``/console/insights``.

The numbers are aggregated in SQL (:mod:`sangdam.contact_center.dashboard`); the page draws them with the
vendored Chart.js (``static/vendor/chartjs``), under the same CSP as the console.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import NoReturn

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from sangdam.contact_center.dashboard import (MAX_SPAN_DAYS, DateRange, InsightsSummary, KnowledgeGaps,
                                              knowledge_gaps, summarize)
from sangdam.server.api import centre, staff
from sangdam.server.errors import ERROR_RESPONSES, ApiError
from sangdam.server.keys import Principal
from sangdam.server.service import ContactCentre

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_DAYS = 30
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
router = APIRouter()
# What the OpenAPI document says of ``from``/``to``: a calendar day (clients and contract tests then send only those)
# (declared only: the handler checks it and says what is wrong in its own words)
DAY: dict = {"json_schema_extra": {"format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}}


def date_range(start: str | dt.date | None, end: str | dt.date | None, today: dt.date) -> DateRange:
    """``from``/``to`` query values (``YYYY-MM-DD``, both included) → a range; 422 with the reason otherwise.
    Without ``to``: today; without ``from``: the 30 days ending at ``to``."""

    def parse(name: str, value: str | dt.date) -> dt.date:
        if isinstance(value, dt.date):
            return value
        if not ISO_DAY.fullmatch(value.strip()):  # not the other forms fromisoformat takes ("2026-W48-1")
            _bad(name, value)
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:  # 2026-13-01, 2026-02-30
            return _bad(name, value)

    last = parse("to", end) if end is not None else today  # "to=" (empty) is a bad date, not an absent one
    first = parse("from", start) if start is not None else last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ApiError(422, "invalid_request", f"'from' ({first}) is after 'to' ({last})")
    if (last - first).days >= MAX_SPAN_DAYS:
        raise ApiError(422, "invalid_request", f"the range spans more than {MAX_SPAN_DAYS} days")
    return DateRange(start=first, end=last)


def _bad(name: str, value: str) -> NoReturn:
    raise ApiError(422, "invalid_request", f"'{name}' must be a date as YYYY-MM-DD, got {value[:40]!r}")


@router.get("/api/v1/insights/summary", response_model=InsightsSummary, response_model_by_alias=True,
            responses=ERROR_RESPONSES)
async def insights_summary(start: str | None = Query(None, alias="from", description="First day (YYYY-MM-DD, UTC).", **DAY),
                           end: str | None = Query(None, alias="to", description="Last day, included (default today).", **DAY),
                           _: Principal = Depends(staff), cc: ContactCentre = Depends(centre)) -> InsightsSummary:
    """Conversation volume per day, containment and handoff rates, QA pass rate per rubric item, sentiment per
    day and top call drivers for ``from``–``to`` (default: the last 30 days). Aggregated in the database; agent
    and admin keys only."""
    span = date_range(start, end, cc.now().date())
    return await run_in_threadpool(summarize, cc.engine, span)


@router.get("/api/v1/insights/gaps", response_model=KnowledgeGaps, response_model_by_alias=True,
            responses=ERROR_RESPONSES)
async def insights_gaps(start: str | None = Query(None, alias="from", description="First day (YYYY-MM-DD, UTC).", **DAY),
                        end: str | None = Query(None, alias="to", description="Last day, included (default today).", **DAY),
                        _: Principal = Depends(staff), cc: ContactCentre = Depends(centre)) -> KnowledgeGaps:
    """Knowledge-gap clusters of ``from``–``to`` (what the bot could not handle, grouped by meaning, each with a
    suggested FAQ entry), from the insights package; ``available: false`` without it. Embeds and clusters the
    range's gap utterances, so it takes seconds where the summary takes milliseconds: the page asks for it apart."""
    span = date_range(start, end, cc.now().date())
    return await run_in_threadpool(knowledge_gaps, cc.engine, span)


@router.get("/console/insights", include_in_schema=False)
async def insights_page() -> FileResponse:
    return FileResponse(STATIC / "insights.html")
