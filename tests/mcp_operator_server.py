"""A tiny operator MCP server for the import tests: "Nuri NetOps" (outage ETAs and callbacks from an agent).

Run as ``python tests/mcp_operator_server.py stdio`` or ``python tests/mcp_operator_server.py http PORT``.
Tools: ``get_outage_eta`` (read, structured result with an internal ``ticket_ref``), ``list_callbacks`` and
``schedule_callback`` (a write that answers a repeated ``_meta.idempotency_key`` with its first result; refuses
a full day). State and a call log live in files named by the environment, so a test sees every call, whichever
transport or process served it:

- ``NETOPS_STATE``: JSON ``{"callbacks": {key: callback}, "delay_s": 0}`` (``delay_s`` slows every call down);
- ``NETOPS_LOG``: one JSON line per call: tool, arguments, idempotency key from ``_meta``, process id.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

FULL_DAY = "2026-12-25"
server = MCPServer("netops")


class OutageEta(BaseModel):
    area: str
    outage: bool
    eta: str | None
    cause: str | None
    ticket_ref: str  # internal; the mapping does not allow it


def _state() -> dict:
    path = Path(os.environ["NETOPS_STATE"])
    return json.loads(path.read_text()) if path.exists() else {"callbacks": {}, "delay_s": 0}


def _save(state: dict) -> None:
    Path(os.environ["NETOPS_STATE"]).write_text(json.dumps(state))


def _log(tool: str, arguments: dict, ctx: Context | None) -> dict:
    meta = (ctx.request_context.meta or {}) if ctx is not None else {}
    key = meta.get("idempotency_key")
    with open(os.environ["NETOPS_LOG"], "a", encoding="utf-8") as f:
        f.write(json.dumps({"tool": tool, "args": arguments, "key": key, "pid": os.getpid()}, ensure_ascii=False)
                + "\n")
    state = _state()
    if state.get("delay_s"):
        time.sleep(state["delay_s"])
    return state


@server.tool()
def get_outage_eta(area: str, ctx: Context) -> OutageEta:
    """Whether an area has an outage now, and when service is expected back."""
    _log("get_outage_eta", {"area": area}, ctx)
    if "강남" in area:
        return OutageEta(area=area, outage=True, eta="2026-11-29T18:00:00", cause="광케이블 공사",
                         ticket_ref="INC-88812-internal")
    return OutageEta(area=area, outage=False, eta=None, cause=None, ticket_ref="none")


@server.tool()
def list_callbacks(subscriber_id: str, ctx: Context) -> dict:
    """The subscriber's scheduled callbacks."""
    state = _log("list_callbacks", {"subscriber_id": subscriber_id}, ctx)
    return {"callbacks": [c for c in state["callbacks"].values() if c["subscriber_id"] == subscriber_id]}


@server.tool()
def schedule_callback(subscriber_id: str, callback_date: dt.date, slot: Literal["morning", "afternoon"], topic: str,
                      ctx: Context) -> dict:
    """Schedule a call from an agent to the subscriber."""
    arguments = {"subscriber_id": subscriber_id, "callback_date": callback_date.isoformat(), "slot": slot,
                 "topic": topic}
    state = _log("schedule_callback", arguments, ctx)
    key = (ctx.request_context.meta or {}).get("idempotency_key")
    if key and key in state["callbacks"]:
        return state["callbacks"][key]
    if callback_date.isoformat() == FULL_DAY:
        raise ToolError("no agent free that day")
    callback = {"callback_id": f"CB-{len(state['callbacks']) + 1:04d}", "subscriber_id": subscriber_id,
                "callback_date": callback_date.isoformat(), "slot": slot, "status": "scheduled",
                "agent_extension": "4417"}
    state["callbacks"][key or callback["callback_id"]] = callback
    _save(state)
    return callback


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
