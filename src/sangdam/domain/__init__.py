"""Telecom domain: data model, business policy, demo data. Knows nothing of LLMs or channels."""

# every table registered on Base.metadata
from sangdam.domain import auth_models, conversation_models, models, shared_state_models  # noqa: F401
