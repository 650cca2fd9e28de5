"""README blocks generated from the code, so the docs cannot drift: the command table from the
click group and the index schema from the DDL the indexer runs. `python -m rgt.docs` rewrites
them; tests/test_docs.py fails when README.md differs."""
from __future__ import annotations

import re
import sys
from functools import partial
from pathlib import Path


def command_table() -> str:
    from .cli import cli

    rows = ["| command | what it does |", "|---|---|"]
    for name, cmd in sorted(cli.commands.items()):
        rows.append(f"| `rgt {name}` | {(cmd.help or '').strip().splitlines()[0]} |")
    return "\n".join(rows)


def index_schema() -> str:
    from .kb.index import DDL

    return "```sql\n" + DDL.strip() + "\n```"


def exit_table() -> str:
    from .errors import MEANING, Exit

    return "\n".join(["| status | meaning |", "|---|---|"] + [f"| {int(e)} | {MEANING[e]} |" for e in Exit])


BLOCKS = {"commands": command_table, "index-schema": index_schema, "exit-codes": exit_table}


def render(readme: str) -> str:
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- {name} -->\n).*?(\n<!-- /{name} -->)", re.S)
        readme = pattern.sub(partial(_between, make()), readme)
    return readme


def _between(text: str, m: re.Match[str]) -> str:
    return m.group(1) + text + m.group(2)


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(render(path.read_text()))
