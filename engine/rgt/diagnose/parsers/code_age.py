"""code_age: the newest .py under the work directory (site-packages excluded) and find's status.

    newest_age_s=2 path=/work/main/engine/rgt/diagnose/transport.py
    rgt-done rc=0

The probe's awk keeps the newest of find's `%T@ %p` lines and prints it before find's closing
`rgt-done rc=N`. newest_py_age_s is that age in seconds (a file stamped in the future, from clock
skew, counts as 0). With `rgt-done rc=0` and no newest line, find searched the whole directory
and found no .py: newest_py_age_s is None, a reading ("no Python source here, so no age to
compare") that decides no rule. A missing directory or a partial search (rc 1) with no file
found, and output without the marker, report nothing.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, done, obs

OBSERVES: dict[str, str] = {
    "newest_py_age_s": "int",  # seconds since the newest .py under the work dir changed
}
NULLABLE = {"newest_py_age_s"}  # None: find searched the directory and found no .py

_LINE = re.compile(r"^newest_age_s=(-?\d+) path=\S")


def parse(text: str) -> Observations:
    lines = content_lines(text)
    for ln in lines:
        m = _LINE.match(ln)
        if m:
            return {"newest_py_age_s": obs(max(0, int(m.group(1))), ln)}
    closing = done(lines)
    if closing is not None and closing[0] == 0:
        return {"newest_py_age_s": obs(None, closing[1])}
    return {}
