"""training_log: the tail of each training log `--log` names, read by every log parser.

The probe prints each file under a `==> path <==` header (as `tail -v` does) and `rgt-log-error
path: message` when it cannot read one. Each log is parsed on its own, so a traceback in one log
is never joined to a loss line of another; where several logs show the same reading, the first
log given wins.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers import cuda_oom, dataloader, loss_scale, loss_series, nccl, py_traceback, torchrun
from rgt.diagnose.parsers._common import obs

KINDS = (py_traceback, cuda_oom, nccl, loss_series, dataloader, torchrun, loss_scale)
OBSERVES: dict[str, str] = {
    "train_log_readable": "bool",   # at least one named log could be read
    "train_logs_unreadable": "list[str]",  # the paths that could not be read
    **{name: kind for module in KINDS for name, kind in module.OBSERVES.items()},
}

_HEADER = re.compile(r"^==> (.*) <==$")
_ERROR = re.compile(r"^rgt-log-error (.*?): (.*)$")


def sections(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(path, text) of each log read, and (path, line) of each that could not be read."""
    read: list[tuple[str, list[str]]] = []
    failed: list[tuple[str, str]] = []
    for ln in text.splitlines():
        if m := _HEADER.match(ln):
            read.append((m.group(1), []))
        elif m := _ERROR.match(ln):
            failed.append((m.group(1), ln))
        elif read:
            read[-1][1].append(ln)
    return [(path, "\n".join(body)) for path, body in read], failed


def parse(text: str) -> Observations:
    read, failed = sections(text)
    out: Observations = {}
    for _, body in read:
        for module in KINDS:
            for name, found in module.parse(body).items():
                out.setdefault(name, found)
    if read:
        out["train_log_readable"] = obs(True, f"==> {read[0][0]} <==")
    elif failed:
        out["train_log_readable"] = obs(False, failed[0][1])
    if failed:
        out["train_logs_unreadable"] = obs([path for path, _ in failed], failed[0][1])
    return out
