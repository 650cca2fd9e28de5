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
    shown = _display(Path(result["root"]))
    for f in result["findings"]:
        f["file"] = str(shown / f["file"])
    if as_json:
        click.echo(dumps(result))
    else:
        for f in result["findings"]:
            click.echo(f"{f['file']}:{f['line']}: {f['code']} {f['message']}")
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
