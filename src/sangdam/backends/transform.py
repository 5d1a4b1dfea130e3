"""Evaluating the mapping file's value expressions: paths, constants, value maps, converters, lists and objects.

An expression (:class:`~sangdam.backends.mapping.Expr`) is evaluated against a *source* — the response body for a
``result``, the request for ``params``/``body`` — in this order:

1. the base value: ``const``; else ``request`` (a path into the request: ``args.line_id``, ``customer_id``,
   ``today``, ``idempotency_key``); else ``path`` (a path into the source; ``$`` is the whole source, ``$.a`` starts
   from the response root even inside a list item); else ``each`` (a path to a list); else the source itself;
2. the structure: ``each`` maps every list item through ``fields`` / ``value`` / ``shape``; ``fields`` builds an
   object from the base; ``shape`` applies a named expression of ``shapes:``;
3. ``map`` (a value table, inline or named in ``maps:``), then every ``convert`` in order, then ``default`` when
   the value is null.

Paths are dot-separated keys; a number indexes a list (``data.0.subscriberId``). A missing key reads as null.
Nulls pass through every converter (except ``non_empty``). See docs/backends.md for the converters.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sangdam.backends.mapping import Expr, MappingFile

MB_PER_GB = 1024
KST = dt.timezone(dt.timedelta(hours=9))


class TransformError(ValueError):
    """A value the mapping cannot translate (the answer does not look as the mapping says it does)."""


_MISSING = object()


def lookup(source: Any, path: str) -> Any:
    """``source`` at dot-separated ``path`` (``""`` or ``$``: ``source`` itself); missing → None."""
    if path in ("", "$"):
        return source
    value = source
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and re.fullmatch(r"-?\d+", part):
            index = int(part)
            value = value[index] if -len(value) <= index < len(value) else _MISSING
        else:
            value = _MISSING
        if value is _MISSING or value is None:
            return None
    return value


def assign(target: dict[str, Any], path: str, value: Any) -> None:
    """Set ``target`` at ``path`` (creating objects on the way)."""
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


# --- converters ----------------------------------------------------------------------------------------------
def _money(value: Any) -> int:
    """``{"amount": "55000", "currency": "KRW"}`` (or a bare decimal string/number) → ``55000``."""
    amount, currency = (value.get("amount"), value.get("currency", "KRW")) if isinstance(value, dict) else (value, "KRW")
    if currency != "KRW":
        raise TransformError(f"money in {currency!r}, expected KRW")
    try:
        number = Decimal(str(amount))
    except InvalidOperation:
        raise TransformError(f"not an amount: {amount!r}") from None
    if number != number.to_integral_value():
        raise TransformError(f"KRW amount with a fraction: {amount!r}")
    return int(number)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TransformError(f"not a number: {value!r}")
    try:
        return float(value)
    except ValueError:
        raise TransformError(f"not a number: {value!r}") from None


def _int(value: Any) -> int:
    number = _number(value)
    if not number.is_integer():
        raise TransformError(f"not a whole number: {value!r}")
    return int(number)


def _gb_to_mb(value: Any) -> int | float:
    mb = _number(value) * MB_PER_GB
    return int(mb) if mb.is_integer() else mb


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise TransformError(f"not a date: {value!r}") from None


def _datetime(value: Any) -> dt.datetime:
    """ISO date-time → Sangdam's naive local time (an offset is converted to KST first)."""
    try:
        parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise TransformError(f"not a date-time: {value!r}") from None
    return parsed.astimezone(KST).replace(tzinfo=None) if parsed.tzinfo else parsed


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


def _join(value: Any) -> str:
    if not isinstance(value, (list, tuple, set)):
        raise TransformError(f"not a list: {value!r}")
    return ",".join(str(v) for v in (sorted(value) if isinstance(value, set) else value))


def _country_code(value: Any) -> str | None:
    """A country as the customer named it (``일본``, ``Japan``, ``jp``) → ISO code; ``ToolError('unknown_country')``
    (a refusal with its Korean message, not a backend fault) when the catalogue does not know it."""
    from sangdam.tools import messages
    from sangdam.tools.base import ToolError

    text = str(value).strip()
    if not text:
        return None
    code = messages.country_codes().get(messages.normalise_name(text))
    if code is None and re.fullmatch(r"[A-Za-z]{2}", text):
        code = text.upper()  # a well-formed code with no name in the catalogue: still usable against bundle lists
    if code is None:
        raise ToolError("unknown_country", f"unknown country {text!r}", {"country": text})
    return code


def _country_name_ko(value: Any) -> str:
    from sangdam.tools.messages import country_name_ko

    return country_name_ko(str(value))


def _str(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise TransformError(f"not a scalar: {value!r}")
    return _iso(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n"):
        return False
    raise TransformError(f"not a boolean: {value!r}")


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "money": _money,
    "krw_to_money": lambda v: {"amount": str(_int(v)), "currency": "KRW"},
    "mb_to_gb": lambda v: _number(v) / MB_PER_GB,
    "gb_to_mb": _gb_to_mb,
    "kb_to_mb": lambda v: _number(v) / 1024,
    "int": _int,
    "float": _number,
    "str": _str,
    "bool": _bool,
    "round2": lambda v: round(_number(v), 2),
    "date": _date,
    "datetime": _datetime,
    "iso": _iso,
    "lower": lambda v: _str(v).lower(),
    "upper": lambda v: _str(v).upper(),
    "digits": lambda v: re.sub(r"\D", "", _str(v)),
    "join_comma": _join,
    "split_comma": lambda v: [p.strip() for p in _str(v).split(",") if p.strip()],
    "country_code": _country_code,
    "country_name_ko": _country_name_ko,
    "non_empty": lambda v: bool(v),
}
NULL_AWARE = {"non_empty"}  # converters that also see nulls
KO_PREFIX = "ko:"  # ko:<section>: the Korean catalogue text of the value (e.g. ko:statuses, ko:suspend_reasons)


def known_converter(name: str) -> bool:
    """Whether ``name`` is a converter (``ko:<section>`` needs that section in tools.ko.yaml)."""
    if name.startswith(KO_PREFIX):
        from sangdam.tools.messages import catalog

        return isinstance(catalog().get(name[len(KO_PREFIX):]), dict)
    return name in CONVERTERS


def convert(name: str, value: Any) -> Any:
    """Apply converter ``name`` to ``value`` (nulls pass through, except for null-aware converters)."""
    if value is None and name not in NULL_AWARE:
        return None
    if name.startswith(KO_PREFIX):
        from sangdam.tools.messages import text

        return text(name[len(KO_PREFIX):], str(value))
    return CONVERTERS[name](value)


# --- evaluation ----------------------------------------------------------------------------------------------
class Evaluator:
    """Evaluates expressions of one mapping file against one call's request and response."""

    def __init__(self, mapping: MappingFile, request: dict[str, Any], root: Any = None) -> None:
        self.mapping, self.request, self.root = mapping, request, root

    def eval(self, expr: Expr, source: Any) -> Any:
        value = self._structure(expr, self._base(expr, source))
        if expr.map is not None and value is not None:
            value = self._mapped(expr, value)
        for name in expr.converters:
            value = convert(name, value)
        return expr.default if value is None and expr.default is not None else value

    def _base(self, expr: Expr, source: Any) -> Any:
        if expr.has_const:
            return expr.const
        if expr.request is not None:
            return lookup(self.request, expr.request)
        if expr.path is not None:
            if expr.path.startswith("$.") and self.root is not None:
                return lookup(self.root, expr.path[2:])
            return lookup(source, expr.path)
        if expr.each is not None:
            return lookup(source, expr.each)
        return source

    def _structure(self, expr: Expr, base: Any) -> Any:
        if expr.each is not None:
            if base is None:
                return None
            if not isinstance(base, list):
                raise TransformError(f"expected a list at {expr.each!r}, got {type(base).__name__}")
            return [self._item(expr, item) for item in base]
        return self._item(expr, base)

    def _item(self, expr: Expr, item: Any) -> Any:
        if expr.value is not None:
            return self.eval(expr.value, item)
        if expr.shape is not None:
            item = self.eval(self.mapping.shapes[expr.shape], item) if item is not None else None
        if expr.fields is not None:
            if item is None:
                return None
            if not isinstance(item, dict):
                raise TransformError(f"expected an object, got {type(item).__name__}")
            return {name: self.eval(sub, item) for name, sub in expr.fields.items()}
        return item

    def _mapped(self, expr: Expr, value: Any) -> Any:
        table = self.mapping.maps[expr.map] if isinstance(expr.map, str) else expr.map
        if isinstance(value, list):
            return [self._mapped(expr, v) for v in value]
        for key in (value, str(value)):
            if isinstance(key, (str, int, float, bool)) and key in table:
                return table[key]
        raise TransformError(f"value {value!r} is not in the map ({', '.join(map(str, table))})")
