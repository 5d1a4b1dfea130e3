"""Functions of the data procedures (resources/procedures/data_usage.yaml, data_refill.yaml): reading an amount of
data and listing the last months' usage. Questions, proposals and sentences stay in the YAML."""

from __future__ import annotations

from typing import Any

from sangdam.orchestrator import dialogue
from sangdam.orchestrator.format import gb, kperiod
from sangdam.procedures.functions import FunctionError, register_function


@register_function("gb_amount")
def gb_amount(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
    """An amount of data: ``gb`` (a number the procedure holds) or the amount ``text`` names ("2기가 충전해
    주세요"); ``{"gb": the amount or None, "whole": whether it is a whole number of GB}``."""
    if "gb" in args:
        amount = args["gb"]
    elif "text" in args:
        amount = dialogue.extract_gb(str(args["text"] or ""))
    else:
        raise FunctionError("gb_amount takes 'gb' (a number) or 'text' (the words that name one)")
    if amount is None or amount == "":
        return {"gb": None, "whole": None}
    try:
        number = float(amount)
    except (TypeError, ValueError):
        raise FunctionError(f"gb_amount: {amount!r} is not a number") from None
    whole = number == int(number)
    return {"gb": int(number) if whole else number, "whole": whole}


@register_function("usage_months")
def usage_months(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The last months' usage (``months``: get_data_usage's ``last_months``) as one list: ``{"text": "2026년 9월
    3.2GB, 2026년 10월 4GB"}``."""
    months = args.get("months")
    if not isinstance(months, list):
        raise FunctionError("usage_months takes 'months', a list of {period, data_gb}")
    return {"text": ", ".join(f"{kperiod(str(m['period']))} {gb(m['data_gb'])}" for m in months)}
