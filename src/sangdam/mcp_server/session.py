"""The state of one MCP session: who is calling, the one customer it is bound to, and its pending proposals.

A session is bound to at most one customer, once: by the API key that opened it (a ``customer-channel`` key bound
to a customer), by the operator on stdio (``--customer``), or by a successful ``verify_identity`` in the session.
Nothing unbinds or rebinds it; a second verification naming anyone else is refused. Proposals live in the session
that made them, so another session cannot confirm them (its ids are unknown there).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from sangdam.mcp_server.messages import refusal
from sangdam.tools.base import Proposal

BoundBy = Literal["api_key", "operator", "verify_identity"]
ProposalStatus = Literal["pending", "confirmed", "declined", "superseded"]
SESSION_IDLE_S = 30 * 60  # the MCP SDK ends an idle HTTP session after 30 minutes; its state goes with it


@dataclass
class StoredProposal:
    """A write previewed in this session, waiting for ``confirm_proposal`` or ``decline_proposal``."""

    id: str
    proposal: Proposal
    risk: str
    customer_id: str | None
    status: ProposalStatus = "pending"
    result: dict[str, Any] | None = None
    attempted: bool = False  # a run was tried under the key (its outcome may be unknown if it failed)

    @property
    def idempotency_key(self) -> str:
        """The key every confirmation of this proposal runs under: a repeated confirm is replayed, never re-run."""
        return f"mcp-proposal:{self.id}"

    def public(self) -> dict[str, Any]:
        """What the client sees of a proposal."""
        shown = self.proposal.model_dump(mode="json")  # dates in the effect as ISO strings
        out: dict[str, Any] = {
            "proposal_id": self.id,
            "tool": self.proposal.tool,
            "risk": self.risk,
            "status": self.status,
            "summary_ko": shown["summary_ko"],
            "effect": shown["effect"],
            "args": shown["args"],
        }
        if self.result is not None:
            out["result"] = self.result
        return out


@dataclass
class McpSession:
    """One client's session. ``lock`` serialises its calls (a second confirm waits for the first)."""

    id: str
    actor: str  # audit "who": "mcp:key:<key id>" or "mcp:stdio"
    source: str | None  # throttling source of identity checks (client address); None on trusted stdio
    key_id: str | None = None
    customer_id: str | None = None
    bound_by: BoundBy | None = None
    proposals: dict[str, StoredProposal] = field(default_factory=dict)
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def conversation_id(self) -> str:
        """How the session is named in the audit log (and for the per-conversation identity throttle)."""
        return f"mcp-{self.id}"

    def bind(self, customer_id: str, how: BoundBy) -> None:
        """Bind the session to ``customer_id``; binding again to the same customer is a no-op, to another refused."""
        if self.customer_id is not None and self.customer_id != customer_id:
            raise refusal("session_bound_to_other_customer",
                          f"session {self.id} is bound to another customer; it can never switch customers")
        if self.customer_id is None:
            self.customer_id, self.bound_by = customer_id, how

    def add_proposal(self, proposal: Proposal, risk: str) -> StoredProposal:
        stored = StoredProposal(id=f"PR-{uuid.uuid4().hex}", proposal=proposal, risk=risk,
                                customer_id=self.customer_id)
        self.proposals[stored.id] = stored
        return stored

    def proposal(self, proposal_id: str) -> StoredProposal:
        """The proposal ``proposal_id`` of this session (another session's id is unknown here)."""
        stored = self.proposals.get(str(proposal_id))
        if stored is None:
            raise refusal("proposal_not_found", f"no proposal {proposal_id!r} in this session",
                          {"proposal_id": str(proposal_id)})
        return stored

    def public(self) -> dict[str, Any]:
        return {
            "session_id": self.id,
            "customer_id": self.customer_id,
            "bound_by": self.bound_by,
            "proposals": [p.public() for p in self.proposals.values()],
        }


class SessionRegistry:
    """Sessions by id, in this process; one idle for ``SESSION_IDLE_S`` is forgotten (the transport ended it)."""

    def __init__(self, idle_s: float = SESSION_IDLE_S) -> None:
        self.idle_s = idle_s
        self._sessions: dict[str, McpSession] = {}
        self._lock = threading.Lock()

    def get_or_create(self, session_id: str, *, actor: str, source: str | None, key_id: str | None = None,
                      customer_id: str | None = None, bound_by: BoundBy | None = None) -> McpSession:
        """The session ``session_id``, created on first use (bound to ``customer_id`` when given)."""
        now = time.monotonic()
        with self._lock:
            self._forget_idle(now)
            session = self._sessions.get(session_id)
            if session is None:
                session = McpSession(id=session_id, actor=actor, source=source, key_id=key_id)
                if customer_id is not None:
                    session.bind(customer_id, bound_by or "api_key")
                self._sessions[session_id] = session
            session.last_used = now
            return session

    def _forget_idle(self, now: float) -> None:
        for sid in [s.id for s in self._sessions.values() if now - s.last_used > self.idle_s]:
            del self._sessions[sid]

    def __len__(self) -> int:
        return len(self._sessions)
