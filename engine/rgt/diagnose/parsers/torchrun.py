"""torchrun: the elastic agent's failure summary, its root-cause entry read.

    Root Cause (first observed failure):
    [0]:
      time      : 2026-12-04_20:30:22
      host      : localhost
      rank      : 0 (local_rank: 0)
      exitcode  : -9 (pid: 2438)  (SIGKILL)
      error_file: <N/A>
      traceback : Signal 9 (SIGKILL) received by PID 2438

Without the summary (a log cut before it), the agent's own line `failed (exitcode: -9)
local_rank: 0 (pid: 2438) of binary: …` gives the exit code and the local rank. A negative exit
code is the signal that ended the worker; the signal's name is the one this machine's Python
gives that number (Linux numbering).
"""
from __future__ import annotations

import re
import signal

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import obs
from rgt.diagnose.parsers._logtext import log_lines

OBSERVES: dict[str, str] = {
    "elastic_failed": "bool",
    "elastic_exitcode": "int",
    "elastic_signal": "str",     # SIGKILL, SIGSEGV, … when the exit code is negative
    "elastic_rank": "int",       # global rank of the root-cause failure (local rank without the summary)
    "elastic_failures": "int",   # failure entries in the summary, root cause included
}

_ROOT = re.compile(r"^Root Cause \(first observed failure\):")
_ENTRY = re.compile(r"^\[\d+\]:\s*$")
_RANK = re.compile(r"^\s+rank\s*: (\d+)")
_EXIT = re.compile(r"^\s+exitcode\s*: (-?\d+)")
_AGENT = re.compile(r"failed \(exitcode: (-?\d+)\) local_rank: (\d+)")


def _signal(code: int) -> str | None:
    try:
        return signal.Signals(-code).name if code < 0 else None
    except ValueError:
        return None


def parse(text: str) -> Observations:
    lines = log_lines(text)
    out: Observations = {}
    entries = sum(1 for _, ln in lines if _ENTRY.match(ln))
    root = next((i for i, (_, ln) in enumerate(lines) if _ROOT.match(ln)), None)
    if root is not None:
        for orig, ln in lines[root + 1: root + 12]:
            if (m := _RANK.match(ln)) and "elastic_rank" not in out:
                out["elastic_rank"] = obs(int(m.group(1)), orig)
            if (m := _EXIT.match(ln)) and "elastic_exitcode" not in out:
                out["elastic_exitcode"] = obs(int(m.group(1)), orig)
        out["elastic_failed"] = obs(True, lines[root][0])
        if entries:
            out["elastic_failures"] = obs(entries, lines[root][0])
    else:
        agent = [(orig, m) for orig, ln in lines if (m := _AGENT.search(ln))]
        if agent:
            orig, m = agent[0]
            out.update({"elastic_failed": obs(True, orig), "elastic_exitcode": obs(int(m.group(1)), orig),
                        "elastic_rank": obs(int(m.group(2)), orig)})
    code = out.get("elastic_exitcode")
    if code is not None and (name := _signal(code.value)):
        out["elastic_signal"] = obs(name, code.line)
    return out
