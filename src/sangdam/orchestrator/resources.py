"""Loading Korean resources (templates, lexicons, flows) from ``sangdam/resources``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


@lru_cache(maxsize=64)
def load_resource(relative: str) -> Any:
    """Parse a YAML file under ``sangdam/resources`` (cached per process)."""
    with (RESOURCES / relative).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)
