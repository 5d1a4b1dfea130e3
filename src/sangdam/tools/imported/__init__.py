"""Tools imported from outside: OpenAPI operations and MCP server tools, served as Sangdam tools.

An operator adds a tool with data, not code: a mapping entry (name, Korean and English descriptions, risk tier,
identity requirement and customer parameter, Korean confirmation text for writes, the result fields allowed into
replies) for an operation of their OpenAPI document (``sangdam tools import openapi``, :mod:`.openapi`) or a tool
of one of their MCP servers (``$SANGDAM_HOME/mcp-servers.yaml``, :mod:`.mcp_client`). Imported tools get every
guarantee of the built-in ones (``tools/execution.py``) plus a per-tool timeout and a circuit breaker per source.
See docs/importing-tools.md.

- :mod:`.config` — the mapping and ``mcp-servers.yaml`` models; :class:`ImportConfigError` (file, path, reason)
- :mod:`.schemas` — JSON Schema → pydantic models
- :mod:`.definition` — one imported tool as data, and as a ``Tool``; the result allow-list
- :mod:`.openapi` / :mod:`.http` — importing an OpenAPI document; calling its operations
- :mod:`.mcp_client` — MCP sessions and calls
- :mod:`.store` / :mod:`.loader` — files under ``SANGDAM_HOME``; what the registry loads
"""

from sangdam.tools.imported.config import ImportConfigError

__all__ = ["ImportConfigError"]
