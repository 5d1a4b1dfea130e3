"""A reference operator BSS: a separate FastAPI service with its own database and OpenAPI document that stands in
for a telco's existing REST API (``sangdam bss serve``; docs/backends.md).

It is deliberately not shaped like Sangdam's tables or tools — versioned paths, camelCase, its own resource names,
money as strings, MB, paged collections, an error envelope with its own codes, bearer auth, idempotent ``POST``
writes with a dry-run form — so the ``rest`` adapter's mapping file is exercised for real. Its business rules are
Sangdam's tool layer run over its own database, plus one rule of its own (``TOO_MANY_OPEN_TICKETS``).
"""

from sangdam.bss.app import create_app
from sangdam.bss.state import BssRuntime, default_database_url

__all__ = ["BssRuntime", "create_app", "default_database_url"]
