"""cpu_quota: three kinds of line from the probe:

    cpu.max=400000 100000          cgroup v2: "<quota> <period>" or "max <period>"; empty: no file
    cfs=-1 100000                  cgroup v1: cpu.cfs_quota_us and cpu.cfs_period_us; -1: no quota
    nproc=2 nproc_all=64           CPUs this process may use (affinity), CPUs the host has

cpu_quota_cores is quota / period (v2 first, else v1), capped at nproc; with no quota it is
nproc, which equals host_cpus unless an affinity mask (taskset, cpuset) narrows it. A cgroup
without a readable quota file counts as no quota: the root cgroup of a v2 host has no cpu.max.
The probe clears OMP_NUM_THREADS and OMP_THREAD_LIMIT for `nproc`, which would otherwise report
the variable instead of the CPUs. Without the `nproc=` line nothing is reported.

The run's thread count comes from the ps probe (`run_threads`), which knows which process is the
run; counting every Python process here would count rgt's own torch probe.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "cpu_quota_cores": "float",    # CFS quota / period, capped at nproc; nproc when unlimited
    "host_cpus": "int",            # nproc --all
}

_V2 = re.compile(r"^cpu\.max=\s*(max|\d+)\s+(\d+)\s*$")
_V1 = re.compile(r"^cfs=\s*(-?\d+)\s+(\d+)\s*$")
_NPROC = re.compile(r"^nproc=(\d+)\s+nproc_all=(\d+)\s*$")


def _quota(lines: list[str]) -> tuple[float | None, str]:
    """(quota / period or None for no quota, the line that says so)."""
    for ln in lines:
        m = _V2.match(ln.strip())
        if m:
            period = int(m.group(2))
            if m.group(1) == "max" or period == 0:
                return None, ln
            return int(m.group(1)) / period, ln
    for ln in lines:
        m = _V1.match(ln.strip())
        if m:
            quota, period = int(m.group(1)), int(m.group(2))
            if quota <= 0 or period == 0:
                return None, ln
            return quota / period, ln
    return None, ""


def parse(text: str) -> Observations:
    lines = content_lines(text)
    out: Observations = {}
    nproc_line = next((ln for ln in lines if _NPROC.match(ln.strip())), None)
    m = _NPROC.match(nproc_line.strip()) if nproc_line is not None else None
    if nproc_line is not None and m:
        nproc, host = int(m.group(1)), int(m.group(2))
        if nproc > 0 and host > 0:
            out["host_cpus"] = obs(host, nproc_line)
            quota, quota_line = _quota(lines)
            if quota is not None and quota < nproc:
                out["cpu_quota_cores"] = obs(round(quota, 3), quota_line)
            elif nproc < host or not quota_line:  # the affinity mask is the limit
                out["cpu_quota_cores"] = obs(float(nproc), nproc_line)
            else:  # no quota, or one above the CPUs this process may use
                out["cpu_quota_cores"] = obs(float(nproc), quota_line)

    return out
