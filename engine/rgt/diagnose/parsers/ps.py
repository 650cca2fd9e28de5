"""ps: the process table, and for each process rgt may read, its working directory, where its
stdout goes and a few environment variables. Four parts, each under a `==> name <==` header:

    rgt-self sid=4120
    rgt-client 5f1e…:3377 boot=9c2a…
    container-marker /.dockerenv
    ==> ps <==
        1     0     1     0 Ss    86400  1200  1 /sbin/init
     4242  4200  4200  1000 Rl    21000 9000000 38 /usr/bin/python3 -u train.py --cfg a.yaml
    ==> links <==
    /proc/4242/cwd /home/alice/proj
    /proc/4242/fd/1 /home/alice/proj/train.log
    ==> environ <==
    /proc/4242/environ:PATH=
    /proc/4242/environ:PYTHONUNBUFFERED=1
    ==> end <==

The ps rows are `pid ppid sid uid stat etimes rss nlwp args`. The first line names the session of
rgt's own batch (exported by the script as RGT_SID): every process of that session is rgt itself
(its shell, its lanes, the `timeout` wrappers, this very `ps`, the torch probe's python) and is
dropped, so no reading ever counts rgt. The second names the rgt process that sent the batch by its
machine's boot id and its pid; when the box has the same boot id it is that machine, and that pid
(whose command line holds the user's `--match` text) is dropped as well. So is every process whose
environment carries `RGT_SID`: the batch of another rgt probing the same box at the same moment. Links and environ come from /proc, which lets a user read
only their own processes (all of them as root); `PATH=` is printed with its value blanked, so a
process whose environ was readable is told apart from one whose environ holds none of the names.
Proxy credentials are masked on the box (`//***@`).

Observations:
- `processes`: the other processes, each a dict (pid, ppid, sid, uid, stat, age_s, rss_kb,
  threads, args, line; `cwd` and `out` when readable, with the lines that showed them; `env`
  when readable, else None, and `env_lines`). Which of
  them is the user's run is decided in one place, `rgt.diagnose.run`.
- `processes_complete`: the table was printed to its end (absence can be trusted).
- `proc_count`, `zombie_procs`: counted without rgt's own processes.
- `platform_marks`: the paths of the profiles' `marks` that exist on the box (`platform-mark /hy-tmp`).
- `container_marker`: the file a container runtime leaves (`/.dockerenv`, podman's
  `/run/.containerenv`), when there is one.
- `pid1_age_h`: hours since PID 1 started. In a container PID 1 is the container's first
  process, so this is the container's age while `uptime` gives the host's (U3's ladder).
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "processes": "list[dict]",       # every process but rgt's own; see rgt.diagnose.run
    "processes_complete": "bool",
    "proc_count": "int",
    "zombie_procs": "int",
    "pid1_age_h": "float",           # the container's age inside one, else the machine's
    "container_marker": "str",
    "platform_marks": "list[str]",   # paths of the profiles' `marks` present on the box
}

_SELF = re.compile(r"^rgt-self sid=(\d*)\s*$")
_MARKER = re.compile(r"^container-marker (\S+)$")
_PLATFORM_MARK = re.compile(r"^platform-mark (\S+)$")
_CLIENT = re.compile(r"^rgt-client (\S+):(\d+) boot=(\S*)\s*$")
_SECTION = re.compile(r"^==> (\w+) <==$")
_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s?(.*)$")
_LINK = re.compile(r"^/proc/(\d+)/(cwd|fd/1) (.*)$")
_ENV = re.compile(r"^/proc/(\d+)/environ:([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def parse(text: str) -> Observations:
    self_sid, section, seen, marker, client = None, None, set(), None, None
    marks: list[tuple[str, str]] = []
    procs: dict[int, dict] = {}
    for ln in content_lines(text):
        if m := _SELF.match(ln):
            self_sid = int(m.group(1)) if m.group(1) else None
        elif section is None and (m := _CLIENT.match(ln.strip())):
            client = int(m.group(2)) if m.group(1) == m.group(3) else None  # same boot: this machine
        elif section is None and (m := _PLATFORM_MARK.match(ln.strip())):
            marks.append((m.group(1), ln))
        elif section is None and (m := _MARKER.match(ln.strip())):
            marker = obs(m.group(1), ln)
        elif m := _SECTION.match(ln.strip()):
            section = m.group(1)
            seen.add(section)
        elif section == "ps" and (m := _ROW.match(ln)):
            pid, ppid, sid, uid, stat, age, rss, nlwp, args = m.groups()
            procs[int(pid)] = {"pid": int(pid), "ppid": int(ppid), "sid": int(sid), "uid": int(uid), "stat": stat,
                               "age_s": int(age), "rss_kb": int(rss), "threads": int(nlwp), "args": args,
                               "line": ln, "env": None}
        elif section == "links" and (m := _LINK.match(ln)) and int(m.group(1)) in procs and m.group(3).strip():
            key = "cwd" if m.group(2) == "cwd" else "out"
            procs[int(m.group(1))].update({key: m.group(3), f"{key}_line": ln})
        elif section == "environ" and (m := _ENV.match(ln)) and int(m.group(1)) in procs:
            proc = procs[int(m.group(1))]
            proc["env"] = {**(proc["env"] or {}), m.group(2): m.group(3)}
            proc.setdefault("env_lines", {})[m.group(2)] = ln
    if self_sid is None or not procs:
        return {}  # without its own session rgt could not tell itself apart: no reading
    # a process carrying RGT_SID belongs to an rgt batch: this one, or another rgt probing at once
    table = [p for p in procs.values() if p["sid"] != self_sid and p["pid"] != client
             and "RGT_SID" not in (p["env"] or {})]
    complete = "links" in seen  # ps finished before the next part began
    zombies = [p for p in table if p["stat"].startswith("Z")]
    out: Observations = {
        "processes": obs(table, ""),
        "processes_complete": obs(complete, ""),
        "proc_count": obs(len(table), table[0]["line"] if table else ""),
        "zombie_procs": obs(len(zombies), zombies[0]["line"] if zombies else ""),
    }
    if marker:
        out["container_marker"] = marker
    if marks:
        out["platform_marks"] = obs([m for m, _ in marks], marks[0][1])
    if 1 in procs:
        out["pid1_age_h"] = obs(round(procs[1]["age_s"] / 3600, 3), procs[1]["line"])
    return out
