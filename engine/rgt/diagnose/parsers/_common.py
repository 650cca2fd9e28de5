"""Small helpers shared by the probe parsers. No I/O and no commands here either."""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observation

# What a shell or a tool prints when the probe could not run or could not read its source:
#   bash: line 1: nvidia-smi: command not found
#   sh: 1: sacct: not found
#   /usr/bin/nvidia-smi: No such file or directory
#   dmesg: read kernel buffer failed: Operation not permitted
# Such output is never a reading: a missing tool says nothing about what it would have measured.
_NOT_RUN = re.compile(
    r"command not found|: not found\s*$|No such file or directory\s*$"
    r"|Permission denied|Operation not permitted",
    re.IGNORECASE,
)


def not_run(line: str) -> bool:
    """True when `line` is a shell's or a tool's complaint that the probe could not run."""
    return bool(_NOT_RUN.search(line))


# The closing line a probe prints after its tool has run: `rgt-done rc=<the tool's exit status>`.
# It separates "ran and found nothing" (empty output is normal for fuser, pgrep, grep, sacct -n)
# from "never ran or was cut short", which both leave no marker.
_DONE = re.compile(r"^rgt-done rc=(\d+)\s*$")


def done(lines: list[str]) -> tuple[int, str] | None:
    """(exit status, line) from the probe's last `rgt-done rc=N` line; None when there is none."""
    for ln in reversed(lines):
        m = _DONE.match(ln.strip())
        if m:
            return int(m.group(1)), ln
    return None


def content_lines(text: str) -> list[str]:
    """The non-blank lines of `text`, without line endings."""
    return [ln.rstrip("\r\n") for ln in text.splitlines() if ln.strip()]


def extreme(rows: list[tuple], index: int, pick=max) -> tuple | None:
    """The row with the largest (or smallest) value at `index`, or None when any row lacks it:
    a maximum over some GPUs would hide the one whose reading is missing."""
    if not rows or any(r[index] is None for r in rows):
        return None
    return pick(rows, key=lambda r: r[index])


def obs(value, line: str = "") -> Observation:
    return Observation(value, line.rstrip("\r\n"))

