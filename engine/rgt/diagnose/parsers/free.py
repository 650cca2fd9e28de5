"""free: `free -m` or `free -h` (the same observations as meminfo).

Plain numbers are read as MiB (`free -m`); `free -h` suffixes (B, Ki, Mi, Gi, Ti, and the older
K, M, G, T) are converted, so a -h reading carries the rounding free applied. The "available"
column exists only in procps 3.3.10 and later; the older layout (buffers / cached columns and a
"-/+ buffers/cache:" line) yields only mem_total_mib.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "mem_total_mib": "int",
    "mem_available_mib": "int",
}

_SCALE = {"": 1.0, "B": 1 / 1048576, "K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1048576.0}
_VALUE = re.compile(r"^(\d+(?:[.,]\d+)?)([BKMGT]?)i?$")


def _mib(cell: str) -> int | None:
    m = _VALUE.match(cell)
    if not m:
        return None
    return int(float(m.group(1).replace(",", ".")) * _SCALE[m.group(2)])


def parse(text: str) -> Observations:
    lines = content_lines(text)
    header = next((ln for ln in lines if re.match(r"^\s+total\s+used\s+free\b", ln)), None)
    mem = next((ln for ln in lines if ln.startswith("Mem:")), None)
    if header is None or mem is None:
        return {}
    columns = header.split()
    values = mem.split()[1:]
    row = dict(zip(columns, values, strict=False))  # the Mem: row may lack trailing columns
    out: Observations = {}
    total = _mib(row.get("total", ""))
    if total is not None:
        out["mem_total_mib"] = obs(total, mem)
    if "available" in row:
        avail = _mib(row["available"])
        if avail is not None:
            out["mem_available_mib"] = obs(avail, mem)
    return out
