"""nvidia_smi_q: `nvidia-smi -q` (full query), read as an indented key/value tree per GPU.

    remapped_rows_pending  "Remapped Rows > Pending : Yes" on any GPU (A100 and later; absent or
                           N/A on older boards, then not reported)
    ecc_uncorrectable      sum over GPUs of the *Aggregate* uncorrectable ECC counters (lifetime
                           counts kept in the InfoROM, so they survive the reboot that usually
                           follows a crash): "DRAM/SRAM Uncorrectable..." on current drivers,
                           "Double Bit > Total" on older ones; not reported when every counter
                           is N/A (boards without ECC)
    throttle_reasons       names marked Active under "Clocks Throttle Reasons" (older drivers) or
                           "Clocks Event Reasons" (newer), first-seen order over all GPUs,
                           "Idle" included when active
    gpu_temp_c             max "GPU Current Temp" over GPUs (unknown if any GPU shows N/A)

Error output (no "Attached GPUs") yields nothing; the nvidia_smi probe reports the error kind.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "remapped_rows_pending": "bool",
    "ecc_uncorrectable": "int",
    "throttle_reasons": "list[str]",
    "gpu_temp_c": "int",
}

_KV = re.compile(r"^(\s*)(\S.*?)\s+:\s?(.*)$")
_GPU = re.compile(r"^GPU [0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]\s*$")
_REASON_SECTIONS = ("Clocks Throttle Reasons", "Clocks Event Reasons")


def _leaves(lines: list[str]):
    """Yield (gpu index, path tuple, value, line) for every key/value line inside a GPU block."""
    gpu = -1
    stack: list[tuple[int, str]] = []
    for ln in lines:
        if _GPU.match(ln):
            gpu += 1
            stack = []
            continue
        indent = len(ln) - len(ln.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        m = _KV.match(ln)
        if m:
            if gpu >= 0:
                path = tuple(n for _, n in stack) + (m.group(2).strip(),)
                yield gpu, path, m.group(3).strip(), ln
        else:
            stack.append((indent, ln.strip()))


def parse(text: str) -> Observations:
    lines = content_lines(text)
    if not any(ln.startswith("Attached GPUs") for ln in lines):
        return {}

    pending: list[tuple[bool, str]] = []
    ecc_total, ecc_seen, ecc_line, ecc_first = 0, False, "", ""
    reasons: list[str] = []
    reasons_seen, reason_line = False, ""
    temps: dict[int, tuple[int | None, str]] = {}
    gpus: set[int] = set()

    for gpu, path, value, ln in _leaves(lines):
        gpus.add(gpu)
        if path[-2:] == ("Remapped Rows", "Pending") and value in ("Yes", "No"):
            pending.append((value == "Yes", ln))
        if len(path) >= 3 and path[0] == "ECC Errors" and path[1] == "Aggregate":
            key = path[-1]
            counted = "Uncorrectable" in key or (key == "Total" and "Double Bit" in path)
            if counted and value.isdigit():
                ecc_seen = True
                ecc_first = ecc_first or ln
                ecc_total += int(value)
                if int(value) and not ecc_line:
                    ecc_line = ln
        if len(path) >= 2 and path[0] in _REASON_SECTIONS:
            reasons_seen = True
            if value == "Active":
                reason_line = reason_line or ln
                if path[-1] not in reasons:
                    reasons.append(path[-1])
        if path == ("Temperature", "GPU Current Temp"):
            m = re.match(r"^(-?\d+)\s*C$", value)
            temps[gpu] = (int(m.group(1)) if m else None, ln)

    out: Observations = {}
    if pending:
        yes = next((ln for p, ln in pending if p), "")
        out["remapped_rows_pending"] = obs(bool(yes), yes)
    if ecc_seen:
        out["ecc_uncorrectable"] = obs(ecc_total, ecc_line or ecc_first)
    if reasons_seen:
        out["throttle_reasons"] = obs(reasons, reason_line)
    if temps and len(temps) == len(gpus) and all(t is not None for t, _ in temps.values()):
        hottest = max(temps.values(), key=lambda t: t[0] or 0)  # all known, checked above
        out["gpu_temp_c"] = obs(hottest[0], hottest[1])
    return out
