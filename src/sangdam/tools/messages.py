"""Korean customer texts of the tool layer (errors, proposals, bill items, ticket texts, country names).

All of them live in ``resources/messages/tools.ko.yaml`` so tone is reviewed in one place; this module loads
the file once and renders its ``str.format`` templates with values formatted the Korean way (``4,400원``,
``2026년 12월 1일``, ``2GB``).
"""

from __future__ import annotations

import datetime as dt
import re
import string
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from sangdam.korean.particles import resolve

_RESOURCE = ("messages", "tools.ko.yaml")
_PERIOD = re.compile(r"\d{4}-\d{2}")


@lru_cache(maxsize=1)
def catalog() -> dict[str, Any]:
    """The parsed ``tools.ko.yaml`` (cached)."""
    path = resources.files("sangdam.resources")
    for part in _RESOURCE:  # one part at a time: ``resources`` is a namespace package (MultiplexedPath)
        path = path.joinpath(part)
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def format_value(key: str, value: Any) -> str:
    """One value as Korean text: ``*_krw`` ints as ``4,400원``, dates as ``2026년 12월 1일``, ``*_gb`` as ``2GB``,
    ``period`` (``YYYY-MM``) as ``2026년 10월``."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return f"{value.year}년 {value.month}월 {value.day}일 {value.hour}시 {value.minute:02d}분"
    if isinstance(value, dt.date):
        return f"{value.year}년 {value.month}월 {value.day}일"
    if (key == "period" or key.endswith("_period")) and isinstance(value, str) and _PERIOD.fullmatch(value):
        return f"{int(value[:4])}년 {int(value[5:])}월"
    if isinstance(value, bool):
        return "예" if value else "아니요"
    if key.endswith("_krw") and isinstance(value, (int, float)):
        return f"{int(value):,}원"
    if key.endswith("_gb") and isinstance(value, (int, float)):
        return f"{_number(value)}GB"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _number(value: float) -> str:
    """``2.0`` → ``2``, ``1.5`` → ``1.5``, ``0.333`` → ``0.33``."""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


class _SafeDict(dict):
    """Leaves unknown ``{placeholders}`` visible instead of raising, so a template typo never hides an error."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, values: dict[str, Any]) -> str:
    """Fill ``template`` with ``values`` formatted by :func:`format_value`; "{name}(으)로" keeps the form that fits."""
    formatted = _SafeDict({k: format_value(k, v) for k, v in values.items()})
    if values.get("line_number"):  # texts name a line by its last 4 digits, never by its full number
        formatted.setdefault("line_last4", re.sub(r"\D", "", str(values["line_number"]))[-4:])
    return resolve(string.Formatter().vformat(template, (), formatted))


def text(section: str, key: str, values: dict[str, Any] | None = None, default: str | None = None) -> str:
    """Render ``section.key`` of the catalogue (``default`` key of the section if ``key`` is missing)."""
    entries = catalog().get(section, {})
    template = entries.get(key)
    if template is None:
        template = entries.get(default or "_default", "")
    return render(template, values or {})


def error_ko(code: str, details: dict[str, Any]) -> str:
    """Korean customer message of error ``code``."""
    return text("errors", code, details)


def description_ko(tool_name: str) -> str:
    """Korean description of a tool (shown in consoles and given to Korean-prompted models)."""
    return catalog().get("descriptions", {}).get(tool_name, "")


def field_label(field: str, default: str | None = "") -> str | None:
    """Korean label of an argument name, for validation messages (``default`` for unknown names)."""
    return catalog().get("fields", {}).get(field, default)


@lru_cache(maxsize=1)
def country_codes() -> dict[str, str]:
    """Normalised country name (Korean or English, any case, no spaces) → ISO-3166 alpha-2 code."""
    table: dict[str, str] = {}
    for code, names in catalog().get("countries", {}).items():
        table[normalise_name(code)] = code
        for name in names:
            table[normalise_name(name)] = code
    return table


def country_name_ko(code: str) -> str:
    """First (Korean) name of a country code, or the code itself."""
    names = catalog().get("countries", {}).get(code)
    return names[0] if names else code


def normalise_name(name: str) -> str:
    return "".join(name.split()).casefold().replace(".", "")


def proposal(key: str):  # noqa: ANN201 - returns a summariser
    """Summariser for ``Tool.summarise`` rendering the ``proposals.<key>`` template (the effect only; the caller
    asks the confirmation question)."""

    def summarise(effect: dict[str, Any]) -> str:
        return text("proposals", key, effect)

    return summarise
