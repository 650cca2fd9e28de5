"""`rgt mcp`: serve the rgt tools to an agent over stdio."""
from __future__ import annotations

import click

from .common import kb_option


@click.command("mcp")
@kb_option
def mcp_command(kb: str | None) -> None:
    """Serve rgt's functions as MCP tools over stdio (needs the `mcp` extra)."""
    try:
        from ..mcp_server import server
        srv = server(kb)
    except ImportError:
        from ..errors import UsageError
        raise UsageError("the MCP server needs the `mcp` package", hint="pip install 'rgt[mcp]'") from None
    srv.run("stdio")


COMMANDS = [mcp_command]
