"""run_files: what `rgt watch` reads beside the process table, in one probe's output:

    now 1764880000 uid 1000
    log-mtime 1764879990
    state-failed 2026-12-04T20:00:00Z exit=6 FAILED a: the command exited 1; ...
    ==> tail <==
    step 120 loss 2.31
    ==> tail-end <==
    ==> ckpt <==
    1764879000.5 1048576 step_100.pt
    1764879000.6 65 step_100.pt.sha256
    ==> ckpt-end <==
    gpu-util 97

`log-missing PATH` / `ckpt-missing PATH` say the path named is not there. Ages are taken against
the box's own clock (`now`), so a laptop whose clock is off does not make a run look stalled.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import obs

OBSERVES: dict[str, str] = {
    "box_now": "int",                 # the box's clock, epoch seconds
    "login_uid": "int",               # the uid the probes ran as
    "log_missing": "bool",            # --log names no readable file
    "log_age_s": "int",               # seconds since the log last changed
    "log_tail": "list[str]",          # its last lines
    "run_one_done": "str",            # run_one.sh's state/CELL.done: the durable copy is verified
    "run_one_failed": "str",          # state/CELL.failed: `<time> exit=N <why>`
    "run_one_trained": "str",         # state/CELL.trained: the command exited 0, the copy is pending
    "ckpt_missing": "bool",           # --checkpoints names no directory
    "ckpt_entries": "list[dict]",     # name, mtime, size, line of each entry of the directory
    "gpu_util_max_pct": "int",        # the busiest GPU's utilisation
}

_NOW = re.compile(r"^now (\d+) uid (\d+)\s*$")
_ENTRY = re.compile(r"^(\d+)(?:\.\d+)? (\d+) (.+)$")


def parse(text: str) -> Observations:
    out: Observations = {}
    section, tail, entries = None, [], []
    for ln in text.splitlines():
        if ln in ("==> tail <==", "==> ckpt <=="):
            section = ln[4:-4]
            continue
        if ln in ("==> tail-end <==", "==> ckpt-end <=="):
            section = None
            continue
        if section == "tail":
            tail.append(ln)
        elif section == "ckpt":
            if m := _ENTRY.match(ln):
                entries.append({"name": m.group(3), "mtime": int(m.group(1)), "size": int(m.group(2)), "line": ln})
        elif m := _NOW.match(ln):
            out["box_now"] = obs(int(m.group(1)), ln)
            out["login_uid"] = obs(int(m.group(2)), ln)
        elif ln.startswith("log-mtime ") and ln[10:].strip().isdigit():
            out["log_mtime"] = obs(int(ln[10:]), ln)
        elif ln.startswith("log-missing "):
            out["log_missing"] = obs(True, ln)
        elif ln.startswith("ckpt-missing "):
            out["ckpt_missing"] = obs(True, ln)
        elif ln.startswith("gpu-util ") and ln[9:].strip().isdigit():
            util = int(ln[9:])
            if "gpu_util_max_pct" not in out or util > out["gpu_util_max_pct"].value:
                out["gpu_util_max_pct"] = obs(util, ln)
        elif ln.startswith(("state-done ", "state-failed ", "state-trained ")):
            kind, _, rest = ln.partition(" ")
            out["run_one_" + kind[6:]] = obs(rest, ln)
    if tail and tail[-1] == "":
        tail.pop()  # the blank line the probe adds so a log without a final newline still ends
    if "log_mtime" in out:
        out["log_tail"] = obs(tail, tail[-1] if tail else "")
        mtime = out.pop("log_mtime")
        if "box_now" in out:
            out["log_age_s"] = obs(max(0, out["box_now"].value - mtime.value), mtime.line)
    if "==> ckpt-end <==" in text:
        out["ckpt_entries"] = obs(entries, "")
    return out
