"""cuda_oom: the numbers of PyTorch's CUDA out-of-memory message (the last one in the log).

    torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 35.60 GiB. GPU 0 has a total
    capacity of 79.33 GiB of which 26.16 GiB is free. Process 76883 has 53.16 GiB memory in use.
    Of the allocated memory 11.97 GiB is allocated by PyTorch, and 40.69 GiB is reserved by
    PyTorch but unallocated. …

(one line in the log). Builds before 2.1 print `(GPU 0; 10.92 GiB total capacity; 8.57 MiB
already allocated; 9.28 GiB free; 4.68 MiB reserved in total by PyTorch)`: there the
reserved-but-unallocated figure is reserved minus allocated. "This process has" comes from
"Including non-PyTorch memory, this process has N in use"; lines that name other processes
(`Process 76883 has …`) do not say which one is this process, so they give no figure.
All sizes are MiB.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import obs
from rgt.diagnose.parsers._logtext import log_lines

OBSERVES: dict[str, str] = {
    "cuda_oom": "bool",
    "oom_tried_mib": "float",
    "oom_total_mib": "float",
    "oom_free_mib": "float",
    "oom_process_mib": "float",               # everything this process holds, CUDA context included
    "oom_allocated_mib": "float",             # live tensors
    "oom_reserved_unallocated_mib": "float",  # cached by the allocator, used by no tensor
}

_SIZE = r"(\d+(?:\.\d+)?) (bytes|KiB|MiB|GiB|TiB)"
_UNIT = {"bytes": 1 / 1048576, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "TiB": 1048576.0}
_OOM = re.compile(r"CUDA out of memory\. Tried to allocate " + _SIZE)
_FIELDS = {
    "oom_total_mib": re.compile(r"total capac\w* of " + _SIZE + r"|" + _SIZE + r" total capacity"),
    "oom_free_mib": re.compile(r"of which " + _SIZE + r" is free|" + _SIZE + r" free\b"),
    "oom_process_mib": re.compile(r"this process has " + _SIZE + r" memory in use"),
    "oom_allocated_mib": re.compile(_SIZE + r" is allocated by PyTorch|" + _SIZE + r" already allocated"),
    "oom_reserved_unallocated_mib": re.compile(_SIZE + r" is reserved by PyTorch but unallocated"),
}
_RESERVED_TOTAL = re.compile(_SIZE + r" reserved in total by PyTorch")


def _mib(m: re.Match) -> float:
    groups = [g for g in m.groups() if g is not None]
    return round(float(groups[0]) * _UNIT[groups[1]], 2)


def parse(text: str) -> Observations:
    hits = [(orig, ln, m) for orig, ln in log_lines(text) if (m := _OOM.search(ln))]
    if not hits:
        return {}
    orig, ln, tried = hits[-1]
    out: Observations = {"cuda_oom": obs(True, orig), "oom_tried_mib": obs(_mib(tried), orig)}
    for name, pattern in _FIELDS.items():
        if m := pattern.search(ln):
            out[name] = obs(_mib(m), orig)
    reserved = _RESERVED_TOTAL.search(ln)
    if reserved and "oom_allocated_mib" in out and "oom_reserved_unallocated_mib" not in out:
        out["oom_reserved_unallocated_mib"] = obs(round(_mib(reserved) - out["oom_allocated_mib"].value, 2), orig)
    return out
