"""Where imported tools live under ``SANGDAM_HOME``, so every process's registry loads the same ones.

- ``tools/openapi-<name>.json``: one OpenAPI import (written by ``sangdam tools import openapi``): the base URL,
  the auth header and *the name of* its environment variable (never the secret), the circuit settings and the tool
  definitions. Written aside and renamed into place, owner-only (0600 in a 0700 folder): a reader never sees half
  a file, and an import that failed leaves the previous one as it was.
- ``mcp-servers.yaml``: the MCP servers (written by the operator; :mod:`.mcp`).
- ``tools/mcp-cache/<server>.json``: the last tool listing of each MCP server, so its tools stay registered (and
  fail with a clear error when called) while the server is down.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sangdam.config import private_dir
from sangdam.tools.imported.config import MCP_SERVERS_FILE, Auth, Circuit, ImportConfigError
from sangdam.tools.imported.definition import ToolDefinition
from sangdam.tools.imported.openapi import OpenApiImport

FORMAT = 1


def tools_dir(home: Path) -> Path:
    return home / "tools"


def openapi_file(home: Path, name: str) -> Path:
    return tools_dir(home) / f"openapi-{name}.json"


def openapi_files(home: Path) -> list[Path]:
    """Every saved OpenAPI import, by name."""
    folder = tools_dir(home)
    return sorted(folder.glob("openapi-*.json")) if folder.is_dir() else []


def mcp_cache_file(home: Path, server: str) -> Path:
    return tools_dir(home) / "mcp-cache" / f"{server}.json"


def save_openapi(home: Path, result: OpenApiImport) -> Path:
    """Write ``result`` to ``tools/openapi-<name>.json`` (atomically, owner-only); returns the file."""
    doc = {
        "format": FORMAT,
        "kind": "openapi",
        "name": result.name,
        "spec_file": str(result.spec_file.resolve()),
        "map_file": str(result.map_file.resolve()),
        "base_url": result.base_url,
        "auth": result.auth.model_dump() if result.auth else None,
        "circuit": result.circuit.model_dump(),
        "tools": [d.model_dump(mode="json") for d in result.definitions],
    }
    path = openapi_file(home, result.name)
    write_private(path, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    return path


def load_openapi(path: Path) -> tuple[str, str, Auth | None, Circuit, list[ToolDefinition]]:
    """``(name, base_url, auth, circuit, definitions)`` of a saved import; a damaged file → ImportConfigError."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ImportConfigError(path, "", f"cannot read the saved import: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "openapi" or doc.get("format") != FORMAT:
        raise ImportConfigError(path, "format", f"not a saved OpenAPI import of format {FORMAT}; import it again")
    try:
        auth = Auth.model_validate(doc["auth"]) if doc.get("auth") else None
        circuit = Circuit.model_validate(doc.get("circuit") or {})
        definitions = [ToolDefinition.model_validate(t) for t in doc["tools"]]
        return str(doc["name"]), str(doc["base_url"]), auth, circuit, definitions
    except (KeyError, TypeError, ValidationError) as exc:
        raise ImportConfigError(path, "", f"damaged saved import ({exc}); import it again") from None


def read_json(path: Path) -> Any:
    """A JSON file's contents, or None when it is missing or unreadable (caches)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all, mode 0600, in folders only the owner may enter."""
    missing, folder = [], path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        private_dir(folder)
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
