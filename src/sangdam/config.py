"""Settings, read from the environment (prefix ``SANGDAM_``) with pydantic-settings.

Every path Sangdam writes lives under ``SANGDAM_HOME``; "today" is a setting so that demos, tests and
evaluation scenarios can pin the calendar (code never calls ``date.today()`` directly).
"""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide configuration."""

    model_config = SettingsConfigDict(env_prefix="SANGDAM_", extra="ignore")

    home: Path = Field(default=Path(".sangdam"), description="Root folder for the database, models and knowledge bases.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file under SANGDAM_HOME."
    )
    today: dt.date | None = Field(default=None, description="Override of today's date (demos, tests).")
    log_level: str = Field(default="WARNING", description="Python logging level name.")
    llm_config: Path | None = Field(default=None, description="YAML file mapping LLM roles to backends.")
    # Web chat and channels (docs/server.md): signed login assertions, sessions, request limits, API docs page.
    assertion_key: str | None = Field(default=None, description="HS256 secret or PEM public key of login assertions.")
    assertion_key_file: Path | None = Field(default=None, description="File holding the assertion key (PEM).")
    assertion_algorithms: str = Field(default="HS256", description="Accepted JWT algorithms, comma-separated.")
    assertion_issuer: str | None = Field(default=None, description="Required `iss` of login assertions.")
    assertion_audience: str = Field(default="sangdam", description="Required `aud` of login assertions.")
    session_idle_minutes: int = Field(default=30, description="A web-chat session ends after this long unused.")
    session_max_hours: int = Field(default=12, description="A web-chat session ends this long after it opened.")
    max_body_bytes: int = Field(default=64 * 1024, description="Largest request body accepted (else 413).")
    api_docs: bool = Field(default=True, description="Serve /docs (self-hosted Swagger UI); /openapi.json always.")

    @property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'sangdam.db'}"

    @property
    def models_dir(self) -> Path:
        return self.resolved_home / "models"

    @property
    def kb_dir(self) -> Path:
        return self.resolved_home / "kb"

    def today_date(self) -> dt.date:
        """The business date: ``SANGDAM_TODAY`` if set, else the machine's local date."""
        return self.today or dt.date.today()

    def ensure_home(self) -> Path:
        home = self.resolved_home
        for sub in (home, self.models_dir, self.kb_dir):
            sub.mkdir(parents=True, exist_ok=True)
        return home


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The cached settings of this process (call ``reset_settings`` after changing the environment)."""
    return Settings()


def reset_settings() -> None:
    get_settings.cache_clear()


def today() -> dt.date:
    """Business date from settings."""
    return get_settings().today_date()


# Libraries that could phone home are told not to, as early as possible.
for _var, _val in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "POSTHOG_DISABLED": "1",
    "SCARF_NO_ANALYTICS": "true",
    # llama.cpp/OpenMP threads sleep instead of spinning while waiting: busy-waiting on shared cores slowed
    # the embedded model ten-fold when another process was busy (measured, docs/llm.md).
    "OMP_WAIT_POLICY": "PASSIVE",
}.items():
    os.environ.setdefault(_var, _val)
