"""dataloader: a DataLoader worker that died, and the signal that killed it.

    RuntimeError: DataLoader worker (pid 2455) is killed by signal: Killed.
    ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory (shm).
    RuntimeError: DataLoader worker (pid(s) 2485) exited unexpectedly

SIGKILL ("Killed") is what the kernel's OOM killer sends, but also `kill -9` and a container
runtime; a bus error in a worker is, in practice, a full `/dev/shm`. The main process's
"exited unexpectedly" follows either.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import obs
from rgt.diagnose.parsers._logtext import log_lines

OBSERVES: dict[str, str] = {
    "dataloader_worker_died": "bool",     # killed by a signal, or exited unexpectedly
    "dataloader_worker_signal": "str",    # Killed, Bus error, Segmentation fault, …
    "dataloader_shm_error": "bool",       # torch's own words: bus error / out of shared memory
}

_KILLED = re.compile(r"DataLoader worker \(pid \d+\) is killed by signal: ([^.]+)\.")
_EXITED = re.compile(r"DataLoader worker \(pid\(s\) [\d, ]+\) exited unexpectedly")
_SHM = re.compile(r"Unexpected bus error encountered in worker|out of shared memory|insufficient shared memory")


def parse(text: str) -> Observations:
    out: Observations = {}
    for orig, ln in log_lines(text):
        if (m := _KILLED.search(ln)) and "dataloader_worker_signal" not in out:
            out["dataloader_worker_signal"] = obs(m.group(1).strip(), orig)
            out["dataloader_worker_died"] = obs(True, orig)
        elif _EXITED.search(ln) and "dataloader_worker_died" not in out:
            out["dataloader_worker_died"] = obs(True, orig)
        if _SHM.search(ln) and "dataloader_shm_error" not in out:
            out["dataloader_shm_error"] = obs(True, orig)
    return out
