"""`rgt mcp`: serve the rgt tools to an agent over stdio."""
from __future__ import annotations

import click


@click.command("mcp")
def mcp_command() -> None:
    """Serve rgt's functions as MCP tools over stdio (needs the `mcp` extra)."""
    try:
        from ..mcp_server import server
        srv = server()
    except ImportError:
        from ..errors import UsageError
        raise UsageError("the MCP server needs the `mcp` package", hint="pip install 'rgt[mcp]'") from None
    srv.run("stdio")


COMMANDS = [mcp_command]
