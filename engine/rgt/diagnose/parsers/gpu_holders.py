"""gpu_holders: `fuser -v /dev/nvidia* 2>&1`.

fuser -v prints a "USER PID ACCESS COMMAND" header, then each file followed by its holders; a
long file name sits on a line of its own:

                         USER        PID ACCESS COMMAND
    /dev/nvidia0:        alice     12345 F...m python
                         alice     12346 F...m python
    /dev/nvidiactl:      alice     12345 F.... python

The count is of distinct PIDs over all device files ("kernel" pseudo-holders are skipped).
fuser prints nothing at all when no process holds the files, which cannot be told apart from a
probe that did not run, so output without the header yields nothing, as do "Specified filename
/dev/nvidia* does not exist." (no device nodes) and "command not found".
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "gpu_holder_count": "int",  # distinct processes holding /dev/nvidia*
}

_HEADER = re.compile(r"^\s*USER\s+PID\s+ACCESS\s+COMMAND\s*$")
# optional "file:" column, then USER PID ACCESS COMMAND
_ROW = re.compile(r"^(?:\S+:)?\s+\S+\s+(\d+)\s+[A-Za-z.]{4,6}\s+\S")


def parse(text: str) -> Observations:
    lines = content_lines(text)
    if not any(_HEADER.match(ln) for ln in lines):
        return {}
    pids: dict[int, str] = {}
    for ln in lines:
        m = _ROW.match(ln)
        if m:
            pids.setdefault(int(m.group(1)), ln)
    return {"gpu_holder_count": obs(len(pids), next(iter(pids.values()), ""))}
