"""Per-turn limits of the LLM agent: steps, tokens, wall time (``SANGDAM_AGENT_*``, docs/agent.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AgentLimits(BaseModel):
    """A limit that is hit ends the turn with a graceful Korean reply and the offer of a human agent."""

    max_steps: int = Field(default=6, ge=1, le=20, description="Model calls per turn (tool calls and the answer).")
    max_tokens: int = Field(default=8192, ge=64, description="Tokens the model evaluates per turn, all steps: prompt "
                            "tokens not reused from the prefix cache, plus completion tokens.")
    max_seconds: float = Field(default=30.0, gt=0, description="Wall time per turn.")
    step_tokens: int = Field(default=384, ge=32, le=4096, description="Completion tokens per model call.")

    @classmethod
    def from_settings(cls) -> AgentLimits:
        from sangdam.config import get_settings

        s = get_settings()
        return cls(max_steps=s.agent_max_steps, max_tokens=s.agent_max_tokens, max_seconds=s.agent_max_seconds)
