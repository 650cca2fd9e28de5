"""nvidia_smi: the default `nvidia-smi` table, or the error it prints instead (`2>&1`).

Handles the old (346.xx) and current table layouts, the `CUDA Version: 12.4` header and the newer
`KMD Version: ... CUDA UMD Version: 13.3` one, MIG tables (whose rows are not GPUs), and the
process table ("No running processes found" counts as 0; a table without a process section
reports no process count). A value shown as N/A or ERR! for any GPU makes the max over GPUs
unknown, so it is left out.

Errors map to `nvidia_smi_error`:
    Failed to initialize NVML: Driver/library version mismatch        -> driver-library-mismatch
    NVIDIA-SMI has failed because it couldn't communicate with the
    NVIDIA driver                                                      -> no-driver
    Unable to determine the device handle for GPU 0000:01:00.0: ...    -> device-handle
    nvidia-smi: command not found / not found / No such file           -> not-found
    any other output without a table                                   -> other
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, extreme, obs

OBSERVES: dict[str, str] = {
    "nvidia_smi_ok": "bool",
    "nvidia_smi_error": "str",     # "", driver-library-mismatch, no-driver, device-handle,
                                   # not-found, other
    "driver_version": "str",
    "cuda_driver_max": "float",    # "CUDA Version" (or "CUDA UMD Version") in the header
    "gpu_count": "int",
    "gpu_mem_used_mib": "int",     # max over GPUs
    "gpu_util_pct": "int",         # max over GPUs
    "gpu_proc_count": "int",       # rows of the process table
}

_ERRORS = [
    ("driver-library-mismatch", re.compile(r"Driver/library version mismatch", re.I)),
    ("no-driver", re.compile(r"couldn'?t communicate with the NVIDIA driver", re.I)),
    ("device-handle", re.compile(r"Unable to determine the device handle", re.I)),
]
_NOT_FOUND = re.compile(r"command not found|: not found\s*$|No such file or directory\s*$", re.I)
_HEADER = re.compile(r"NVIDIA-SMI\s+\S+")
_DRIVER = re.compile(r"(?:Driver|KMD) Version:\s*([0-9][0-9.]*)")
_CUDA = re.compile(r"CUDA (?:UMD )?Version:\s*([0-9]+\.[0-9]+)")
_BUS_ID = re.compile(r"\b[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]\b")
_GPU_ROW = re.compile(r"^\|\s+\d+\s+\S")
_MEM = re.compile(r"^\s*(\d+)MiB\s*/\s*(\d+)MiB\s*$")
_UTIL = re.compile(r"^\s*(\d+)%")
_PROC_ROW = re.compile(r"^\|\s+(?:\d+|N/A)\s+.*\s(?:C|G|M|C\+G|M\+C)\s+\S")


def _error(lines: list[str]) -> tuple[str, str] | None:
    for code, pattern in _ERRORS:
        for ln in lines:
            if pattern.search(ln):
                return code, ln
    return None


def parse(text: str) -> Observations:
    lines = content_lines(text)
    if not lines:
        return {}
    header = next((ln for ln in lines if _HEADER.search(ln) and _DRIVER.search(ln)), "")
    err = _error(lines)
    if not err and not header:
        if all(_NOT_FOUND.search(ln) for ln in lines):
            err = ("not-found", lines[0])
        else:
            err = ("other", lines[0])

    out: Observations = {}
    if err:
        out["nvidia_smi_ok"] = obs(False, err[1])
        out["nvidia_smi_error"] = obs(err[0], err[1])
    else:
        out["nvidia_smi_ok"] = obs(True, header)
        out["nvidia_smi_error"] = obs("", "")
    driver = _DRIVER.search(header)  # the header was chosen for holding it
    if not header or not driver:
        return out

    out["driver_version"] = obs(driver.group(1), header)
    m = _CUDA.search(header)
    if m:
        out["cuda_driver_max"] = obs(float(m.group(1)), header)

    # The GPU table runs from the header to the first blank line; MIG and process tables follow.
    start = text.splitlines().index(header)
    gpu_table: list[str] = []
    rest: list[str] = []
    for ln in text.splitlines()[start + 1:]:
        if not rest and ln.strip():
            gpu_table.append(ln)
        else:
            rest.append(ln)

    gpus: list[tuple[str, int | None, int | None]] = []  # (usage line, mem used, util)
    expect_usage = False
    for ln in gpu_table:
        if _GPU_ROW.search(ln) and _BUS_ID.search(ln):
            expect_usage = True
            continue
        if expect_usage and ln.startswith("|"):
            cells = ln.split("|")
            mem = util = None
            if len(cells) >= 4:
                m = _MEM.match(cells[2])
                mem = int(m.group(1)) if m else None
                m = _UTIL.match(cells[3])
                util = int(m.group(1)) if m else None
            gpus.append((ln, mem, util))
            expect_usage = False
    # A table without GPU rows was cut short (with no GPU, nvidia-smi says "No devices were found").
    if gpus:
        out["gpu_count"] = obs(len(gpus), gpus[0][0])
    if top := extreme(gpus, 1):
        out["gpu_mem_used_mib"] = obs(top[1], top[0])
    if top := extreme(gpus, 2):
        out["gpu_util_pct"] = obs(top[2], top[0])

    # Process table: rows after its "|===|" rule, up to its closing "+---+".
    # A process table cut off before its closing border reports no count.
    in_procs = after_rule = closed = False
    procs: list[str] = []
    for ln in rest:
        if re.match(r"^\|\s*Processes:", ln):
            in_procs, after_rule = True, False
            continue
        if not in_procs:
            continue
        if ln.startswith("|="):
            after_rule = True
            continue
        if after_rule and ln.startswith("+"):
            closed = True
            break
        if after_rule and _PROC_ROW.search(ln):
            procs.append(ln)
    if closed:
        none_line = next((ln for ln in rest if "No running processes found" in ln), "")
        out["gpu_proc_count"] = obs(len(procs), procs[0] if procs else none_line)
    return out
