"""sacct: `sacct -X -n -P --format=JobID,JobName,State,ExitCode,Elapsed,Timelimit,MaxRSS,ReqMem`,
followed by sacct's exit status as `rgt-done rc=N`.

`-P` separates fields with "|" (no trailing one), `-n` drops the header, `-X` keeps one line per
allocation. Rows come in job order, so the last row is the most recent job. State may carry a
suffix ("CANCELLED by 1000"); only the state word is kept.

sacct prints nothing when the user had no job in the window (the last three days). With
`rgt-done rc=0` and no job row that is a reading: slurm_states is [] and there is no last job, so
slurm_last_state and slurm_last_exit stay absent. Anything else without a job row (sacct missing,
"Slurm accounting storage is disabled" with rc 1, output cut before the marker) yields nothing.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, done, obs

OBSERVES: dict[str, str] = {
    "slurm_last_state": "str",        # e.g. TIMEOUT, OUT_OF_MEMORY, PREEMPTED, NODE_FAIL, CANCELLED
    "slurm_states": "list[str]",      # distinct states, first-seen order
    "slurm_last_exit": "str",         # "code:signal"
}

_STATE = re.compile(r"^([A-Z][A-Z_]+)\b")
_EXIT = re.compile(r"^\d+:\d+$")


def parse(text: str) -> Observations:
    rows = []
    lines = content_lines(text)
    for ln in lines:
        fields = ln.split("|")
        if len(fields) < 4 or not re.match(r"^\d", fields[0]):
            continue
        m = _STATE.match(fields[2].strip())
        if not m or not _EXIT.match(fields[3].strip()):
            continue
        rows.append((m.group(1), fields[3].strip(), ln))
    if not rows:
        closing = done(lines)
        if closing is not None and closing[0] == 0:
            return {"slurm_states": obs([], closing[1])}
        return {}
    states: list[str] = []
    for state, _, _ in rows:
        if state not in states:
            states.append(state)
    last = rows[-1]
    return {
        "slurm_last_state": obs(last[0], last[2]),
        "slurm_states": obs(states, next((r[2] for r in rows if r[0] != "COMPLETED"), rows[0][2])),
        "slurm_last_exit": obs(last[1], last[2]),
    }
