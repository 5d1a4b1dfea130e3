"""Deterministic demo data for the fictional operator 누리텔레콤, relative to a business date.

``seed(engine_or_session, today=...)`` writes the catalogue (``resources/demo/catalog.yaml``), a generated
population of customers (``resources/demo/population.yaml``: realistic Korean names, addresses, handsets) and
the hand-made showcase customers (``resources/demo/showcase.yaml``, documented in docs/demo.md), each with lines,
three months of itemised bills and daily usage up to ``today``, plus network outages.

The data is a pure function of ``today``: a fixed RNG seed, fixed iteration order, no clock reads. It is built as
a :class:`~sangdam.domain.fixtures.FixtureSet` and written by ``load_fixtures``, the same path scenario fixtures
take, so the demo data passes the same validation.
"""

from __future__ import annotations

import datetime as dt
import random
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from sangdam.config import today as settings_today
from sangdam.domain.db import session_scope
from sangdam.domain.fixtures import CustomerIn, FixtureSet, OutageIn, PlanIn, RoamingPassIn, load_fixtures
from sangdam.domain.models import Base, Customer, Plan
from sangdam.domain.repo import table_counts
from sangdam.domain.seed_history import DemoLine, add_months, bills, line_record, usage
from sangdam.domain.seed_showcase import active_outage, showcase_customers

SEED = 20261129  # the RNG seed: changing it changes every generated customer
GENERATED_CUSTOMERS = 64
FIRST_GENERATED_ID = 1

# Plans by generation: (plan id, weight). Older customers lean to cheap LTE, younger ones to 5G.
PLAN_WEIGHTS = {
    "older": {"P-LTE-MINI": 5, "P-LTE-BASIC": 5, "P-LTE-PLUS": 2, "P-5G-LITE": 2, "P-5G-SLIM": 1, "P-LTE-UNL": 1},
    "middle": {"P-5G-SLIM": 3, "P-5G-STD": 4, "P-5G-PREM": 3, "P-5G-SIG": 1, "P-LTE-PLUS": 2, "P-LTE-UNL": 2,
               "P-5G-LITE": 1},
    "young": {"P-5G-LITE": 2, "P-5G-SLIM": 3, "P-5G-STD": 4, "P-5G-PREM": 3, "P-LTE-UNL": 1, "P-LTE-PLUS": 1},
}
SECOND_LINE_PLANS = {"P-LTE-MINI": 3, "P-LTE-BASIC": 2, "P-5G-LITE": 2, "P-5G-SLIM": 1}
# Typical monthly traffic in GB for a customer who chose each plan (scaled per customer).
TYPICAL_GB = {"P-LTE-MINI": 1.2, "P-LTE-BASIC": 3.4, "P-LTE-PLUS": 9.0, "P-LTE-UNL": 28.0, "P-5G-LITE": 5.2,
              "P-5G-SLIM": 10.5, "P-5G-STD": 42.0, "P-5G-PREM": 65.0, "P-5G-SIG": 80.0}


class SeedReport(BaseModel):
    """What ``seed`` did: ``seeded`` is False when demo data already existed (nothing written)."""

    seeded: bool
    today: dt.date
    counts: dict[str, int]


@cache
def _resource(name: str) -> dict[str, Any]:
    text = resources.files("sangdam").joinpath("resources", "demo", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def catalog() -> dict[str, Any]:
    """The parsed ``resources/demo/catalog.yaml`` (operator, plans, roaming passes)."""
    return _resource("catalog.yaml")


def catalog_fixtures() -> FixtureSet:
    """The catalogue alone (plans and roaming passes), e.g. to load before a scenario's own fixtures."""
    doc = catalog()
    return FixtureSet(
        plans=[PlanIn.model_validate(p) for p in doc["plans"]],
        roaming_passes=[RoamingPassIn.model_validate(r) for r in doc["roaming_passes"]],
    )


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _generation(year: int) -> str:
    return "older" if year < 1975 else ("middle" if year < 1995 else "young")


class _Population:
    """Generates the non-showcase customers; one instance per build keeps phones and e-mails unique."""

    def __init__(self, rng: random.Random, today: dt.date, plans: dict[str, PlanIn], taken_phones: set[str]):
        self.rng, self.today, self.plans = rng, today, plans
        self.pool = _resource("population.yaml")
        self.labels = self.pool["bill_items"]
        self.devices = {name: price for name, price in self.pool["devices"]}
        self.passes = catalog()["roaming_passes"]
        self.phones = set(taken_phones)
        self.emails: set[str] = set()
        self.next_line = 1

    def phone(self) -> str:
        while True:
            # 9000-xxxx is kept for the showcase customers.
            number = f"010-{self.rng.randint(2000, 8999)}-{self.rng.randint(0, 9999):04d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def person(self) -> dict[str, Any]:
        rng, pool = self.rng, self.pool
        age = int(rng.triangular(19, 84, 42))
        birth = dt.date(self.today.year - age, 1, 1) - dt.timedelta(days=rng.randint(0, 364))
        sex = rng.choice(["male", "female"])
        surnames = pool["surnames"]
        hangul, roman, _ = rng.choices(surnames, weights=[s[2] for s in surnames])[0]
        given = pool["given_names"][_generation(birth.year)][sex]
        given_name = rng.choice(sorted(given))
        local = f"{given[given_name]}.{roman}"
        email = f"{local}@{rng.choice(pool['email_domains'])}"
        while email in self.emails:
            email = f"{local}{rng.randint(1, 99)}@{rng.choice(pool['email_domains'])}"
        self.emails.add(email)
        areas = pool["areas"]
        area, _, streets = rng.choices(areas, weights=[a[1] for a in areas])[0]
        address = f"{area} {rng.choice(streets)} {rng.randint(1, 420)}"
        if rng.random() < 0.65:
            address += f", {rng.randint(101, 118)}동 {rng.randint(1, 25)}{rng.randint(1, 4):02d}호"
        return {"name": hangul + given_name, "birth_date": birth, "email": email, "address": address, "age": age}

    def line(self, number: str, plan_id: str, generation: str) -> DemoLine:
        rng, today = self.rng, self.today
        plan = self.plans[plan_id]
        line_id = f"L-{self.next_line:04d}"
        self.next_line += 1
        appetite = TYPICAL_GB[plan_id] * rng.uniform(0.45, 1.35)
        monthly = [round(appetite * rng.uniform(0.8, 1.2), 1) for _ in range(3)]
        progress = today.day / 30
        line = DemoLine(
            id=line_id,
            number=number,
            plan=plan,
            monthly_gb=monthly,
            this_month_gb=round(appetite * rng.uniform(0.8, 1.2) * progress, 1),
            voice_per_day={"older": 28, "middle": 14, "young": 6}[generation],
            sms_per_day={"older": 2, "middle": 3, "young": 4}[generation],
        )
        if plan.data_gb is not None:
            # Past months over the allowance: some bought refills, the others lived with the throttle.
            line.refill_gb = [
                min(5, int(gb - plan.data_gb) + 1) if gb > plan.data_gb and rng.random() < 0.45 else 0
                for gb in monthly
            ]
        kind = rng.choices(["selective_discount", "device_installment", "none"], weights=[45, 35, 20])[0]
        if kind != "none":
            start = add_months(today, -rng.randint(1, 23)) - dt.timedelta(days=rng.randint(0, 27))
            line.contract_kind, line.contract_start = kind, start
            line.contract_end = add_months(start, 24) - dt.timedelta(days=1)
            if kind == "device_installment" or rng.random() < 0.35:
                model = rng.choice(sorted(self.devices))
                line.device_model, line.device_price, line.device_start = model, self.devices[model], start
        if rng.random() < 0.3:
            line.addons = [tuple(rng.choice(self.pool["addons"]))]
        if rng.random() < 0.12:
            slot = rng.randrange(3)
            chosen = rng.choice(self.passes)
            line.roaming[slot] = (chosen["name"], chosen["price"])
        return line

    def customer(self, index: int) -> CustomerIn:
        rng, today = self.rng, self.today
        who = self.person()
        generation = _generation(who["birth_date"].year)
        phone = self.phone()
        demo_lines = [self.line(phone, _weighted(rng, PLAN_WEIGHTS[generation]), generation)]
        if rng.random() < 0.25:
            demo_lines.append(self.line(self.phone(), _weighted(rng, SECOND_LINE_PLANS), "young"))
        if rng.random() < 0.04:
            # Abroad right now: roaming on with a pass that covers the trip.
            chosen = rng.choice(self.passes)
            demo_lines[0].roaming_enabled, demo_lines[0].roaming_pass_id = True, chosen["id"]
        line_rows, bill_rows, usage_rows = [], [], []
        for line in demo_lines:
            days, used = usage(rng, line, today)
            line_rows.append(line_record(line, today, used))
            bill_rows += bills(line, today, self.labels)
            usage_rows += days
        earliest = min([line.contract_start for line in demo_lines if line.contract_start] + [today])
        created = earliest - dt.timedelta(days=rng.randint(20, 4200))
        fees = sum(line.plan.monthly_fee for line in demo_lines)
        segment = "youth" if who["age"] < 29 else "senior" if who["age"] >= 65 else "standard"
        if len(demo_lines) > 1:
            segment = "family"
        elif fees >= 89000 and (today - created).days > 5 * 365:
            segment = "vip"
        return CustomerIn(
            id=f"C-{index:04d}",
            name=who["name"],
            birth_date=who["birth_date"],
            phone=phone,
            email=who["email"],
            address=who["address"],
            segment=segment,
            preferences={
                "contact_channel": rng.choice(["sms", "app", "email"]),
                "marketing_opt_in": rng.random() < 0.4,
            },
            created_at=dt.datetime.combine(created, dt.time(rng.randint(9, 19), rng.randint(0, 59))),
            lines=line_rows,
            bills=bill_rows,
            usage_daily=usage_rows,
        )


def _resolved_outages(today: dt.date) -> list[OutageIn]:
    out = []
    for n, spec in enumerate(_resource("population.yaml")["outages"]["resolved"], start=1):
        start = dt.datetime.combine(today - dt.timedelta(days=spec["days_ago"]), dt.time(14, 10))
        out.append(
            OutageIn(
                id=f"O-{n:04d}",
                area=spec["area"],
                service=spec["service"],
                started_at=start,
                expected_end=start + dt.timedelta(hours=spec["hours"]),
                resolved=True,
                description=spec["description"],
            )
        )
    return out


def build_demo_fixtures(today: dt.date) -> FixtureSet:
    """The whole demo data set as of ``today`` (deterministic: same ``today`` → same data)."""
    rng = random.Random(SEED)
    base = catalog_fixtures()
    plans = {p.id: p for p in base.plans}
    pool = _resource("population.yaml")
    showcase_doc = _resource("showcase.yaml")
    devices = {name: price for name, price in pool["devices"]}
    showcase = showcase_customers(showcase_doc, plans, today, rng, pool["bill_items"], devices)
    taken = {c.phone for c in showcase} | {line.number for c in showcase for line in c.lines}
    population = _Population(rng, today, plans, taken)
    generated = [population.customer(FIRST_GENERATED_ID + k) for k in range(GENERATED_CUSTOMERS)]
    outages = [active_outage(showcase_doc, today, pool["outages"]["active_description"]), *_resolved_outages(today)]
    return FixtureSet(
        today=today,
        plans=base.plans,
        roaming_passes=base.roaming_passes,
        customers=[*showcase, *generated],
        outages=outages,
    )


def reset_domain(session: Session) -> None:
    """Delete every row of every Sangdam table (children first); the schema stays."""
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(delete(table))
    session.flush()


def _has_data(session: Session) -> bool:
    return session.scalar(select(Customer.id).limit(1)) is not None or session.scalar(
        select(Plan.id).limit(1)
    ) is not None


def seed(target: Engine | Session, *, today: dt.date | None = None, reset: bool = False) -> SeedReport:
    """Write the demo data as of ``today`` (default: ``sangdam.config.today()``).

    Idempotent: when customers or plans already exist nothing is written (``seeded=False``) unless
    ``reset`` is true, which first deletes every row of every table. Given an engine, runs in one transaction
    and commits; given a session, flushes and leaves the commit to the caller.
    """
    today = today or settings_today()
    if isinstance(target, Session):
        return _seed(target, today, reset)
    with session_scope(target) as session:
        return _seed(session, today, reset)


def _seed(session: Session, today: dt.date, reset: bool) -> SeedReport:
    if reset:
        reset_domain(session)
    elif _has_data(session):
        return SeedReport(seeded=False, today=today, counts=table_counts(session))
    load_fixtures(session, build_demo_fixtures(today), today=today)
    return SeedReport(seeded=True, today=today, counts=table_counts(session))
