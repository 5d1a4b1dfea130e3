"""A small operator API for the import tests: "Nuri FieldOps", a coverage check and technician visits.

It stands in for an operator's own REST service and is shaped like one: its own names (``subscriber_id``,
``max_speed_mbps``), internal fields that must never reach a customer (``node_id``, ``technician_phone``), an API
key header, ``Idempotency-Key`` support on the booking POST (a repeated key answers the first booking), a 409
refusal, and operations the documented mapping leaves out (``getVisit``, ``cancelVisit``: the worked example of
docs/importing-tools.md adds them). Its OpenAPI document is FastAPI's.

Fault injection for the tests, on ``app.state``: ``fail_next`` (answer the next N requests with 503),
``delay_s`` (wait before answering); ``calls`` records every request that reached it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Literal

from fastapi import FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

API_KEY = "fieldops-test-key"
FULL_DATE = dt.date(2026, 12, 25)  # every slot booked: the booking answers 409


class Coverage(BaseModel):
    address: str
    technology: Literal["5G", "LTE"]
    available: bool
    max_speed_mbps: int
    node_id: str = Field(description="Internal radio node; not for customers.")


class VisitRequest(BaseModel):
    visit_date: dt.date = Field(description="Day of the visit.")
    slot: Literal["morning", "afternoon"] = Field(description="Half-day slot.")
    reason: str = Field(min_length=2, max_length=200, description="What the technician should look at.")


class Visit(BaseModel):
    booking_id: str
    subscriber_id: str
    visit_date: dt.date
    slot: str
    status: str
    technician_phone: str


class Visits(BaseModel):
    visits: list[Visit]


def operator_app() -> FastAPI:
    """A fresh FieldOps API (its own bookings and call log)."""
    app = FastAPI(title="Nuri FieldOps", version="1.0")
    app.state.calls = []
    app.state.fail_next = 0
    app.state.delay_s = 0.0
    app.state.bookings = {}  # idempotency key → Visit
    numbers = itertools.count(1)

    @app.middleware("http")
    async def faults_and_log(request: Request, call_next):  # noqa: ANN001, ANN202
        body = await request.body()
        app.state.calls.append({"method": request.method, "path": request.url.path, "query": str(request.url.query),
                                "headers": dict(request.headers), "body": body.decode() or None})
        if app.state.delay_s:
            await asyncio.sleep(app.state.delay_s)
        if app.state.fail_next:
            app.state.fail_next -= 1
            return JSONResponse({"error": "maintenance"}, status_code=503)
        if request.headers.get("x-api-key") != API_KEY:
            return JSONResponse({"error": "bad key"}, status_code=401)
        return await call_next(request)

    @app.get("/coverage", operation_id="checkCoverage", response_model=Coverage)
    async def check_coverage(
        address: str = Query(min_length=2, description="Street address."),
        technology: Literal["5G", "LTE"] = Query("5G", description="Radio technology."),
    ) -> Coverage:
        available = "산골" not in address
        return Coverage(address=address, technology=technology, available=available,
                        max_speed_mbps=1500 if available else 0, node_id="gNB-7731-internal")

    @app.get("/subscribers/{subscriber_id}/visits", operation_id="listVisits", response_model=Visits)
    async def list_visits(subscriber_id: str = Path(description="Subscriber id.")) -> Visits:
        return Visits(visits=[v for v in app.state.bookings.values() if v.subscriber_id == subscriber_id])

    @app.post("/subscribers/{subscriber_id}/visits", operation_id="bookVisit", response_model=Visit, status_code=201)
    async def book_visit(body: VisitRequest, subscriber_id: str = Path(description="Subscriber id."),
                         idempotency_key: str | None = Header(None)) -> Visit:
        if idempotency_key and idempotency_key in app.state.bookings:
            return app.state.bookings[idempotency_key]
        if body.visit_date == FULL_DATE:
            raise HTTPException(409, "no free slot on that day")
        visit = Visit(booking_id=f"V-{next(numbers):04d}", subscriber_id=subscriber_id, visit_date=body.visit_date,
                      slot=body.slot, status="booked", technician_phone="010-9999-0000")
        app.state.bookings[idempotency_key or visit.booking_id] = visit
        return visit

    @app.get("/subscribers/{subscriber_id}/visits/{booking_id}", operation_id="getVisit", response_model=Visit)
    async def get_visit(subscriber_id: str, booking_id: str) -> Visit:
        found = [v for v in app.state.bookings.values()
                 if v.booking_id == booking_id and v.subscriber_id == subscriber_id]
        if not found:
            raise HTTPException(404, "no such visit")
        return found[0]

    @app.delete("/subscribers/{subscriber_id}/visits/{booking_id}", operation_id="cancelVisit", status_code=204)
    async def cancel_visit(subscriber_id: str, booking_id: str) -> None:
        app.state.bookings = {k: v for k, v in app.state.bookings.items() if v.booking_id != booking_id}

    return app


def bookings_sent(app: FastAPI) -> list[dict]:
    """The booking POSTs that reached the API."""
    return [c for c in app.state.calls if c["method"] == "POST"]
