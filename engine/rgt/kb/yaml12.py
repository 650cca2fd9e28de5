"""One YAML dialect for everything rgt reads: YAML 1.2 through ruamel's safe loader.

python-frontmatter's own handler uses PyYAML (YAML 1.1, where `on` and `yes` are True), while
rgt blocks and the job spec go through ruamel; Handler gives frontmatter the same loader, so a
word means the same thing in every part of a file.
"""
from __future__ import annotations

import io
from typing import Any

from frontmatter.default_handlers import YAMLHandler
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError

ERRORS = (MarkedYAMLError, ReaderError)  # what load raises for text that is not YAML


_LOADER: YAML | None = None


def load(text: str) -> Any:
    # one loader for every block: building a YAML() costs more than parsing a short block. Not the
    # C parser (ruamel.yaml.clib): it is libyaml's YAML 1.1 and refuses `{url: https://…}`
    global _LOADER
    if _LOADER is None:
        _LOADER = YAML(typ="safe", pure=True)
    return _LOADER.load(text)


def error_line(e: MarkedYAMLError | ReaderError, text: str) -> tuple[int, str]:
    """The 0-based line within `text` where the error is, and what is wrong there."""
    if isinstance(e, ReaderError):  # a character YAML forbids carries an offset, not a mark
        return (text.count("\n", 0, e.position),
                f"holds a character YAML does not allow (U+{e.character:04X}); delete it or write it as an escape")
    return (e.problem_mark.line if e.problem_mark else 0), str(e.problem)


class Handler(YAMLHandler):
    """python-frontmatter's YAML handler, reading and writing YAML 1.2 through ruamel."""

    def load(self, fm: str, **kwargs: object) -> Any:
        return load(fm)

    def export(self, metadata: dict[str, object], **kwargs: object) -> str:
        out = io.StringIO()
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        yaml.dump(metadata, out)
        return out.getvalue().strip()
