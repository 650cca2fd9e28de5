"""`rgt lint`: check the knowledge base; findings as `file:line: CODE message`."""
from __future__ import annotations

from pathlib import Path

import click

from .. import api
from ..errors import Exit
from .common import dumps, json_option, kb_option


@click.command()
@kb_option
@json_option
def lint(kb: str | None, as_json: bool) -> None:
    """Check the knowledge base: schema, sections, gotchas, IDs, links, rules and probes."""
    result, failed = api.lint(kb)
    if as_json:  # files relative to root, as the MCP tool returns them
        click.echo(dumps(result))
    else:
        shown = _display(Path(result["root"]))  # so an editor can open file:line from here
        for f in result["findings"]:
            click.echo(f"{shown / f['file']}:{f['line']}: {f['code']} {f['message']}")
        click.echo(f"{len(result['findings'])} finding(s) in {result['root']}", err=True)
    if failed:
        raise click.exceptions.Exit(Exit.FINDINGS)


def _display(root: Path) -> Path:
    """The root as the user would type it: relative to the working directory when inside it."""
    try:
        return root.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return root


COMMANDS = [lint]
