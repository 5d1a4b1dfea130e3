"""Names from the operator's catalogue that the dialogue layer needs before any tool runs."""

from __future__ import annotations

from functools import lru_cache

from sangdam.orchestrator.resources import load_resource


@lru_cache(maxsize=1)
def plan_names() -> tuple[str, ...]:
    return tuple(p["name"] for p in load_resource("demo/catalog.yaml")["plans"])
