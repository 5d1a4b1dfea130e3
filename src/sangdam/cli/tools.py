"""``sangdam tools``: list the tools (built-in and imported), call one, import tools from an OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="List and call the typed telecom tools (business rules enforced in code).",
                  no_args_is_help=True)
console = Console()


@app.command("list")
def list_tools(
    as_json: bool = typer.Option(False, "--json", help="Print JSON: name, risk, needs_customer, descriptions, schema, "
                                 "source."),
) -> None:
    """List every tool (built-in and imported) with its risk tier and source."""
    from sangdam.tools.imported import ImportConfigError
    from sangdam.tools.registry import all_tools, unavailable_tools

    try:
        tools = all_tools()
    except ImportConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    for missing in unavailable_tools():
        typer.echo(f"warning: {missing.source}: {missing.reason}", err=True)
    if as_json:
        rows = [
            {
                "name": t.name,
                "risk": str(t.risk),
                "needs_customer": t.needs_customer,
                "description_en": t.description_en,
                "description_ko": t.description_ko,
                "schema": t.openai_schema(),
                "source": t.source,
            }
            for t in tools
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("name", "risk", "customer", "source", "description")
    for t in tools:
        table.add_row(t.name, str(t.risk), "yes" if t.needs_customer else "no", t.source, t.description_en)
    console.print(table)


@app.command("call")
def call_tool(
    name: str = typer.Argument(..., help="Tool name, e.g. get_bills."),
    args: str = typer.Option("{}", "--args", help="Arguments as a JSON object."),
    customer: str | None = typer.Option(None, "--customer", help="Act for this (verified) customer id."),
    preview: bool = typer.Option(False, "--preview", help="Dry-run a write: print the proposal, change nothing."),
    idempotency_key: str | None = typer.Option(None, "--idempotency-key", help="Run a write at most once per key."),
) -> None:
    """Call a tool and print its typed result as JSON (or its typed error, with exit code 1)."""
    from sangdam.config import get_settings
    from sangdam.domain.db import get_engine, is_initialised
    from sangdam.tools.base import ToolContext, ToolError
    from sangdam.tools.imported import ImportConfigError
    from sangdam.tools.registry import get_tool

    settings = get_settings()
    try:
        tool = get_tool(name)
        parsed = _parse_args(name, args)
        engine = get_engine(settings.db_url)
        if not is_initialised(engine):
            raise ToolError("database_not_ready", "the database has no schema yet: run `sangdam init` (and "
                            "`sangdam seed` for demo data) first")
        ctx = ToolContext(engine=engine, today=settings.today_date(), actor="cli", customer_id=customer,
                          idempotency_key=idempotency_key)
        result = tool.preview(ctx, parsed) if preview else tool.run(ctx, parsed)
    except ToolError as exc:
        typer.echo(json.dumps({"error": exc.to_dict()}, ensure_ascii=False, indent=2))
        raise typer.Exit(code=1) from None
    except ImportConfigError as exc:  # the imported tools' configuration is broken: say where
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))


import_app = typer.Typer(help="Import tools from outside (docs/importing-tools.md).", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("openapi")
def import_openapi(
    spec: Path = typer.Argument(..., help="OpenAPI 3 document (JSON or YAML)."),
    mapping: Path = typer.Option(..., "--map", help="Mapping file: which operations become which tools."),
    name: str | None = typer.Option(None, "--name", help="Source name (default: the mapping's name, else the "
                                    "document's title)."),
) -> None:
    """Turn the mapped operations of SPEC into tools, saved under SANGDAM_HOME for every process to load."""
    from sangdam.config import get_settings
    from sangdam.tools.imported import ImportConfigError
    from sangdam.tools.imported.loader import taken_names
    from sangdam.tools.imported.openapi import check_names
    from sangdam.tools.imported.openapi import import_openapi as do_import
    from sangdam.tools.imported.store import openapi_file, save_openapi
    from sangdam.tools.registry import builtin_names

    home = get_settings().resolved_home
    try:
        result = do_import(spec, mapping, name)
        # names in use elsewhere; a new import under the same source name replaces the old one
        check_names(result, taken_names(home, builtin_names(), skip=openapi_file(home, result.name)))
        path = save_openapi(home, result)
    except ImportConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        typer.echo("nothing was imported", err=True)
        raise typer.Exit(code=1) from None
    for d in result.definitions:
        customer = "customer" if d.needs_customer else "no customer"
        typer.echo(f"{d.tool:<32} {str(d.risk):<12} {customer:<12} {d.method} {d.path}")
    typer.echo(f"imported {len(result.definitions)} tool(s) as {result.source} into {path}")


def _parse_args(name: str, text: str) -> dict[str, Any]:
    from sangdam.tools import messages
    from sangdam.tools.base import ToolError

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolError("invalid_args", f"{name}: --args is not valid JSON ({exc.msg} at position {exc.pos})",
                        message_ko=messages.text("errors", "invalid_args_general")) from None
    if not isinstance(value, dict):
        raise ToolError("invalid_args", f"{name}: --args must be a JSON object, e.g. '{{\"line_id\": \"L1\"}}'",
                        message_ko=messages.text("errors", "invalid_args_general"))
    return value
