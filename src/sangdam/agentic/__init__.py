"""The LLM agent (issue "Open world III"): a capable self-hosted model plans and calls the operator's tools for
requests no procedure covers — safely by construction.

The model *proposes* each step as one JSON action (call a read tool, propose a write, or answer); Sangdam decides:
the action must name a tool of the deployment's allow-list with arguments whose ids are the verified customer's own
(the JSON schema's enums hold only the ids valid now, and every action is re-checked here whatever the server's
grammar did); tools read only the verified customer's records; a write is only ever a proposal, confirmed by the
customer in a later turn through the same preview → confirm → idempotent path as procedures; the answer passes the
verifier (every number, date, plan name and id from this turn's tool results) and the claim check (each amount said
of what a fact holds it as; no bill, roaming or line state the records deny) or is regenerated once, then replaced
by a safe reply; tool results reach the model PII-masked and fenced as data, never as instructions.

Modules: ``catalog`` (tool descriptions in Korean and English, compact or full, and the action schema),
``context`` (what the model knows without a call: the customer's lines, plan and bills), ``agent`` (the bounded
loop, as the sub-agent ``agentic``), ``claims`` (the claim check of its answers), ``limits`` (steps, tokens, wall
time).
"""

from __future__ import annotations

from sangdam.agentic.limits import AgentLimits

__all__ = ["AgentLimits"]
