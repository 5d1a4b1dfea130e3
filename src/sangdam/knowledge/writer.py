"""``LlmAnswerWriter``: an ``AnswerWriter`` that lets a capable LLM phrase the answer from the passages.

The model answers in a JSON schema where every sentence lists the passages it rests on; ``answer()`` rejects
any sentence without a valid citation and falls back to the extractive answer, so the model cannot answer
beyond the documents. Used by the knowledge agent only when the strong role's profile is ``capable_writer``.
"""

from __future__ import annotations

import json
from typing import Any

from sangdam.knowledge.answer import Passage, WrittenSentence
from sangdam.knowledge.messages import message

WRITER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sentences": {
            "type": "array",
            "maxItems": 6,
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string", "minLength": 1},
                    "passage_ids": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
                },
                "required": ["text", "passage_ids"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["sentences"],
    "additionalProperties": False,
}


class LlmAnswerWriter:
    """Writes cited sentences with ``llm.chat(..., role=role, json_schema=WRITER_SCHEMA)``."""

    def __init__(self, llm: Any, *, role: str = "strong", max_tokens: int = 400) -> None:
        self.llm = llm
        self.role = role
        self.max_tokens = max_tokens

    def __call__(self, question: str, passages: list[Passage]) -> list[WrittenSentence]:
        material = "\n\n".join(f"[자료 {p.id}] ({p.source} · {p.heading})\n{p.text}" for p in passages)
        messages = [
            {"role": "system", "content": message("writer_system")},
            {"role": "user", "content": f"[자료]\n{material}\n\n[질문]\n{question}"},
        ]
        result = self.llm.chat(messages, role=self.role, json_schema=WRITER_SCHEMA,
                               max_tokens=self.max_tokens, temperature=0)
        data = getattr(result, "data", None) or json.loads(result.text)
        return [WrittenSentence.model_validate(s) for s in data["sentences"]]
