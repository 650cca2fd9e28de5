"""kernel_log: the kernel ring buffer (`dmesg -T`, falling back to `journalctl -k`).

Reads OOM kills (global and memory-cgroup), NVIDIA Xid codes, GPUs fallen off the bus and hung
tasks. Only message text is matched, never timestamps, so every prefix form works the same and
nothing depends on the reading machine's timezone or locale:

    [  615.391254] INFO: task ... blocked for more than 120 seconds.         dmesg (raw)
    [ven. nov. 28 07:26:44 2025] Out of memory: Killed process 3499662 ...   dmesg -T / --ctime
    Dec 05 22:20:29 host kernel: Out of memory: Killed process 44634 ...     journalctl -k
    Nov 15 12:43:10 host kernel: [ 7613.98] NVRM: Xid (PCI:0000:03:00): 13  /var/log/kern.log

A log that could not be read (empty output, `dmesg: read kernel buffer failed: Operation not
permitted`, journalctl's `-- No entries --`) yields `kernel_log_readable: False` and nothing else,
so an unreadable log can never rule a cause out. A readable log with no OOM line yields
`oom_kills: 0` with an empty line.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, not_run, obs

OBSERVES: dict[str, str] = {
    "kernel_log_readable": "bool",
    "oom_kills": "int",             # "Killed process N (name)" lines, global or memory cgroup
    "cgroup_oom_kills_log": "int",  # "Memory cgroup out of memory" lines
    "oom_victims": "list[str]",     # names of killed processes, first-seen order, no repeats
    "python_oom_kills": "int",      # kills of a python interpreter or of a PyTorch worker
    "dataloader_oom_kills": "int",  # kills of a DataLoader worker (torch names them pt_data_worker)
    "xid_codes": "list[int]",       # NVRM Xid codes, first-seen order, no repeats (SXid excluded)
    "gpu_fell_off_bus": "bool",
    "hung_tasks": "int",            # "blocked for more than N seconds" lines
}

# Lines that are about the log rather than from it.
_META = re.compile(
    r"^-- .* --$"                      # journalctl: -- No entries --, -- Boot ... --
    r"|^No journal files were found"
    r"|^Hint: "                        # journalctl: not seeing messages from other users
    r"|^(?:dmesg|journalctl): "        # the tools' own complaints
    r"|^Failed to ",
)
_KILLED = re.compile(r"Killed process \d+(?:, UID \d+,)? \((.*?)\)(?=[ ,]|$)")
_MEMCG = re.compile(r"Memory cgroup out of memory")
_XID = re.compile(r"(?<![A-Za-z])Xid \([^)]*\): (\d+)")
_FELL = re.compile(r"fallen off the bus", re.IGNORECASE)
_HUNG = re.compile(r"blocked for more than \d+ seconds")
# torch renames its DataLoader worker processes (torch/utils/data/_utils/worker.py,
# `_set_thread_name("pt_data_worker")`), so the kernel names them so when it kills one
_PYTHON_VICTIM = re.compile(r"^(?:python[0-9.]*|pt_data_worker|pt_main_thread|torchrun)$")


def _log_lines(lines: list[str]) -> list[str]:
    """Lines that come from the kernel log itself (drops journal banners and tool errors)."""
    out, in_hint = [], False
    for ln in lines:
        if in_hint and ln[:1].isspace():
            continue  # indented continuation of a journalctl "Hint:" notice
        in_hint = ln.startswith("Hint: ")
        if _META.search(ln.strip()) or not_run(ln):
            continue
        out.append(ln)
    return out


def parse(text: str) -> Observations:
    lines = content_lines(text)
    log = _log_lines(lines)
    if not log:
        return {"kernel_log_readable": obs(False, lines[0] if lines else "")}

    victims: list[str] = []
    killed = memcg = hung = py_kills = worker_kills = 0
    killed_line = memcg_line = hung_line = xid_line = fell_line = py_line = worker_line = ""
    xids: list[int] = []
    for ln in log:
        m = _KILLED.search(ln)
        if m:
            killed += 1
            killed_line = killed_line or ln
            if m.group(1) not in victims:
                victims.append(m.group(1))
            if _PYTHON_VICTIM.match(m.group(1)):
                py_kills += 1
                py_line = py_line or ln
            if m.group(1) == "pt_data_worker":
                worker_kills += 1
                worker_line = worker_line or ln
        if _MEMCG.search(ln):
            memcg += 1
            memcg_line = memcg_line or ln
        m = _XID.search(ln)
        if m:
            xid_line = xid_line or ln
            code = int(m.group(1))
            if code not in xids:
                xids.append(code)
        if _FELL.search(ln):
            fell_line = fell_line or ln
        if _HUNG.search(ln):
            hung += 1
            hung_line = hung_line or ln

    return {
        "kernel_log_readable": obs(True, log[0]),
        "oom_kills": obs(killed, killed_line),
        "cgroup_oom_kills_log": obs(memcg, memcg_line),
        "oom_victims": obs(victims, killed_line),
        "python_oom_kills": obs(py_kills, py_line),
        "dataloader_oom_kills": obs(worker_kills, worker_line),
        "xid_codes": obs(xids, xid_line),
        "gpu_fell_off_bus": obs(bool(fell_line), fell_line),
        "hung_tasks": obs(hung, hung_line),
    }
