"""Customer-facing Korean text of the knowledge base, read from ``resources/messages/kb.ko.yaml``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


@lru_cache(maxsize=1)
def kb_messages() -> dict[str, str]:
    """All messages, keyed by name."""
    text = (RESOURCES / "messages" / "kb.ko.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def message(key: str) -> str:
    """One message; KeyError names the missing key."""
    return kb_messages()[key]
