"""README and SKILL.md blocks generated from the code, so the docs cannot drift: the command table
from the click group, the index schema from the DDL the indexer runs, the platform line from the
profiles. `python -m rgt.docs FILE` rewrites them; tests/test_docs.py fails when a file differs."""
from __future__ import annotations

import re
import sys
from functools import partial
from pathlib import Path


def command_table() -> str:
    from .cli import commands

    rows = ["| command | what it does |", "|---|---|"]
    for name, cmd in sorted(commands().items()):
        rows.append(f"| `rgt {name}` | {(cmd.help or '').strip().splitlines()[0]} |")
    return "\n".join(rows)


def index_schema() -> str:
    from .kb.index import DDL

    return "```sql\n" + DDL.strip() + "\n```"


def exit_table() -> str:
    from .errors import MEANING, Exit

    return "\n".join(["| status | meaning |", "|---|---|"] + [f"| {int(e)} | {MEANING[e]} |" for e in Exit])


def platform_line() -> str:
    """Every slug, with its variants where it has several (then --variant is needed), on one line."""
    from . import api

    out = []
    for p in api.platforms(api.open_index())["platforms"]:
        names = [v["name"] for v in p["variants"]]
        out.append(f"`{p['platform']}`" + (f" ({', '.join(names)})" if len(names) > 1 else ""))
    return "Platforms: " + " · ".join(out)


BLOCKS = {"commands": command_table, "index-schema": index_schema, "exit-codes": exit_table,
          "platforms": platform_line}


def render(readme: str) -> str:
    for name, make in BLOCKS.items():
        if f"<!-- {name} -->" not in readme:  # each file holds only some blocks; build only those
            continue
        pattern = re.compile(rf"(<!-- {name} -->\n).*?(\n<!-- /{name} -->)", re.S)
        readme = pattern.sub(partial(_between, make()), readme)
    return readme


def _between(text: str, m: re.Match[str]) -> str:
    return m.group(1) + text + m.group(2)


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(render(path.read_text()))
