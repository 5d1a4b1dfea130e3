"""``sangdam identity``: the in-chat identity locks now in force, and clearing one (for agents and operators).

A lock names a number by its last 4 digits and a keyed pseudonym, never in full (docs/data-at-rest.md).
"""

from __future__ import annotations

import datetime as dt
import json

import typer

app = typer.Typer(help="In-chat identity verification locks: list them, clear one.", no_args_is_help=True)


def _now(at: str | None) -> dt.datetime:
    from sangdam.config import get_settings

    if at:
        return dt.datetime.fromisoformat(at)
    clock = dt.datetime.now().time().replace(microsecond=0)
    return dt.datetime.combine(get_settings().today_date(), clock)  # the business date, as the tools use it


@app.command("locks")
def locks(
    as_json: bool = typer.Option(False, "--json", help="Print JSON: kind, last4, key, failures, until, conversations."),
    at: str | None = typer.Option(None, "--at", help="Evaluate at this ISO time instead of now."),
) -> None:
    """List the numbers and sources that may not verify in chat right now, longest wait first."""
    from sangdam.domain.db import get_engine
    from sangdam.tools.identity import identity_locks

    found = identity_locks(get_engine(), now=_now(at))
    if as_json:
        typer.echo(json.dumps([lock.model_dump(mode="json") for lock in found], ensure_ascii=False, indent=2))
        return
    if not found:
        typer.echo("no identity locks")
    for lock in found:
        who = f"number ending {lock.last4}" if lock.kind == "number" else f"source {lock.key[:12]}…"
        typer.echo(f"{who}: {lock.failures} failures, locked until {lock.until:%Y-%m-%d %H:%M:%S}, "
                   f"conversations {', '.join(lock.conversations) or '-'}")


@app.command("unlock")
def unlock(
    phone: str = typer.Argument(..., help="The number to unlock, e.g. 010-1234-5678 (after checking the caller)."),
    agent: str = typer.Option(..., "--agent", help="Id of the agent clearing the lock (audited as agent:<id>)."),
) -> None:
    """Clear a number's lock: its failures so far no longer count (audited)."""
    from sangdam.domain.db import get_engine
    from sangdam.tools.identity import clear_identity_lock

    try:
        clear_identity_lock(get_engine(), phone, actor=f"agent:{agent}", now=_now(None))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"cleared the identity lock of the number ending {phone[-4:]}")
