"""gpu_csv: `nvidia-smi --query-gpu=index,name,memory.used,memory.total,utilization.gpu,
temperature.gpu,clocks.sm --format=csv,noheader,nounits`.

One row per GPU, in the probe's column order. The GPU name sits in the middle and may contain
commas, so fields are taken from both ends. Output with a header row (`--format=csv`, any field
list, units such as "MiB" or "MHz" in the cells) is read by column name instead: memory.free is
used when present, else memory.total - memory.used; clocks.sm or clocks.current.sm.

Any "[N/A]" or unreadable cell for one GPU, or an error line among the rows (a GPU that
nvidia-smi could not reach), makes the min over GPUs unknown, so it is left out. Error output
yields nothing; the nvidia_smi probe reports the error kind.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, extreme, obs

OBSERVES: dict[str, str] = {
    "gpu_mem_free_mib": "int",  # min over GPUs
    "gpu_sm_clock_mhz": "int",  # min over GPUs
}

_NUM = re.compile(r"^\s*(\d+)(?:\s*(?:MiB|MHz))?\s*$")


def _int(cell: str) -> int | None:
    m = _NUM.match(cell)
    return int(m.group(1)) if m else None


def _rows_noheader(lines: list[str]) -> list[tuple[str, int | None, int | None]]:
    rows: list[tuple[str, int | None, int | None]] = []
    for ln in lines:
        cells = [c.strip() for c in ln.split(",")]
        if len(cells) < 7 or _int(cells[0]) is None:
            rows.append((ln, None, None))  # an error line among the rows: that GPU is unknown
            continue
        used, total, clock = _int(cells[-5]), _int(cells[-4]), _int(cells[-1])
        free = total - used if used is not None and total is not None else None
        rows.append((ln, free, clock))
    return rows


def _rows_header(lines: list[str]) -> list[tuple[str, int | None, int | None]]:
    names = [re.sub(r"\s*\[.*\]$", "", c.strip()) for c in lines[0].split(",")]
    col = {n: i for i, n in enumerate(names)}
    rows: list[tuple[str, int | None, int | None]] = []
    for ln in lines[1:]:
        cells = [c.strip() for c in ln.split(",")]
        if len(cells) != len(names):
            rows.append((ln, None, None))
            continue

        def cell(*keys: str) -> int | None:
            for k in keys:
                if k in col:
                    return _int(cells[col[k]])  # noqa: B023 - called only within this iteration
            return None

        free = cell("memory.free")
        if "memory.free" not in col:
            used, total = cell("memory.used"), cell("memory.total")
            free = total - used if used is not None and total is not None else None
        rows.append((ln, free, cell("clocks.sm", "clocks.current.sm")))
    return rows


def parse(text: str) -> Observations:
    lines = content_lines(text)
    if not lines:
        return {}
    has_header = "memory." in lines[0] and not re.match(r"^\s*\d+\s*,", lines[0])
    rows = _rows_header(lines) if has_header else _rows_noheader(lines)
    out: Observations = {}
    if low := extreme(rows, 1, min):
        out["gpu_mem_free_mib"] = obs(low[1], low[0])
    if low := extreme(rows, 2, min):
        out["gpu_sm_clock_mhz"] = obs(low[2], low[0])
    return out
