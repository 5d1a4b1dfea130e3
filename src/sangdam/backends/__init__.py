"""Where the operator's systems plug in: the :class:`~sangdam.backends.core.Backend` and its adapters.

Which adapter serves a process is configuration (docs/backends.md):

- ``SANGDAM_BACKEND`` = ``sql`` (default) or ``rest``, else the ``backend:`` key of the backend file;
- the backend file is ``SANGDAM_BACKEND_CONFIG`` or ``$SANGDAM_HOME/backend.yaml`` (optional for ``sql``)::

      backend: rest
      sql:
        database_url: postgresql+psycopg://…   # the operator tables elsewhere (default: Sangdam's own database)
      rest:
        base_url: http://bss.internal:8700
        …                                      # see sangdam.backends.rest

Invalid configuration raises :class:`BackendConfigError` naming the file, the path in it and the reason.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine

from sangdam.backends.core import Backend, BackendUnavailable

__all__ = ["Backend", "BackendConfigError", "BackendUnavailable", "backend_for", "load_backend_config", "reset_backends"]

KINDS = ("sql", "rest")


class BackendConfigError(ValueError):
    """The backend configuration cannot be used: ``file``, ``path`` (inside the file) and ``reason``."""

    def __init__(self, file: str | Path, path: str, reason: str) -> None:
        super().__init__(f"{file}: {path or '(top level)'}: {reason}")
        self.file, self.path, self.reason = str(file), path, reason


_lock = threading.Lock()
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines holding a built backend (see reset_backends)
_ATTR = "_sangdam_backend"  # the backend rides on its engine: both go together (a dict would keep engines alive)


def config_path() -> Path:
    from sangdam.config import get_settings

    settings = get_settings()
    return Path(settings.backend_config) if settings.backend_config else settings.resolved_home / "backend.yaml"


def load_backend_config(path: Path | None = None) -> tuple[str, dict[str, Any], Path]:
    """``(kind, file contents, file)`` of this process's backend (an absent file reads as empty)."""
    from sangdam.config import get_settings

    path = path or config_path()
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise BackendConfigError(path, "", f"not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise BackendConfigError(path, "", f"must be a mapping, got {type(data).__name__}")
    elif get_settings().backend_config:
        raise BackendConfigError(path, "", "file not found (SANGDAM_BACKEND_CONFIG)")
    kind = (get_settings().backend or data.get("backend") or "sql").strip().lower()
    if kind not in KINDS:
        raise BackendConfigError(path, "backend", f"unknown backend {kind!r}; expected one of {', '.join(KINDS)}")
    for section in ("sql", "rest"):
        if section in data and not isinstance(data[section], dict):
            raise BackendConfigError(path, section, "must be a mapping")
    return kind, data, path


def build_backend(engine: Engine, path: Path | None = None) -> Backend:
    """A new backend as configured; ``engine`` is Sangdam's own store (the ``sql`` default for the demo tables)."""
    kind, data, file = load_backend_config(path)
    if kind == "rest":
        if "rest" not in data:
            raise BackendConfigError(file, "rest", "the rest backend needs a 'rest:' section")
        from sangdam.backends.rest import RestBackend

        return RestBackend.from_config(data["rest"], file.parent, source=file)
    from sangdam.backends.sql import SqlBackend

    url = (data.get("sql") or {}).get("database_url")
    if url is not None and not isinstance(url, str):
        raise BackendConfigError(file, "sql.database_url", "must be a SQLAlchemy URL string")
    if url:
        from sangdam.domain.db import get_engine

        return SqlBackend(get_engine(url))
    return SqlBackend(engine)


def backend_for(engine: Engine) -> Backend:
    """The configured backend of this process for Sangdam's store ``engine`` (built once, then shared)."""
    found = getattr(engine, _ATTR, None)
    if found is None:
        with _lock:
            found = getattr(engine, _ATTR, None)
            if found is None:
                found = build_backend(engine)
                setattr(engine, _ATTR, found)
                _engines.add(engine)
    return found


def reset_backends() -> None:
    """Forget the built backends (tests that change the configuration)."""
    with _lock:
        for engine in list(_engines):
            backend = engine.__dict__.pop(_ATTR, None)
            if backend is not None:
                backend.close()
        _engines.clear()


def customer_exists(engine: Engine, customer_id: str) -> bool:
    """Whether the operator's systems (of Sangdam's store ``engine``) know ``customer_id``."""
    return customer_id in backend_for(engine).customer_names({customer_id})


def backend_endpoints(path: Path | None = None) -> list[str]:
    """URLs of the operator's systems this process is configured to reach (the data-sovereignty guard allows them):
    the rest adapter's base URL and OpenAPI document URL, the sql adapter's database when it is not Sangdam's."""
    kind, data, _ = load_backend_config(path)
    urls: list[str] = []
    if kind == "rest":
        rest = data.get("rest") or {}
        urls += [u for u in (rest.get("base_url"), rest.get("openapi")) if isinstance(u, str)
                 and u.startswith(("http://", "https://"))]
    url = (data.get("sql") or {}).get("database_url")
    if kind == "sql" and isinstance(url, str) and not url.startswith("sqlite"):
        urls.append(url)
    return urls
