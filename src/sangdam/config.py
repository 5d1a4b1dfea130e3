"""Settings, read from the environment (prefix ``SANGDAM_``) with pydantic-settings.

Every path Sangdam writes lives under ``SANGDAM_HOME``; "today" is a setting so that demos, tests and
evaluation scenarios can pin the calendar (code never calls ``date.today()`` directly).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import stat
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
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
    hash_secret: SecretStr | None = Field(
        default=None,
        description="Key of the HMAC that pseudonymises phone numbers and client addresses in the audit log "
        "(docs/data-at-rest.md); default: a random key generated once into SANGDAM_HOME/hash-secret (0600).",
    )
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
    # The operator's systems (docs/backends.md).
    backend: str | None = Field(default=None, description="Backend adapter: sql (default) or rest; overrides the file.")
    backend_config: Path | None = Field(default=None, description="Backend file; default SANGDAM_HOME/backend.yaml.")
    # The LLM agent (docs/agent.md): limits per turn, and the tools it may use (comma-separated; default: every read
    # tool and every write that is not irreversible, identity checks and handoffs excluded).
    agent_max_steps: int = Field(default=6, description="LLM agent: model calls per turn.")
    agent_max_tokens: int = Field(default=8192, description="LLM agent: tokens the model evaluates per turn (prompt "
                                  "tokens not reused from the prefix cache, plus completion).")
    agent_max_seconds: float = Field(default=30.0, description="LLM agent: wall time per turn (seconds).")
    agent_tools: str | None = Field(default=None, description="LLM agent: its tool allow-list, comma-separated.")

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
        """Create SANGDAM_HOME (owner-only, 0700: it holds the database and secrets) and its folders."""
        home = private_dir(self.resolved_home)
        for sub in (self.models_dir, self.kb_dir):
            sub.mkdir(parents=True, exist_ok=True)
        return home

    def hash_key(self) -> bytes:
        """The HMAC key for pseudonyms: ``SANGDAM_HASH_SECRET`` or the key file under SANGDAM_HOME (created once,
        owner-only; every process sharing the home reads the same key)."""
        if self.hash_secret is not None and self.hash_secret.get_secret_value():
            return self.hash_secret.get_secret_value().encode("utf-8")
        return _key_file(self.ensure_home() / HASH_SECRET_FILE)


HASH_SECRET_FILE = "hash-secret"
_log = logging.getLogger(__name__)


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner may enter (0700); an existing one of ours open to others is closed."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
    owner_only(path, 0o700)
    return path


def owner_only(path: Path, mode: int) -> None:
    """Set ``mode`` on ``path`` when it is ours and gives other users access; say so in the log."""
    st = path.stat()
    if stat.S_IMODE(st.st_mode) & 0o077 and st.st_uid == os.getuid():
        _log.info("%s was accessible to other users (%o); now %o", path, stat.S_IMODE(st.st_mode), mode)
        path.chmod(mode)


@lru_cache(maxsize=4)
def _key_file(path: Path) -> bytes:
    """The key stored in ``path``; when there is none, 32 random bytes (hex) are written to it, mode 0600.

    The file appears whole or not at all (written aside, then hard-linked into place), so processes starting
    together all read the one key that won.
    """
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process was first: its key is the key
        finally:
            tmp.unlink()
    owner_only(path, 0o600)
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise RuntimeError(f"{path} is empty: set SANGDAM_HASH_SECRET or delete the file to generate a new key")
    return key.encode("ascii")


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
