"""sacct: `host=<hostname -s>`, then `sacct -X -n -P --format=JobID,JobName,State,ExitCode,Elapsed,
Timelimit,MaxRSS,ReqMem,NodeList`, followed by sacct's exit status as `rgt-done rc=N`.

The last job's NodeList (`gpu07`, `gpu[01-02]`) and this host's name are reported as they are;
diagnose compares them, so readings of a login node never decide about a job that ran elsewhere.

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
    "slurm_last_nodes": "str",        # NodeList of the most recent job, as sacct prints it
    "slurm_host": "str",              # short name of the host sacct ran on
}
_HOST = re.compile(r"^host=(\S+)\s*$")

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
        rows.append((m.group(1), fields[3].strip(), ln, fields[8].strip() if len(fields) > 8 else ""))
    if not rows:
        closing = done(lines)
        if closing is not None and closing[0] == 0:
            return {"slurm_states": obs([], closing[1])}
        return {}
    states: list[str] = []
    for state, *_ in rows:
        if state not in states:
            states.append(state)
    last = rows[-1]
    out = {
        "slurm_last_state": obs(last[0], last[2]),
        "slurm_states": obs(states, next((r[2] for r in rows if r[0] != "COMPLETED"), rows[0][2])),
        "slurm_last_exit": obs(last[1], last[2]),
    }
    if last[3] and last[3] != "None assigned":
        out["slurm_last_nodes"] = obs(last[3], last[2])
    host = next((m for ln in lines if (m := _HOST.match(ln))), None)
    if host:
        out["slurm_host"] = obs(host.group(1), host.group(0))
    return out
