"""Synthetic customer traffic: scripted Korean conversations driven through the real orchestrator.

``generate_traffic`` opens ``n`` conversations over the demo customers (``resources/demo/showcase.yaml``), each
following a scenario of ``resources/insights/traffic.yaml`` (bills, data, roaming, plans, troubleshooting,
knowledge questions, out-of-scope asks, anger, "상담사 연결해 주세요", corrections and declines). The simulated
customer answers the bot's identity questions and pending proposals itself. Every conversation is stamped inside
the ``days`` days before ``today``: the orchestrator takes its clock from ``_now`` (the seam), which the generator
sets, so ``created_at``/``updated_at``/``messages.at``/``turn_intents.at`` all fall in the range.

Deterministic for a seed: the same scenarios, texts, customers and timestamps (conversation and ticket ids are
random uuids and differ).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from sangdam.orchestrator import Orchestrator
from sangdam.orchestrator.resources import load_resource

MAX_IDENTITY_ANSWERS = 2


class DemoCustomer(BaseModel):
    """A showcase customer as the simulated caller knows them."""

    id: str
    phone: str
    birth_date: dt.date


class PlannedConversation(BaseModel):
    """What the generator decided before talking: the deterministic part of one conversation."""

    scenario: str
    customer: DemoCustomer
    authenticated: bool
    start: dt.datetime
    script: list[str]
    wrong_birth_first: bool
    answer_yes: bool


class TrafficReport(BaseModel):
    """What ``generate_traffic`` did."""

    conversations: int
    turns: int
    seconds: float
    since: dt.date
    until: dt.date
    scenarios: dict[str, int] = Field(default_factory=dict)
    conversation_ids: list[str] = Field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.conversations / self.seconds if self.seconds else 0.0


class _ClockedOrchestrator(Orchestrator):
    """The real orchestrator with a settable wall clock, so stored timestamps fall on simulated days."""

    clock: dt.datetime = dt.datetime(2000, 1, 1)

    def _now(self) -> dt.datetime:
        return self.clock


def demo_customers() -> list[DemoCustomer]:
    """The showcase customers (ids, phones, birth dates) in file order."""
    data = load_resource("demo/showcase.yaml")
    return [DemoCustomer(id=c["id"], phone=c["phone"], birth_date=c["birth_date"]) for c in data["customers"]]


def plan_traffic(n: int, *, seed: int = 0, days: int = 7, today: dt.date) -> list[PlannedConversation]:
    """Draw ``n`` conversations (scenario, customer, channel, start time, script) from ``seed``; starts are spread
    over the ``days`` days before ``today`` (``today - days`` 00:00 up to ``today`` 00:00), in time order."""
    spec = load_resource("insights/traffic.yaml")
    rng = random.Random(seed)
    customers = demo_customers()
    names = sorted(spec["scenarios"])
    weights = [spec["scenarios"][name]["weight"] for name in names]
    window_start = dt.datetime.combine(today - dt.timedelta(days=days), dt.time())
    seconds = days * 86400
    planned = []
    for _ in range(n):
        name = rng.choices(names, weights)[0]
        planned.append(PlannedConversation(
            scenario=name,
            customer=rng.choice(customers),
            authenticated=rng.random() < spec["authenticated"],
            start=window_start + dt.timedelta(seconds=rng.randrange(seconds - 3600)),
            script=[rng.choice(alternatives) for alternatives in spec["scenarios"][name]["turns"]],
            wrong_birth_first=rng.random() < spec["wrong_birth_date"],
            answer_yes=rng.random() < 0.7,
        ))
    planned.sort(key=lambda p: p.start)
    return planned


def generate_traffic(
    engine: Engine,
    n: int,
    *,
    seed: int = 0,
    days: int = 7,
    today: dt.date | None = None,
    channel: str = "api",
    on_conversation: Callable[[int], None] | None = None,
) -> TrafficReport:
    """Run ``n`` planned conversations through the orchestrator on ``engine`` (migrated and seeded)."""
    from sangdam.config import get_settings

    today = today or get_settings().today_date()
    plans = plan_traffic(n, seed=seed, days=days, today=today)
    orch = _ClockedOrchestrator(engine, today=today)
    spec = load_resource("insights/traffic.yaml")
    t0 = time.perf_counter()
    turns, ids = 0, []
    for i, planned in enumerate(plans):
        rng = random.Random(f"{seed}:{i}")  # per-conversation draws: answers do not shift later conversations
        conv_id, said = _converse(orch, planned, spec, rng, channel)
        ids.append(conv_id)
        turns += said
        if on_conversation:
            on_conversation(i + 1)
    return TrafficReport(
        conversations=len(plans), turns=turns, seconds=round(time.perf_counter() - t0, 3),
        since=today - dt.timedelta(days=days), until=today - dt.timedelta(days=1),
        scenarios=dict(Counter(p.scenario for p in plans)), conversation_ids=ids,
    )


def _converse(orch: _ClockedOrchestrator, planned: PlannedConversation, spec: dict[str, Any],
              rng: random.Random, channel: str) -> tuple[str, int]:
    """One conversation: the script, with identity answers and yes/no replies inserted where the bot asks."""
    orch.clock = planned.start
    conv = orch.start_conversation(customer_id=planned.customer.id if planned.authenticated else None,
                                   channel=channel)
    identity_answers = turns = 0
    queue = list(planned.script)
    while queue and turns < 12:
        text = queue.pop(0)
        orch.clock += dt.timedelta(seconds=rng.randint(15, 90))
        orch.handle(conv, text)
        turns += 1
        _, state = orch.store.load(conv)
        if state.handed_off:
            break
        if state.awaiting is not None and state.awaiting.kind == "identity" and identity_answers < MAX_IDENTITY_ANSWERS:
            identity_answers += 1
            queue.insert(0, _identity_answer(planned, spec, rng, first=identity_answers == 1))
        elif state.pending is not None and not queue:
            queue.append(rng.choice(spec["answers_yes"] if planned.answer_yes else spec["answers_no"]))
    return conv, turns


def _identity_answer(planned: PlannedConversation, spec: dict[str, Any], rng: random.Random, *, first: bool) -> str:
    customer = planned.customer
    if first and planned.wrong_birth_first:
        wrong = customer.birth_date.replace(year=customer.birth_date.year - 1)
        return rng.choice(spec["identity"]).format(phone=customer.phone, birth=_birth(wrong, rng))
    form = spec["identity"] if first else spec["correction"]
    return rng.choice(form).format(phone=customer.phone, birth=_birth(customer.birth_date, rng))


def _birth(day: dt.date, rng: random.Random) -> str:
    return day.isoformat() if rng.random() < 0.5 else f"{day.year}년 {day.month}월 {day.day}일"
