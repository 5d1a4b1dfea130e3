"""What the model is told about the tools, and the JSON schema of the one action it may answer with.

Descriptions come from the registry — built-in tools and the operator's imported ones (their mapping file's
``description_ko`` / ``description_en``) — in Korean or English, as a compact one-line form for small context windows
or the full OpenAI schema. The action schema holds only what is valid *now*: the allow-listed tools, and for every
id argument the ids of the verified customer's own records (lines, bills) or of the catalogue (plans, passes). A
model never needs to guess an id, and one that invents one is refused here whatever its server's grammar did.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from sangdam.tools.base import RiskTier, Tool
from sangdam.tools.registry import all_tools, get_tool

# Argument name -> the list of ``Now`` holding its valid values.
ID_ARGS = {"line_id": "lines", "bill_id": "bills", "plan_id": "plans", "pass_id": "passes"}
# Never the agent's: identity is the gate's, a human handoff is the customer's own request or the escalation's, and
# the customer's personal record (name, contact, address) is nothing a model needs to answer anything.
NEVER = frozenset({"verify_identity", "transfer_to_human", "get_customer"})
ANSWER_MAX_CHARS = 700


class Now(BaseModel):
    """The ids valid in this turn (the verified customer's own records, the catalogue)."""

    lines: list[str] = Field(default_factory=list)
    bills: list[str] = Field(default_factory=list)
    plans: list[str] = Field(default_factory=list)
    passes: list[str] = Field(default_factory=list)

    def valid(self, arg: str) -> list[str] | None:
        """The values ``arg`` may take (None: not an id argument, any value the tool accepts)."""
        kind = ID_ARGS.get(arg)
        return None if kind is None else list(getattr(self, kind))


def allow_list() -> list[str]:
    """The deployment's tools for the agent: ``SANGDAM_AGENT_TOOLS``, else every read tool and every write that is
    not irreversible (identity checks and handoffs are never the agent's)."""
    from sangdam.config import get_settings

    configured = get_settings().agent_tools
    if configured:
        names = [n.strip() for n in configured.split(",") if n.strip()]
        return [n for n in names if n not in NEVER]
    return [t.name for t in all_tools() if t.name not in NEVER and t.risk is not RiskTier.irreversible]


def _params(tool: Tool) -> tuple[dict[str, Any], list[str]]:
    schema = tool.parameters_schema()
    return dict(schema.get("properties", {})), list(schema.get("required", []))


def _grammar_safe(schema: Any) -> Any:
    """A parameter schema without length bounds: llama.cpp's grammar refuses long repetitions ("char{0,700}");
    the tool validates the lengths itself, and a too-long answer is cut by the agent."""
    if isinstance(schema, dict):
        return {k: _grammar_safe(v) for k, v in schema.items() if k not in ("maxLength", "minLength", "pattern")}
    if isinstance(schema, list):
        return [_grammar_safe(v) for v in schema]
    return schema


def usable(tool: Tool, now: Now) -> bool:
    """Whether the tool can be called now: every required id argument has a valid value to take."""
    props, required = _params(tool)
    return all(now.valid(name) != [] for name in required if name in props)


def describe(tools: list[Tool], *, lang: str = "ko", compact: bool = True) -> str:
    """The tools for the prompt: one line each (``compact``) or their full JSON schemas."""
    if not compact:
        return "\n".join(json.dumps(t.openai_schema(lang=lang), ensure_ascii=False) for t in tools)
    out = []
    for tool in tools:
        props, required = _params(tool)
        args = ", ".join(name if name in required else f"{name}?" for name in props)
        kind = "read" if tool.risk is RiskTier.read else "write: proposed, the customer confirms"
        text = tool.description_ko if lang == "ko" else tool.description_en
        out.append(f"- {tool.name}({args}) [{kind}] {text}".rstrip())
    return "\n".join(out)


def action_schema(tools: list[Tool], now: Now, *, answer_only: bool = False,
                  identify: bool = False, documents: bool = False) -> dict[str, Any]:
    """The JSON schema of one action: ``answer`` (Korean text), ``call`` (a read tool) or ``propose`` (a write),
    each tool with its arguments, id arguments enumerated from ``now``; ``identify`` (before identity: the request
    needs the customer's own records, so the customer is asked to verify first)."""
    options: list[dict[str, Any]] = [{
        "type": "object",
        "properties": {"action": {"const": "answer"}, "text": {"type": "string"}},
        "required": ["action", "text"],
        "additionalProperties": False,
    }]
    if identify and not answer_only:
        options.append({"type": "object", "properties": {"action": {"const": "identify"}}, "required": ["action"],
                        "additionalProperties": False})
    if documents and not answer_only:
        from sangdam.agentic.documents import schema_option

        options.append(schema_option())
    if not answer_only:
        for tool in tools:
            props, required = _params(tool)
            for name in props:
                valid = now.valid(name)
                props[name] = {"enum": valid} if valid is not None else _grammar_safe(props[name])
            options.append({
                "type": "object",
                "properties": {
                    "action": {"const": "call" if tool.risk is RiskTier.read else "propose"},
                    "tool": {"const": tool.name},
                    "args": {"type": "object", "properties": props, "required": required,
                             "additionalProperties": False},
                },
                "required": ["action", "tool", "args"],
                "additionalProperties": False,
            })
    return {"anyOf": options} if len(options) > 1 else options[0]


IDENTIFY_TOOL = "identify_customer"


def native_tools(schema: dict[str, Any], *, lang: str = "ko") -> list[dict[str, Any]]:
    """The action schema as OpenAI ``tools`` (for servers with native tool calls): one function per tool option,
    its parameters the same enumerated arguments; ``identify`` becomes the function ``identify_customer``; an
    answer is plain text."""
    out: list[dict[str, Any]] = []
    for option in schema.get("anyOf", [schema]):
        props = option["properties"]
        action = props["action"]["const"]
        if action == "identify":
            out.append({"type": "function", "function": {
                "name": IDENTIFY_TOOL, "parameters": {"type": "object", "properties": {}},
                "description": "고객 본인 확인이 필요합니다(고객 기록이 필요한 요청)." if lang == "ko"
                else "The request needs the customer's own records: ask them to verify their identity."}})
        elif action in ("call", "propose"):
            name = props["tool"]["const"]
            try:
                tool = get_tool(name)
                text = tool.description_ko if lang == "ko" else tool.description_en
            except Exception:  # noqa: BLE001 - search_documents is Sangdam's own, not a registry tool
                text = "운영사 문서에서 관련 구절을 찾습니다." if lang == "ko" else "Search the operator's documents."
            out.append({"type": "function", "function": {"name": name, "description": text,
                                                         "parameters": props["args"]}})
    return out


def tools_for(names: list[str], now: Now, *, verified: bool) -> list[Tool]:
    """The allow-listed tools usable now (before identity: only those that read no customer's records)."""
    out = []
    for name in names:
        try:
            tool = get_tool(name)
        except Exception:  # noqa: BLE001 - an imported tool whose source is down is simply not offered
            continue
        if (verified or not tool.needs_customer) and usable(tool, now):
            out.append(tool)
    return out
