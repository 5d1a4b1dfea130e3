"""What a call over MCP does, under one session's rules — independent of the MCP SDK (``server.py`` carries it).

- **Reads** run, as the session's verified customer (the tool layer's identity gate and ownership checks apply).
- **Writes** (and the irreversible ``request_cancellation``) never run when called: the call is the tool's
  :meth:`~sangdam.tools.base.Tool.preview` (every rule checked, the effect computed, nothing written), stored in the
  session as a proposal. ``confirm_proposal`` runs exactly that proposal under an idempotency key derived from its
  id, so confirming twice (or retrying after a failure) changes the account once; before the first attempt the
  preview is recomputed, and a changed effect is not run but offered again as a new proposal. ``decline_proposal``
  drops it.
- **verify_identity** binds the session to the customer it verifies, once (see :mod:`sangdam.mcp_server.session`).
- **search_knowledge** returns the knowledge-base passages that pass the KB's relevance gate, with their document
  and section.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import Engine

from sangdam.mcp_server.messages import catalog, description_ko, refusal
from sangdam.mcp_server.session import McpSession, StoredProposal
from sangdam.tools.base import Proposal, RiskTier, Tool, ToolContext
from sangdam.tools.registry import all_tools, get_tool

CONFIRM, DECLINE, SEARCH, SESSION_INFO = "confirm_proposal", "decline_proposal", "search_knowledge", "session_info"
VERIFY = "verify_identity"
# The tool layer throttles identity checks only for its in-chat actor ("bot"). A client over MCP is as untrusted as a
# chat, so its checks run as that actor (the conversation id, ``mcp-<session>``, still says where they came from).
IDENTITY_ACTOR = "bot"


class ToolSpec(BaseModel):
    """One tool as offered over MCP."""

    name: str
    description: str
    input_schema: dict[str, Any]
    kind: Literal["read", "proposal", "session", "knowledge"]
    risk: str | None = None
    needs_customer: bool = False


# --- arguments of the tools this server adds ------------------------------------------------------------------
class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


ArgsT = TypeVar("ArgsT", bound=_Args)


class ProposalArgs(_Args):
    proposal_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
                           Field(description="The proposal_id returned by a write tool")]


class SearchArgs(_Args):
    query: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
                     Field(description="The question or keywords, in Korean or English")]
    k: Annotated[int, Field(ge=1, le=10, description="Most passages to return")] = 5


class NoArgs(_Args):
    pass


_WRITE_NOTE = ("\n\nWrite ({risk}): calling it changes nothing. It returns a proposal (proposal_id, summary_ko, "
               "effect): show summary_ko to the customer, then call confirm_proposal(proposal_id) only after they "
               "agree, or decline_proposal(proposal_id).")
_IRREVERSIBLE_NOTE = " Confirming opens a request that a human agent completes; Sangdam never finishes it alone."
_CUSTOMER_NOTE = " Needs the session's verified customer (verify_identity first, unless the API key is bound)."
_EXTRA_EN = {
    CONFIRM: "Run a proposal the customer agreed to, exactly as proposed; confirming it again returns the same "
             "result and changes nothing more. If the effect changed since the proposal, nothing runs and a new "
             "proposal is returned in the error details.",
    DECLINE: "Drop a proposal the customer did not agree to; nothing changes.",
    SEARCH: "Search the operator's knowledge base (plans, roaming, payment, cancellation rules). Returns only "
            "passages relevant enough to answer from, each with its document and section to cite; an empty list "
            "means the documents do not cover the question.",
    SESSION_INFO: "This session's verified customer (if any), how it was bound, and its proposals.",
}


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    from sangdam.tools.schema import clean_schema

    return clean_schema(model.model_json_schema())


class Gateway:
    """Sangdam's tools and knowledge base for MCP sessions. ``today`` gives the business date of each call."""

    def __init__(self, engine: Engine, *, today: Callable[[], dt.date], kb: str = "default") -> None:
        self.engine = engine
        self.today = today
        self.kb = kb

    # --- catalogue ----------------------------------------------------------------------------------------
    def specs(self) -> list[ToolSpec]:
        """Every tool offered: the tool layer's (reads, then writes as proposals), then this server's own."""
        specs = [self._spec(tool) for tool in all_tools()]
        clash = {s.name for s in specs} & set(_EXTRA_EN)
        if clash:  # an imported tool may not shadow the confirmation contract
            raise RuntimeError(f"tool names reserved by the MCP server: {sorted(clash)}")
        extras = [(CONFIRM, ProposalArgs, "session"), (DECLINE, ProposalArgs, "session"),
                  (SEARCH, SearchArgs, "knowledge"), (SESSION_INFO, NoArgs, "session")]
        specs += [ToolSpec(name=name, description=f"{_EXTRA_EN[name]}\n\n{description_ko(name)}",
                           input_schema=_schema(model), kind=kind) for name, model, kind in extras]
        return specs

    @staticmethod
    def _spec(tool: Tool) -> ToolSpec:
        text = tool.description_en + (_CUSTOMER_NOTE if tool.needs_customer else "")
        if tool.is_write:
            text += _WRITE_NOTE.format(risk=tool.risk.value)
            if tool.risk is RiskTier.irreversible:
                text += _IRREVERSIBLE_NOTE
        if tool.description_ko:
            text += f"\n\n{tool.description_ko}"
        return ToolSpec(name=tool.name, description=text, input_schema=tool.parameters_schema(),
                        kind="proposal" if tool.is_write else "read", risk=tool.risk.value,
                        needs_customer=tool.needs_customer)

    # --- calls --------------------------------------------------------------------------------------------
    def call(self, session: McpSession, name: str, args: dict[str, Any] | None) -> dict[str, Any]:
        """Run one call in ``session`` (calls of a session run one at a time); raises :class:`ToolError`."""
        args = args or {}
        with session.lock:
            if name == CONFIRM:
                return self._confirm(session, _parse(ProposalArgs, args).proposal_id)
            if name == DECLINE:
                return self._decline(session, _parse(ProposalArgs, args).proposal_id)
            if name == SEARCH:
                return self._search(_parse(SearchArgs, args))
            if name == SESSION_INFO:
                _parse(NoArgs, args)
                return session.public()
            if name == VERIFY:
                return self._verify(session, args)
            tool = get_tool(name)
            if tool.is_write:
                return self._propose(session, tool, args)
            return tool.run(self.context(session), args).model_dump(mode="json")

    def context(self, session: McpSession, *, actor: str | None = None,
                idempotency_key: str | None = None) -> ToolContext:
        """The tool context of a call in ``session``: its actor, verified customer, audit name and source."""
        return ToolContext(engine=self.engine, today=self.today(), actor=actor or session.actor,
                           customer_id=session.customer_id, idempotency_key=idempotency_key,
                           conversation_id=session.conversation_id, source=session.source)

    def _verify(self, session: McpSession, args: dict[str, Any]) -> dict[str, Any]:
        result = get_tool(VERIFY).run(self.context(session, actor=IDENTITY_ACTOR), args)
        if result.verified:
            session.bind(result.customer_id, "verify_identity")  # refuses another customer than the bound one
        return result.model_dump(mode="json")

    def _propose(self, session: McpSession, tool: Tool, args: dict[str, Any]) -> dict[str, Any]:
        proposal = tool.preview(self.context(session), args)
        return session.add_proposal(proposal, tool.risk.value).public()

    def _confirm(self, session: McpSession, proposal_id: str) -> dict[str, Any]:
        stored = session.proposal(proposal_id)
        if stored.status in ("declined", "superseded"):
            code = "proposal_declined" if stored.status == "declined" else "proposal_changed"
            raise refusal(code, f"proposal {stored.id} is {stored.status}; it will not run", {"proposal_id": stored.id})
        tool = get_tool(stored.proposal.tool)
        if stored.status == "pending" and not stored.attempted:
            self._check_unchanged(session, tool, stored)
        # Once a run was attempted its outcome may be unknown (a backend that committed but did not answer): a retry
        # goes straight to the same key, which replays a committed write; previewing again could offer it twice.
        stored.attempted = True
        result = tool.run(self.context(session, idempotency_key=stored.idempotency_key), stored.proposal.args)
        stored.status, stored.result = "confirmed", result.model_dump(mode="json")
        return stored.public()

    def _check_unchanged(self, session: McpSession, tool: Tool, stored: StoredProposal) -> None:
        """Recompute the preview; a different effect (or customer) is not run but offered as a new proposal."""
        fresh = tool.preview(self.context(session), stored.proposal.args)
        if _effect(fresh) == _effect(stored.proposal) and stored.customer_id == session.customer_id:
            return
        stored.status = "superseded"
        replacement = session.add_proposal(fresh, stored.risk)
        raise refusal("proposal_changed", f"the effect of proposal {stored.id} changed since it was made; nothing "
                      f"ran. Show the new proposal {replacement.id} to the customer instead",
                      {"proposal_id": stored.id, "new_proposal": replacement.public()})

    def _decline(self, session: McpSession, proposal_id: str) -> dict[str, Any]:
        stored = session.proposal(proposal_id)
        if stored.status == "confirmed":
            raise refusal("proposal_already_confirmed", f"proposal {stored.id} already ran; it cannot be declined",
                          {"proposal_id": stored.id})
        stored.status = "declined"
        return stored.public()

    def _search(self, args: SearchArgs) -> dict[str, Any]:
        from sangdam.knowledge.answer import is_relevant, vocabulary_coverage
        from sangdam.knowledge.retrieval import load_kb
        from sangdam.knowledge.store import KnowledgeBaseError

        try:
            base = load_kb(self.kb)
        except KnowledgeBaseError as exc:
            raise refusal("knowledge_unavailable", str(exc)) from None
        hits = base.search(args.query, k=args.k)
        coverage = vocabulary_coverage(args.query, base)
        passages = [{"document": h.source, "section": h.heading, "text": h.text, "score": round(h.score, 4)}
                    for h in hits if is_relevant(h, coverage)]
        return {"query": args.query, "kb": self.kb, "passages": passages}


def _effect(proposal: Proposal) -> str:
    return json.dumps(proposal.model_dump(mode="json")["effect"], sort_keys=True, ensure_ascii=False)


def _parse(model: type[ArgsT], args: dict[str, Any]) -> ArgsT:
    """Validate the arguments of a tool this server adds; ``invalid_args`` like the tool layer's."""
    if not isinstance(args, dict):
        raise refusal("invalid_args", "arguments must be a JSON object", {"fields": ""})
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        labels = catalog()["fields"]
        problems = [f"'{'.'.join(str(p) for p in e['loc']) or '(arguments)'}': {e['msg']}" for e in exc.errors()]
        fields = ", ".join(dict.fromkeys(labels[str(e["loc"][0])] for e in exc.errors()
                                         if e["loc"] and str(e["loc"][0]) in labels))
        raise refusal("invalid_args" if fields else "invalid_args_general",
                      "invalid arguments: " + "; ".join(problems), {"fields": fields, "errors": problems}) from None
