"""The scenario format (a public contract, documented in ``docs/scenarios.md``).

A scenario is one self-contained conversation: optional fixtures (the database it starts from), an optional
authenticated session, the customer's turns with what each reply must (not) do, and the final state the database
must be in. Grading is τ²-bench style: mostly by the database and the tool calls, with a few key facts in replies.

Every model forbids unknown keys, so a typo (``reply_contain``) is an error, never a silently skipped check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from difflib import get_close_matches
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from sangdam.orchestrator.intents import all_intents, is_intent


@lru_cache(maxsize=1)
def known_tool_names() -> frozenset[str]:
    """Every tool a scenario may name: the registry's (the canonical tools of issue 2 and any added later)."""
    from sangdam.tools.registry import CANONICAL_NAMES, all_tools

    return frozenset(CANONICAL_NAMES) | {tool.name for tool in all_tools()}


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionSpec(_Strict):
    """An authenticated channel: the conversation starts with this customer already known."""

    customer_id: str | None = None


class TurnExpect(_Strict):
    """What one turn's result must show. Every key is optional; an empty ``expect`` checks nothing.

    Tool expectations look at the turn's ``tool_calls``: ``tools_called`` / ``tools_not_called`` count calls that
    were executed or attempted (status ``ok`` or ``error``); a call only *proposed* for confirmation (status
    ``proposed``) or turned down (``declined``) does not count as called — use ``tools_proposed`` for that.
    A tool item may list alternatives, ``get_bills|explain_bill``: one of them (called, proposed, failed) is
    enough; for ``tools_not_called`` none of them may run.
    """

    intents: list[str] | None = Field(default=None, description="Exact, ordered intent list of the turn.")
    tools_called: list[str] = Field(default_factory=list, description="Each executed or attempted (ok|error).")
    tools_not_called: list[str] = Field(default_factory=list, description="None executed or attempted.")
    tools_proposed: list[str] = Field(default_factory=list, description="Each proposed, awaiting yes/no.")
    tools_failed: list[str] = Field(default_factory=list, description="Each attempted and refused (status error).")
    reply_contains: list[str] = Field(default_factory=list, description="Each item in the reply; '|' = or.")
    reply_not_contains: list[str] = Field(default_factory=list, description="No item (no alternative) in reply.")
    pending_action: bool | None = Field(default=None, description="Whether a proposal awaits the customer.")
    handed_off: bool | None = Field(default=None, description="Whether the turn handed off to a human.")
    verified: bool | None = Field(default=None, description="Whether the customer is verified after the turn.")

    @field_validator("intents")
    @classmethod
    def _known_intents(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if not is_intent(name):  # the taxonomy, or an intent registered in data (docs/procedures.md)
                raise ValueError(f"unknown intent {name!r}{_did_you_mean(name, all_intents())}")
        return value

    @field_validator("tools_called", "tools_not_called", "tools_proposed", "tools_failed")
    @classmethod
    def _known_tools(cls, value: list[str]) -> list[str]:
        known = known_tool_names()
        for item in value:
            for name in item.split("|"):
                if name not in known:
                    raise ValueError(f"unknown tool {name!r}{_did_you_mean(name, known)}")
        return value

    @field_validator("reply_contains", "reply_not_contains")
    @classmethod
    def _no_empty_alternative(cls, value: list[str]) -> list[str]:
        for item in value:
            if any(not alt.strip() for alt in item.split("|")):
                raise ValueError(f"empty alternative in {item!r} ('|' separates alternatives)")
        return value


class Turn(_Strict):
    """One customer message and what the bot's turn must show."""

    user: str = Field(min_length=1)
    expect: TurnExpect = Field(default_factory=TurnExpect)


class RowCount(_Strict):
    """How many rows of ``table`` match ``where`` at the end (e.g. one cancellation ticket for C1)."""

    table: str
    where: dict[str, Any] = Field(default_factory=dict)
    count: int = Field(ge=0)


class FinalExpect(_Strict):
    """The state after the last turn."""

    db: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, description="table → primary key → field → expected value."
    )
    bills_total_delta: dict[str, int] = Field(
        default_factory=dict, description="customer id → change of the sum of the customer's bill amounts (KRW)."
    )
    summary_contains: list[str] = Field(default_factory=list, description="In the after-call summary; '|' = or.")
    db_unchanged: bool | list[str] = Field(
        default=False, description="true: every customer-data table identical to the start; or a list of tables."
    )
    rows: list[RowCount] = Field(default_factory=list, description="Row counts by table and filter.")


class Scenario(_Strict):
    """One self-contained conversation to run and grade."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=120)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    # Validated against the domain's fixture models by the loader (which reports the exact field path).
    fixtures: dict[str, Any] | None = Field(
        default=None, description="Starting data (domain field names); omitted → the demo data."
    )
    session: SessionSpec | None = None
    llm_responses: list[Any] | None = Field(
        default=None, description="Replayed by the scripted LLM backend (--llm scripted); ignored otherwise."
    )
    agentic: StrictBool = Field(
        default=False,
        description="The scripted model is trusted to act (--llm scripted): the LLM agent serves what no intent does.",
    )
    turns: list[Turn] = Field(min_length=1)
    final: FinalExpect = Field(default_factory=FinalExpect)

    @property
    def today(self) -> dt.date | None:
        """The business date the scenario pins (``fixtures.today``), if any."""
        raw = (self.fixtures or {}).get("today")
        if raw is None:
            return None
        return raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))

    @property
    def uses_demo_data(self) -> bool:
        """True when the scenario brings no tables of its own (only, at most, ``today``)."""
        return not any(k != "today" for k in (self.fixtures or {}))
