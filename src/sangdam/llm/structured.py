"""Structured output: turn a JSON schema (dict or pydantic model class) into a validator, and build the one
repair turn used when a model's JSON does not validate.

Backends constrain generation where they can (llama.cpp grammar, vLLM guided decoding, ``response_format``);
this module is the second line: every structured answer is parsed and validated here before a caller sees it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import jsonschema
from pydantic import BaseModel, ValidationError

from sangdam.llm.types import Message, ToolCall, ToolSpec

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


@dataclass(frozen=True)
class Validation:
    """Outcome of validating one answer: ``data`` when ``ok``, else human-readable ``errors``."""

    ok: bool
    data: Any = None
    errors: tuple[str, ...] = ()


class OutputSchema:
    """A JSON schema plus the validator that matches it (pydantic for model classes, jsonschema for dicts)."""

    def __init__(self, schema: dict[str, Any] | type[BaseModel]) -> None:
        self.model: type[BaseModel] | None = None
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            self.model = schema
            self.json_schema: dict[str, Any] = schema.model_json_schema()
        elif isinstance(schema, dict):
            jsonschema.Draft202012Validator.check_schema(schema)
            self.json_schema = schema
        else:
            raise TypeError("json_schema must be a JSON-schema dict or a pydantic model class")
        self._validator = jsonschema.Draft202012Validator(self.json_schema)

    def validate(self, text: str) -> Validation:
        """Parse ``text`` as JSON (a surrounding ```json fence is tolerated) and validate it."""
        raw = text.strip()
        fenced = _FENCE.match(raw)
        if fenced:
            raw = fenced.group(1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            return Validation(False, errors=(f"not valid JSON: {exc.msg} at character {exc.pos}",))
        if self.model is not None:
            try:
                return Validation(True, data=self.model.model_validate(value))
            except ValidationError as exc:
                return Validation(False, errors=tuple(_pydantic_errors(exc)))
        errors = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in self._validator.iter_errors(value)]
        return Validation(not errors, data=value if not errors else None, errors=tuple(errors[:5]))


def _pydantic_errors(exc: ValidationError) -> list[str]:
    return [f"{'/'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()[:5]]


def validate_tool_calls(calls: list[ToolCall], tools: list[ToolSpec]) -> list[str]:
    """Errors in ``calls`` against the declared ``tools``: unknown names, non-JSON or schema-invalid arguments."""
    by_name = {t.function.name: t.function for t in tools}
    errors: list[str] = []
    for call in calls:
        spec = by_name.get(call.function.name)
        if spec is None:
            errors.append(f"unknown tool {call.function.name!r}; available: {', '.join(by_name)}")
            continue
        try:
            args = json.loads(call.function.arguments or "{}")
        except json.JSONDecodeError as exc:
            errors.append(f"{spec.name}: arguments are not valid JSON ({exc.msg})")
            continue
        for err in jsonschema.Draft202012Validator(spec.parameters).iter_errors(args):
            errors.append(f"{spec.name}.{'/'.join(map(str, err.absolute_path)) or 'arguments'}: {err.message}")
    return errors


def repair_messages(messages: list[Message], bad_output: str, errors: list[str] | tuple[str, ...]) -> list[Message]:
    """The conversation plus the rejected answer and an instruction to correct it (model-facing, English)."""
    problems = "\n".join(f"- {e}" for e in errors)
    return [
        *messages,
        Message(role="assistant", content=bad_output),
        Message(
            role="user",
            content=(
                "Your previous answer was rejected:\n"
                f"{problems}\n"
                "Answer again with only the corrected output, matching the required format exactly."
            ),
        ),
    ]
