"""Helpers for the training-log parsers: the prefixes launchers put before each line of a rank's
output, stripped so one pattern reads `[rank0]: Traceback …` and `Traceback …` alike."""
from __future__ import annotations

import re

# torchrun --tee / Megatron (`[rank0]: `, `[default0]:`), srun -l (`0: `), and a bare
# `[rank3]:[E1206 …]` glued to a glog prefix; the original line is still what evidence quotes
_PREFIX = re.compile(r"^(?:\[(?:rank|default)?\d+\]: ?(?=.)|\d{1,4}: (?=\S))")


def strip_prefix(line: str) -> str:
    return _PREFIX.sub("", line.rstrip("\r\n").replace("\x00", ""), count=1)


def log_lines(text: str) -> list[tuple[str, str]]:
    """(original line, line without launcher prefix) for every line, blank ones included."""
    return [(ln.rstrip("\r\n"), strip_prefix(ln)) for ln in text.splitlines()]


def number(text: str) -> float | None:
    """A logged float, where `nan`, `inf` and `-inf` are values too."""
    try:
        return float(text)
    except ValueError:
        return None
