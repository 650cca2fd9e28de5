"""gpu_holders: `fuser -v /dev/nvidia* 2>&1; echo "rgt-done rc=$?"`.

fuser -v prints a "USER PID ACCESS COMMAND" header, then each file followed by its holders; a
long file name sits on a line of its own:

                         USER        PID ACCESS COMMAND
    /dev/nvidia0:        root     kernel mount /dev/nvidia0
    /dev/nvidiactl:      alice     12345 F...m python
                         alice     12346 F...m python
    rgt-done rc=0

Inside a container the device files are bind mounts, and fuser lists the mount itself as a
`kernel mount` row: that is not a process and never a holder. GPU daemons (nvidia-persistenced,
DCGM's nv-hostengine) hold the files on most bare-metal boxes without holding memory for anyone's
work, so they are not counted either. rgt's own GPU probes run in the same lane after this one,
so none of them is open while fuser looks.

gpu_holder_count: distinct holder PIDs; 0 when fuser listed only kernel rows and daemons, or
printed nothing and exited 1. gpu_holder_pids: those PIDs (the run is usually among them).
Nothing is reported when:

- "Specified filename /dev/nvidia* does not exist.": no device nodes, nothing to hold;
- fuser said it could not inspect some process ("Cannot stat file /proc/1/fd/3: Permission
  denied") and listed no holder: a holder may be among those, so 0 would be a guess;
- fuser is missing (rc 127, "not found") or the marker is absent (the probe did not finish).

Run as an ordinary user, fuser skips other users' processes without a word, so 0 means "no
holder among the processes this user may inspect".
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, done, not_run, obs

OBSERVES: dict[str, str] = {
    "gpu_holder_count": "int",       # distinct processes holding /dev/nvidia*, daemons and mounts aside
    "gpu_holder_pids": "list[int]",
}

_HEADER = re.compile(r"^\s*USER\s+PID\s+ACCESS\s+COMMAND\s*$")
# optional "file:" column, then USER PID ACCESS COMMAND
_ROW = re.compile(r"^(?:\S+:)?\s+\S+\s+(\d+)\s+[A-Za-z.]{4,6}\s+(\S+)")
_KERNEL = re.compile(r"^(?:\S+:)?\s+\S+\s+kernel\s+\S+")
_NO_FILE = re.compile(r"^Specified filename .* does not exist\.?\s*$")
_DAEMONS = {"nvidia-persistenced", "nv-hostengine", "dcgm-exporter", "nvidia-smi"}


def parse(text: str) -> Observations:
    lines = content_lines(text)
    closing = done(lines)
    if any(_HEADER.match(ln) for ln in lines):
        pids: dict[int, str] = {}
        for ln in lines:
            m = _ROW.match(ln)
            if m and m.group(2) not in _DAEMONS:
                pids.setdefault(int(m.group(1)), ln)
        if pids:
            return {"gpu_holder_count": obs(len(pids), next(iter(pids.values()))),
                    "gpu_holder_pids": obs(sorted(pids), next(iter(pids.values())))}
        unsure = any(not_run(ln) for ln in lines)
        if closing is not None and closing[0] in (0, 1) and not unsure:  # mounts and daemons only
            line = next((ln for ln in lines if _KERNEL.match(ln) or _ROW.match(ln)), closing[1])
            return {"gpu_holder_count": obs(0, line), "gpu_holder_pids": obs([], line)}
    if closing is None or closing[0] != 1:
        return {}
    if any(_NO_FILE.match(ln.strip()) or not_run(ln) for ln in lines):
        return {}
    return {"gpu_holder_count": obs(0, closing[1]), "gpu_holder_pids": obs([], closing[1])}
