"""Fault injection for the crash tests: a server process kills itself (SIGKILL) right after a chosen commit.

Off unless ``SANGDAM_FAULT_FILE`` names a file path when the server starts (``sangdam serve`` installs it; nothing
is installed otherwise, so production pays nothing). A test *arms* the fault by writing table names into that file,
one per line:

- ``tool_executions`` — the process dies right after a write tool committed (the charge and its idempotency record
  are stored, the turn that ran it is not): the "kill between commit and save" of issue 11;
- ``messages`` — the process dies right after a turn was saved, before its answer reached the client: the client's
  retry with the same ``Idempotency-Key`` must get the stored answer, not a second turn.

The first process of the server that commits a new row into an armed table removes the file and dies at once (the
same effect as ``kill -9`` from outside at exactly that point); removing the file first makes it fire once, whichever
of several workers gets there. A worker supervisor (``--workers N``) starts a new worker in its place.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

FAULT_FILE_ENV = "SANGDAM_FAULT_FILE"


def install_from_env() -> bool:
    """Install the fault hook when ``SANGDAM_FAULT_FILE`` is set; True when installed."""
    path = os.environ.get(FAULT_FILE_ENV)
    if not path:
        return False
    install(Path(path))
    return True


def install(fault_file: Path) -> None:
    """Kill this process after the commit of a new row into a table named in ``fault_file`` (see module doc)."""

    @event.listens_for(Session, "after_flush")
    def _arm(session: Session, _flush_context: object) -> None:
        armed = _armed_tables(fault_file)
        if armed and any(getattr(obj, "__tablename__", None) in armed for obj in session.new):
            session.info["sangdam_fault"] = True

    @event.listens_for(Session, "after_commit")
    def _fire(session: Session) -> None:
        if not session.info.pop("sangdam_fault", False):
            return
        try:
            fault_file.unlink()  # only one process wins: the fault fires once
        except FileNotFoundError:
            return
        os.kill(os.getpid(), signal.SIGKILL)


def _armed_tables(fault_file: Path) -> set[str]:
    try:
        return {line.strip() for line in fault_file.read_text().splitlines() if line.strip()}
    except FileNotFoundError:
        return set()
