"""The seam to the domain's fixture loader: scenario files use its models and field names, never a copy.

``sangdam.domain.fixtures`` owns the ``fixtures:`` block (pydantic models with the domain model's field names)
and ``load_fixtures``. A scenario database starts with the operator's catalogue (``resources/demo/catalog.yaml``:
plans and roaming passes), except for what the scenario declares itself: fixtures that list ``plans`` get exactly
those plans and no catalogue plan, and likewise for ``roaming_passes`` — a self-contained scenario defines its own
world ("5G 슬림" may be its own plan), while one that lists neither uses the operator's catalogue.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import Engine

from sangdam.domain.fixtures import FixtureError, check_references, load_fixtures, parse_fixtures


@lru_cache(maxsize=1)
def catalogue_fixtures() -> dict[str, Any]:
    """The operator catalogue as a fixtures block (``plans`` and ``roaming_passes``)."""
    path = resources.files("sangdam.resources").joinpath("demo").joinpath("catalog.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {"plans": data["plans"], "roaming_passes": data["roaming_passes"]}


def catalogue_parts(data: dict[str, Any] | None) -> tuple[str, ...]:
    """The parts of the operator catalogue a scenario with fixtures ``data`` starts with: those it does not
    declare itself (``("plans", "roaming_passes")`` when it declares neither)."""
    data = data or {}
    return tuple(part for part in ("plans", "roaming_passes") if not data.get(part))


def fixture_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field path, message)`` for every problem of a fixtures block (empty when valid).

    References may point at the catalogue plans and passes the scenario's database holds (see
    ``catalogue_parts``).
    """
    try:
        fs = parse_fixtures(data)
    except FixtureError as exc:
        return exc.problems
    catalogue = catalogue_fixtures()
    parts = catalogue_parts(data)
    return check_references(
        fs,
        known_plans=[p["id"] for p in catalogue["plans"]] if "plans" in parts else [],
        known_passes=[r["id"] for r in catalogue["roaming_passes"]] if "roaming_passes" in parts else [],
    )


def load_catalogue(engine: Engine, parts: tuple[str, ...] = ("plans", "roaming_passes")) -> None:
    """Insert ``parts`` of the operator catalogue into an empty, migrated database."""
    from sangdam.domain.db import session_scope

    catalogue = catalogue_fixtures()
    with session_scope(engine) as session:
        load_fixtures(session, {part: catalogue[part] for part in parts})


def load_into(engine: Engine, data: dict[str, Any], today: dt.date | None = None) -> None:
    """Insert a scenario's fixtures block into its database (holding the catalogue), in one transaction."""
    from sangdam.domain.db import session_scope

    with session_scope(engine) as session:
        load_fixtures(session, data, today=today)
