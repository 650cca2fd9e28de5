"""code_age: `newest_age_s=<seconds> path=<file>`, printed by the probe for the most recently
modified .py under the work directory (site-packages excluded). No .py found prints nothing,
which yields nothing.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "newest_py_age_s": "int",  # seconds since the newest .py under the work dir changed
}

_LINE = re.compile(r"^newest_age_s=(-?\d+) path=\S")


def parse(text: str) -> Observations:
    for ln in content_lines(text):
        m = _LINE.match(ln)
        if m:
            # a file stamped in the future (clock skew) is "just changed", not a negative age
            return {"newest_py_age_s": obs(max(0, int(m.group(1))), ln)}
    return {}
