"""The seam to the domain's fixture loader: scenario files use its models and field names, never a copy.

``sangdam.domain.fixtures`` owns the ``fixtures:`` block (pydantic models with the domain model's field names)
and ``load_fixtures``. Every scenario database starts with the operator's catalogue
(``resources/demo/catalog.yaml``: plans and roaming passes); a scenario's own ``plans``/``roaming_passes`` are
upserted over it, so fixtures only restate what they change.
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


def fixture_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field path, message)`` for every problem of a fixtures block (empty when valid).

    References may point at catalogue plans and passes, which every scenario database holds.
    """
    try:
        fs = parse_fixtures(data)
    except FixtureError as exc:
        return exc.problems
    catalogue = catalogue_fixtures()
    return check_references(
        fs,
        known_plans=[p["id"] for p in catalogue["plans"]],
        known_passes=[r["id"] for r in catalogue["roaming_passes"]],
    )


def load_catalogue(engine: Engine) -> None:
    """Insert the operator catalogue into an empty, migrated database."""
    from sangdam.domain.db import session_scope

    with session_scope(engine) as session:
        load_fixtures(session, catalogue_fixtures())


def load_into(engine: Engine, data: dict[str, Any], today: dt.date | None = None) -> None:
    """Insert a scenario's fixtures block into its database (holding the catalogue), in one transaction."""
    from sangdam.domain.db import session_scope

    with session_scope(engine) as session:
        load_fixtures(session, data, today=today)
