"""``sangdam mcp serve``: Sangdam's tools and knowledge base as an MCP server (docs/mcp.md).

  sangdam mcp serve [--transport stdio] [--customer C-…]          a trusted local process, one session
  sangdam mcp serve --transport http [--host H] [--port N]        streamable HTTP at /mcp, API keys (Bearer)
"""

from __future__ import annotations

from enum import StrEnum

import typer
from rich.console import Console

app = typer.Typer(help="Sangdam as an MCP server: tools (writes as proposals + confirm) and knowledge search.",
                  no_args_is_help=True)
err = Console(stderr=True)  # stdout is the MCP wire on stdio: nothing else may be printed there


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


@app.command("serve")
def serve(
    transport: Transport = typer.Option(Transport.stdio, "--transport", help="stdio (one local client) or http."),
    host: str = typer.Option("127.0.0.1", "--host", help="HTTP: interface to listen on."),
    port: int = typer.Option(8765, "--port", help="HTTP: TCP port."),
    customer: str | None = typer.Option(None, "--customer",
                                        help="stdio only: bind the session to this customer id at start (the "
                                             "operator's process has identified its user)."),
    kb: str = typer.Option("default", "--kb", help="Knowledge base searched by search_knowledge."),
) -> None:
    """Serve the tools over MCP: reads run, writes return proposals that confirm_proposal runs once."""
    from sangdam.config import get_settings
    from sangdam.domain.db import get_engine, is_initialised
    from sangdam.mcp_server.gateway import Gateway
    from sangdam.tools.base import ToolError

    if customer and transport is not Transport.stdio:
        err.print("[red]error[/red] --customer is for stdio; over HTTP a customer-channel key bound to the customer "
                  "(sangdam keys create --role customer-channel --customer C-…) binds the session")
        raise typer.Exit(2)
    settings = get_settings()
    engine = get_engine(settings.db_url)
    if not is_initialised(engine):
        err.print("[red]error[/red] the database is not initialised: run `sangdam init` (and `sangdam seed`) first")
        raise typer.Exit(2)
    from sangdam.cli.serve import check_operator_config

    check_operator_config(engine, err)
    gateway = Gateway(engine, today=settings.today_date, kb=kb)
    if transport is Transport.http:
        from sangdam.mcp_server.http import MCP_PATH, serve_http

        err.print(f"MCP over streamable HTTP at http://{host}:{port}{MCP_PATH} (Authorization: Bearer <API key>)")
        serve_http(gateway, host=host, port=port, log_level=settings.log_level.lower(),
                   max_body_bytes=settings.max_body_bytes)
        return
    from sangdam.mcp_server.stdio import serve_stdio

    try:
        serve_stdio(gateway, customer_id=customer)
    except ToolError as exc:
        err.print(f"[red]error[/red] {exc.code}: {exc.message_en}")
        raise typer.Exit(2) from None
