"""Prompt rendering and output grammars for the embedded backend.

The GGUF's own chat template (Jinja) renders the conversation, tools included, so the model sees the format it
was trained on (Qwen2.5: tools in the system turn, calls as ``<tool_call>{"name":…, "arguments":…}</tool_call>``).
Generation is then constrained by a llama.cpp GBNF grammar built from JSON schemas, so tool calls and structured
answers are syntactically valid by construction.

Tool-call formats (measured in ``bench/llm``, see ``docs/llm.md``):
- ``native_grammar`` (default): native template; grammar allows free text or ``<tool_call>`` blocks whose JSON
  matches one declared tool.
- ``native_free``: native template, unconstrained; calls parsed from ``<tool_call>`` tags.
- ``json_grammar``: tools listed in a system note; the answer must be one JSON object
  ``{"name": ..., "arguments": ...}`` (a pseudo-tool ``reply`` carries a plain answer).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Literal

from jinja2.sandbox import ImmutableSandboxedEnvironment

from sangdam.llm.types import FunctionCall, Message, ToolCall, ToolSpec

ToolFormat = Literal["native_grammar", "native_free", "json_grammar"]
REPLY_TOOL = "reply"
_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def _tojson(value: Any, indent: int | None = None, **_: Any) -> str:
    # Like transformers' tojson: keep Korean readable instead of \uXXXX escapes.
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _raise(message: str) -> None:
    raise ValueError(message)


class ChatTemplate:
    """A GGUF chat template, rendered in a sandbox with the globals HF templates expect."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise
        self._template = env.from_string(source)
        self.bos_token, self.eos_token = bos_token, eos_token

    def render(self, messages: list[Message], tools: list[ToolSpec] | None = None, *,
               add_generation_prompt: bool = True) -> str:
        """The prompt text for ``messages`` (and ``tools``, when the template supports them)."""
        return self._template.render(
            messages=[_template_message(m) for m in messages],
            tools=[t.model_dump() for t in tools] if tools else None,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )


def _template_message(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content or ""}
    if message.tool_calls:
        # HF templates expect arguments as an object, not the OpenAI JSON string.
        data["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.args()}}
            for c in message.tool_calls
        ]
    if message.tool_call_id:
        data["tool_call_id"] = message.tool_call_id
    if message.name:
        data["name"] = message.name
    return data


def call_schema(tools: list[ToolSpec], tool_choice: str = "auto", *, with_reply: bool = False) -> dict[str, Any]:
    """JSON schema of one ``{"name": ..., "arguments": {...}}`` object over the allowed tools."""
    allowed = [t for t in tools if tool_choice in ("auto", "required", "none") or t.function.name == tool_choice]
    options = [
        {
            "type": "object",
            "properties": {"name": {"const": t.function.name}, "arguments": t.function.parameters},
            "required": ["name", "arguments"],
        }
        for t in allowed
    ]
    if with_reply:
        options.append({
            "type": "object",
            "properties": {"name": {"const": REPLY_TOOL},
                           "arguments": {"type": "object", "properties": {"text": {"type": "string"}},
                                         "required": ["text"]}},
            "required": ["name", "arguments"],
        })
    return options[0] if len(options) == 1 else {"anyOf": options}


def schema_gbnf(schema: dict[str, Any], root_name: str = "root") -> str:
    """GBNF for a JSON schema (llama.cpp's converter); the top rule is renamed to ``root_name``."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(schema))
    if root_name == "root":
        return gbnf
    return re.sub(r"^root ::=", f"{root_name} ::=", gbnf, flags=re.MULTILINE)


def tool_gbnf(tools: list[ToolSpec], tool_choice: str, fmt: ToolFormat) -> str | None:
    """Grammar for a tool-enabled answer, or ``None`` when generation is left free."""
    if fmt == "native_free" or tool_choice == "none":
        return None
    if fmt == "json_grammar":
        return schema_gbnf(call_schema(tools, tool_choice, with_reply=tool_choice == "auto"))
    body = schema_gbnf(call_schema(tools, tool_choice), root_name="call")
    calls = 'calls ::= "<tool_call>\\n" call "\\n</tool_call>" ("\\n<tool_call>\\n" call "\\n</tool_call>")*'
    # Free text may not start with "<", "`" or "{": small models otherwise open a malformed tag, a ```json
    # fence or a bare JSON call instead of the trained <tool_call> block.
    root = "root ::= calls" if tool_choice != "auto" else 'root ::= calls | [^<`{] [^\\x00]*'
    return f"{root}\n{calls}\n{body}"


def json_tools_note(tools: list[ToolSpec]) -> str:
    """System note listing the tools for the ``json_grammar`` format (model-facing, English)."""
    listing = "\n".join(_tojson(t.function.model_dump()) for t in tools)
    return (
        "You can call these functions:\n" + listing + "\n"
        f'Answer with one JSON object {{"name": <function name>, "arguments": {{...}}}}. '
        f'If no function fits, use {{"name": "{REPLY_TOOL}", "arguments": {{"text": <your answer>}}}}.'
    )


def parse_tool_output(text: str, fmt: ToolFormat) -> tuple[str, list[ToolCall]]:
    """Split generated text into (plain answer, tool calls) for the given format."""
    if fmt == "json_grammar":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            return text, []
        if not isinstance(obj, dict) or "name" not in obj:
            return text, []
        if obj["name"] == REPLY_TOOL:
            return str((obj.get("arguments") or {}).get("text", "")), []
        return "", [_call(obj)]
    calls: list[ToolCall] = []
    if fmt == "native_free" and "<tool_call>" not in text:
        # Unconstrained small models often answer a call as a bare or fenced JSON object instead.
        obj = _json_object(text)
        if isinstance(obj, dict) and isinstance(obj.get("name"), str) and "arguments" in obj:
            return "", [_call(obj)]
    for raw in _TOOL_CALL.findall(text):
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            calls.append(ToolCall(id=_new_id(), function=FunctionCall(name="<unparsable>", arguments=raw)))
            continue
        if isinstance(obj, dict) and "name" in obj:
            calls.append(_call(obj))
    answer = _TOOL_CALL.sub("", text).strip() if calls else text
    return answer, calls


def _json_object(text: str) -> Any:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return json.loads(text[start:end + 1])
    except json.JSONDecodeError:
        return None


def _call(obj: dict[str, Any]) -> ToolCall:
    args = obj.get("arguments", {})
    encoded = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
    return ToolCall(id=_new_id(), function=FunctionCall(name=str(obj["name"]), arguments=encoded))


def _new_id() -> str:
    return f"call_{uuid.uuid4().hex[:12]}"
