"""`rgt lint`: check the knowledge base; findings as `file:line: CODE message`."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import Exit, UsageError
from ..kb.paths import bundled_kb
from .common import json_option, kb_option


@click.command()
@kb_option
@json_option
def lint(kb: str | None, as_json: bool) -> None:
    """Check the knowledge base: schema, sections, gotchas, IDs, links, rules and probes."""
    from ..kb import lint as kb_lint  # the parser's imports are paid only by commands that parse
    from ..kb.parse import load_kb

    root = Path(kb) if kb else bundled_kb()
    if not (root / "profiles").is_dir():
        raise UsageError(f"{root} has no profiles/ directory", hint="pass --kb DIR pointing at a knowledge-base root")
    findings = kb_lint.lint(load_kb(root))
    shown = _display(root)
    for f in findings:
        f.file = str(shown / f.file)
    if as_json:
        click.echo(json.dumps({"version": 1, "kind": "lint", "root": str(root), "findings": [
            {"file": f.file, "line": f.line, "code": f.code, "severity": kb_lint.CODES[f.code].severity,
             "message": f.message} for f in findings]}, indent=2))
    else:
        for f in findings:
            click.echo(str(f))
        click.echo(f"{len(findings)} finding(s) in {root}", err=True)
    if any(kb_lint.CODES[f.code].severity == "error" for f in findings):
        raise click.exceptions.Exit(Exit.FINDINGS)


def _display(root: Path) -> Path:
    """The root as the user would type it: relative to the working directory when inside it."""
    try:
        return root.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return root


COMMANDS = [lint]
