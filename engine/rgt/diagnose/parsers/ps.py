"""ps: `ps -eo pid=,ppid=,stat=,etimes=,rss=,args=` (no header).

A Python process is one whose argv[0] is a python interpreter (python, python3, python3.11,
with or without a path); scripts started through a shebang (torchrun, accelerate) show the
interpreter as argv[0] and so count too. Zombies (STAT starting with Z) are counted apart and
never as running Python processes. proc_count includes ps itself and the probe's shell.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "proc_count": "int",
    "python_procs": "int",          # running (non-zombie) python interpreters
    "zombie_procs": "int",
    "oldest_python_age_s": "int",   # etimes of the oldest running python; absent when none
}

_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s?(.*)$")
_PYTHON = re.compile(r"^python[0-9.]*$")


def _is_python(args: str) -> bool:
    argv0 = args.split(None, 1)[0] if args.strip() else ""
    return bool(_PYTHON.match(argv0.rsplit("/", 1)[-1]))


def parse(text: str) -> Observations:
    rows = []
    for ln in content_lines(text):
        m = _ROW.match(ln)
        if m:
            rows.append((m.group(3), int(m.group(4)), m.group(6), ln))
    if not rows:
        return {}
    zombies = [r for r in rows if r[0].startswith("Z")]
    pythons = [r for r in rows if not r[0].startswith("Z") and _is_python(r[2])]
    out: Observations = {
        "proc_count": obs(len(rows), rows[0][3]),
        "zombie_procs": obs(len(zombies), zombies[0][3] if zombies else ""),
    }
    if pythons:
        oldest = max(pythons, key=lambda r: r[1])
        out["python_procs"] = obs(len(pythons), oldest[3])
        out["oldest_python_age_s"] = obs(oldest[1], oldest[3])
    else:
        out["python_procs"] = obs(0, "")
    return out
