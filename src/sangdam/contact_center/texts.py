"""The contact centre's Korean texts (``resources/contact_center/ko.yaml``)."""

from __future__ import annotations

from typing import Any

from sangdam.orchestrator.resources import load_resource


def texts() -> dict[str, Any]:
    """The parsed resource file (cached by ``load_resource``)."""
    return load_resource("contact_center/ko.yaml")


def text(path: str, **values: Any) -> str:
    """The template at dotted ``path`` rendered with ``values``."""
    node: Any = texts()
    for part in path.split("."):
        node = node[part]
    return str(node).format(**values) if values else str(node)
