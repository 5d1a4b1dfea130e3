"""Telecom domain: data model, business policy, demo data. Knows nothing of LLMs or channels."""

from sangdam.domain import auth_models, conversation_models, models  # noqa: F401 - every table registered on Base.metadata
