"""last: `last -x -F reboot shutdown | head -n 20` (wtmp reboot and shutdown records).

Records are listed newest first. A reboot counts as a crash when the record just before it in
time (the next system record down the list) is another reboot, not a shutdown (a change to
runlevel 0 or 6 counts as a shutdown, as in last(1)): the box came back up without having gone
down cleanly. The oldest reboot listed is never counted, since
what preceded it was not shown. Plain `last` output with user sessions is read too: a session
ending in `- crash` marks the reboot listed above it as a crash.

Empty output (no wtmp, tool missing) yields nothing; a bare "wtmp begins ..." footer yields
zero reboots.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "reboots_logged": "int",
    "crashes_logged": "int",  # reboots with no clean shutdown before them
}

_REBOOT = re.compile(r"^reboot\s+system boot\b")
_SHUTDOWN = re.compile(r"^shutdown\s+system down\b")
_RUNLEVEL = re.compile(r"^runlevel\s+\(")
_FOOTER = re.compile(r"^\s*wtmp begins\b")
_CRASH = re.compile(r"\s-\s+crash\b")


def parse(text: str) -> Observations:
    lines = content_lines(text)
    kinds: list[tuple[str, str]] = []  # (kind, line), newest first
    footer = False
    for ln in lines:
        if _FOOTER.search(ln):
            footer = True
        elif _REBOOT.search(ln):
            kinds.append(("reboot", ln))
        elif _SHUTDOWN.search(ln):
            kinds.append(("shutdown", ln))
        elif _RUNLEVEL.search(ln):
            # last(1) treats a change to runlevel 0 or 6 as a shutdown
            kinds.append(("shutdown" if re.search(r"\(to lvl [06]\)", ln) else "runlevel", ln))
        elif re.match(r"^\S+\s+\S", ln) and not ln.startswith(("last:", "utmpdump:")):
            kinds.append(("session", ln))
    if not kinds and not footer:
        return {}

    reboots = [ln for kind, ln in kinds if kind == "reboot"]
    has_sessions = any(kind == "session" for kind, _ in kinds)
    has_shutdowns = any(kind in ("shutdown", "runlevel") for kind, _ in kinds)
    by_order = has_shutdowns or not has_sessions  # the -x form: shutdown records are listed

    crashes: list[str] = []
    for i, (kind, ln) in enumerate(kinds):
        if kind != "reboot":
            continue
        older = kinds[i + 1:]
        nxt = next((k for k, _ in older if k in ("reboot", "shutdown")), None)
        until_next_boot = []
        for k, l2 in older:
            if k == "reboot":
                break
            until_next_boot.append((k, l2))
        crash_session = any(k == "session" and _CRASH.search(l2) for k, l2 in until_next_boot)
        if crash_session or (by_order and nxt == "reboot"):
            crashes.append(ln)

    return {
        "reboots_logged": obs(len(reboots), reboots[0] if reboots else ""),
        "crashes_logged": obs(len(crashes), crashes[0] if crashes else ""),
    }
