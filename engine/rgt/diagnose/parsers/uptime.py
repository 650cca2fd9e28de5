"""uptime: `cat /proc/uptime; uptime`.

`/proc/uptime` ("46901.13 46856.66": seconds since boot, idle seconds) gives the exact uptime;
without it the `up ...` part of the uptime line is used ("up 16:03", "up 2 days, 19:32",
"up 7 min", "up 1 day, 3 min"). The 1-minute load average comes from the uptime line and
describes the whole host, not the container. Decimal commas (some locales) are accepted.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "uptime_h": "float",  # hours since boot, 3 decimals
    "load_1m": "float",
}

_PROC = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+\d+(?:\.\d+)?\s*$")
_UP = re.compile(
    r"\bup\s+(?:(?P<days>\d+)\s+days?,\s*)?"
    r"(?:(?P<hh>\d+):(?P<mm>\d\d)|(?P<min>\d+)\s+min|(?P<hrs>\d+)\s+hrs?)?"
    r"\s*,"
)
_LOAD = re.compile(r"load averages?:\s*(\d+[.,]\d+)")


def _hours_from_up(line: str) -> float | None:
    m = _UP.search(line)
    if not m or not any(m.group(g) for g in ("days", "hh", "min", "hrs")):
        return None
    minutes = int(m.group("days") or 0) * 1440
    if m.group("hh"):
        minutes += int(m.group("hh")) * 60 + int(m.group("mm"))
    elif m.group("min"):
        minutes += int(m.group("min"))
    elif m.group("hrs"):
        minutes += int(m.group("hrs")) * 60
    return round(minutes / 60, 3)


def parse(text: str) -> Observations:
    out: Observations = {}
    for ln in content_lines(text):
        m = _PROC.match(ln)
        if m:
            out["uptime_h"] = obs(round(float(m.group(1)) / 3600, 3), ln)
            continue
        if "uptime_h" not in out:
            hours = _hours_from_up(ln)
            if hours is not None:
                out["uptime_h"] = obs(hours, ln)
        m = _LOAD.search(ln)
        if m and "load_1m" not in out:
            out["load_1m"] = obs(float(m.group(1).replace(",", ".")), ln)
    return out
