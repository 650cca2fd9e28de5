"""Shell and YAML quoting for rendered files: every value reaches a box script through `q`."""
from __future__ import annotations

import json
import re
import shlex
from typing import Any

from ..errors import UsageError

# `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:?word}`: the only expansions a path value may hold.
_REF = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^$`\"\\{}]*)?\})")


def shell_word(value: Any, expand: bool = False) -> str:
    """One shell word that the shell reads back as `value`.

    Plain (`expand=False`): `shlex.quote`, so nothing in the value ever runs or expands. With
    `expand=True` (path values only), `$NAME` / `${NAME}` / `${NAME:-x}` / `${NAME:?x}` and a
    leading `~/` stay live and everything else is literal; command substitution and backticks are
    refused, so even an expanding value cannot run anything.
    """
    text = "" if value is None else str(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    if not expand or ("$" not in text and not text.startswith("~")):
        quoted = shlex.quote(text)
        # Always quoted, even a safe word, so `DETACH='nohup'` reads as data to people and shellcheck.
        return quoted if quoted.startswith("'") else f"'{quoted}'"
    if text == "~" or text.startswith("~/"):
        text = "${HOME}" + text[1:]
    out, pos = ['"'], 0
    for m in _REF.finditer(text):
        out.append(_dq_literal(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_dq_literal(text[pos:]))
    out.append('"')
    return "".join(out)


def _dq_literal(part: str) -> str:
    if "$" in part:
        raise ValueError("may expand only $NAME or ${NAME} (no $(…), $((…)) or other `$` forms)")
    if "`" in part:
        raise ValueError("must not contain backticks")
    return part.replace("\\", "\\\\").replace('"', '\\"')


def yaml_scalar(value: Any) -> str:
    """A double-quoted YAML scalar (JSON string syntax is valid YAML)."""
    return json.dumps("" if value is None else str(value), ensure_ascii=False)


def q_filter(value: Any, expand: bool = False) -> str:
    """The Jinja filter `q`."""
    try:
        return shell_word(value, expand)
    except ValueError as e:  # values are checked before rendering; this is a last guard
        raise UsageError(f"value {value!r} {e}") from None
