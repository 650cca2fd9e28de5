"""Options and output shared by every command, so `--json` and `--kb` behave the same everywhere."""
from __future__ import annotations

import json
from typing import Any, Callable

import click

from .. import api

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (shape documented in README).")
kb_option = click.option("--kb", type=click.Path(file_okay=False), envvar="RGT_KB",
                         help="Knowledge-base root (default: the bundled one).")


def index(kb: str | None):
    return api.open_index(kb)


def emit(result: dict, as_json: bool, human: Callable[[dict], Any]) -> None:
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    else:
        human(result)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    lines = [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    lines += [fmt.format(*[str(c) for c in r]) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
