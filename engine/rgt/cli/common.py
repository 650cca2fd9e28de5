"""Options and output shared by every command, so `--json` and `--kb` behave the same everywhere."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from .. import api
from ..numbers import out_of_range

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (shape documented in README).")
kb_option = click.option("--kb", type=click.Path(file_okay=False), envvar="RGT_KB",
                         help="Knowledge-base root (default: the bundled one).")


class Number(click.ParamType):
    """A finite number above `low` (or at it, when inclusive): `--hours nan` is no duration."""
    name = "number"

    def __init__(self, low: float = 0.0, *, inclusive: bool = False):
        self.low, self.inclusive = low, inclusive

    def convert(self, value, param, ctx) -> float:
        problem = out_of_range(value, self.low, inclusive=self.inclusive)
        if problem:
            self.fail(problem, param, ctx)
        return float(value)


POSITIVE = Number()
NON_NEGATIVE = Number(inclusive=True)


def index(kb: str | None):
    return api.open_index(kb)


def emit(result: dict, as_json: bool, human: Callable[[dict], Any]) -> None:
    if as_json:
        click.echo(dumps(result))
    else:
        human(result)


def dumps(result: dict) -> str:
    # NaN and Infinity are not JSON: a value that gets here is a bug, not output. Indented for a
    # person at a terminal; compact for a program or an agent, for whom the spaces are only bytes
    tty = sys.stdout.isatty()
    return json.dumps(result, ensure_ascii=False, indent=2 if tty else None, separators=None if tty else (",", ":"),
                      default=str, allow_nan=False)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    lines += [fmt.format(*[str(c) for c in r]) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def text_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An option's file must be text: a binary one is named here, not met as a decoding crash
    deep in the code that reads it. A missing file is left to that code."""
    if value is None:
        return value
    try:
        with open(value, "rb") as fh:
            data = fh.read()
    except OSError:
        return value
    try:
        data.decode("utf-8")
        binary = b"\0" in data
    except UnicodeDecodeError:
        binary = True
    if binary:
        raise click.BadParameter(f"{value} is not a text file", ctx, param)
    return value
