"""gpu_holders: `fuser -v /dev/nvidia* 2>&1; echo "rgt-done rc=$?"`.

fuser -v prints a "USER PID ACCESS COMMAND" header, then each file followed by its holders; a
long file name sits on a line of its own:

                         USER        PID ACCESS COMMAND
    /dev/nvidia0:        alice     12345 F...m python
                         alice     12346 F...m python
    /dev/nvidia0ctl:     alice     12345 F.... python
    rgt-done rc=0

gpu_holder_count is the number of distinct PIDs over all device files ("kernel" pseudo-holders
are skipped). fuser prints nothing and exits 1 when no process holds the files, so the closing
`rgt-done rc=1` with no holder rows gives 0. It gives nothing instead when:

- "Specified filename /dev/nvidia* does not exist.": no device nodes, nothing to hold;
- fuser said it could not inspect some process ("Cannot stat file /proc/1/fd/3: Permission
  denied"): a holder may be among those, so 0 would be a guess;
- fuser is missing (rc 127, "not found") or the marker is absent (the probe did not finish).

Run as an ordinary user, fuser skips other users' processes without a word, so 0 means "no
holder among the processes this user may inspect".
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, done, not_run, obs

OBSERVES: dict[str, str] = {
    "gpu_holder_count": "int",  # distinct processes holding /dev/nvidia*
}

_HEADER = re.compile(r"^\s*USER\s+PID\s+ACCESS\s+COMMAND\s*$")
# optional "file:" column, then USER PID ACCESS COMMAND
_ROW = re.compile(r"^(?:\S+:)?\s+\S+\s+(\d+)\s+[A-Za-z.]{4,6}\s+\S")
_NO_FILE = re.compile(r"^Specified filename .* does not exist\.?\s*$")


def parse(text: str) -> Observations:
    lines = content_lines(text)
    if any(_HEADER.match(ln) for ln in lines):
        pids: dict[int, str] = {}
        for ln in lines:
            m = _ROW.match(ln)
            if m:
                pids.setdefault(int(m.group(1)), ln)
        if pids:
            return {"gpu_holder_count": obs(len(pids), next(iter(pids.values())))}
    closing = done(lines)
    if closing is None or closing[0] != 1:
        return {}
    if any(_NO_FILE.match(ln.strip()) or not_run(ln) for ln in lines):
        return {}
    return {"gpu_holder_count": obs(0, closing[1])}
