"""cgroup_memory: this container's memory limit, usage and OOM-kill counter.

The probe prints each readable file under a `==> name <==` header, cgroup v2 names first:

    ==> memory.max <==          "max" (no limit) or bytes        (v2)
    ==> memory.current <==      bytes
    ==> memory.events <==       "oom_kill N" among other counters
    ==> memory/memory.limit_in_bytes <==   bytes (v1); 9223372036854771712 or near: no limit
    ==> memory/memory.usage_in_bytes <==
    ==> memory/memory.oom_control <==      "oom_kill N" (kernel 4.13 and later)

No limit gives cgroup_mem_max_bytes and cgroup_mem_use_pct = None (null), which is a reading,
not an absence. A file that was not printed gives no observation.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import obs

OBSERVES: dict[str, str] = {
    "cgroup_version": "int",             # 1 or 2
    "cgroup_mem_max_bytes": "int",       # None when unlimited
    "cgroup_mem_current_bytes": "int",
    "cgroup_mem_use_pct": "float",       # None when unlimited; 1 decimal
    "cgroup_oom_kills": "int",           # oom_kill in memory.events (v2) or memory.oom_control (v1)
}
NULLABLE = {"cgroup_mem_max_bytes", "cgroup_mem_use_pct"}

# v1 reports "no limit" as PAGE_COUNTER_MAX rounded down to a page: 9223372036854771712 on 4 KiB
# pages, a little less with larger pages. Anything this close to 2**63 is no limit.
_V1_UNLIMITED = 2**62
_HEADER = re.compile(r"^==> (.+?) <==\s*$")


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for ln in text.splitlines():
        m = _HEADER.match(ln)
        if m:
            current = m.group(1).strip()
            out[current] = [ln]
        elif current is not None and ln.strip():
            out[current].append(ln.rstrip())
    return out


def parse(text: str) -> Observations:
    sec = _sections(text)
    if not sec:
        return {}
    out: Observations = {}
    v2 = any(name.startswith("memory.") for name in sec)
    first_header = next(iter(sec.values()))[0]
    out["cgroup_version"] = obs(2 if v2 else 1, first_header)

    limit_name, usage_name, oom_name = (
        ("memory.max", "memory.current", "memory.events") if v2 else
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes",
         "memory/memory.oom_control"))

    limit: int | None = None
    limit_known = False
    body = sec.get(limit_name, [])[1:]
    if body:
        value = body[0].strip()
        if value == "max":
            limit_known = True
        elif value.isdigit():
            limit_known = True
            limit = int(value) if int(value) < _V1_UNLIMITED else None
        if limit_known:
            out["cgroup_mem_max_bytes"] = obs(limit, body[0])

    body = sec.get(usage_name, [])[1:]
    if body and body[0].strip().isdigit():
        current = int(body[0].strip())
        out["cgroup_mem_current_bytes"] = obs(current, body[0])
        if limit_known:
            pct = None if limit is None else round(100.0 * current / limit, 1)
            out["cgroup_mem_use_pct"] = obs(pct, body[0])

    for ln in sec.get(oom_name, [])[1:]:
        m = re.match(r"^oom_kill\s+(\d+)\s*$", ln.strip())
        if m:
            out["cgroup_oom_kills"] = obs(int(m.group(1)), ln)
    return out
