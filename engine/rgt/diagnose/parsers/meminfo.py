"""meminfo: `cat /proc/meminfo` (host memory; kB values, MiB out, rounded down).

MemAvailable is missing on kernels older than 3.14; then mem_available_mib is not reported
(it is not rebuilt from MemFree + Cached, which would be a guess).
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "mem_total_mib": "int",
    "mem_available_mib": "int",
}

_LINE = re.compile(r"^(MemTotal|MemAvailable):\s+(\d+)\s*kB\s*$")
_NAMES = {"MemTotal": "mem_total_mib", "MemAvailable": "mem_available_mib"}


def parse(text: str) -> Observations:
    out: Observations = {}
    for ln in content_lines(text):
        m = _LINE.match(ln)
        if m:
            out[_NAMES[m.group(1)]] = obs(int(m.group(2)) // 1024, ln)
    return out
