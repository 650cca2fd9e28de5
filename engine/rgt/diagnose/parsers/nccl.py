"""nccl: NCCL's own `NCCL WARN` / `NCCL INFO` lines and ProcessGroupNCCL's watchdog timeout.

    host:534:1763 [3] NCCL INFO NVLS comm 0x7f19… headRank 3 nHeads 4 …
    host:77:90 [0] transport/shm.cc:… NCCL WARN Error while creating shared memory segment …
    [rank1]:[E626 06:24:44.90 ProcessGroupNCCL.cpp:616] [Rank 1] Watchdog caught collective
      operation timeout: WorkNCCL(SeqNum=808, OpType=ALLREDUCE, …, Timeout(ms)=600000) ran for …

(the watchdog message is one line). The first WARN and the first timeout are kept with their
lines: the first is nearest the cause, later ones are other ranks giving up in turn.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import obs
from rgt.diagnose.parsers._logtext import log_lines

OBSERVES: dict[str, str] = {
    "nccl_info_lines": "int",
    "nccl_warns": "int",
    "nccl_warn": "str",             # the text after `NCCL WARN ` of the first warning
    "nccl_timeout": "bool",         # a watchdog timeout line
    "nccl_timeout_op": "str",       # ALLREDUCE, BROADCAST, _REDUCE_SCATTER_BASE, …
    "nccl_timeout_ms": "int",
    "nccl_timeout_seq": "int",      # SeqNum: how many collectives the group had run
    "nccl_timeout_ranks": "list[int]",  # ranks that reported the timeout, first-seen order
}

_INFO = re.compile(r"\bNCCL INFO\b")
_WARN = re.compile(r"\bNCCL WARN (.*)")
_TIMEOUT = re.compile(r"(?:\[Rank (\d+)\] )?Watchdog caught collective operation timeout: "
                      r"WorkNCCL\(SeqNum=(\d+), OpType=(\w+).*?Timeout\(ms\)=(\d+)\)")


def parse(text: str) -> Observations:
    out: Observations = {}
    info = warns = 0
    ranks: list[int] = []
    first_info = ""
    for orig, ln in log_lines(text):
        if _INFO.search(ln):
            info += 1
            first_info = first_info or orig
        if m := _WARN.search(ln):
            warns += 1
            if "nccl_warn" not in out:
                out["nccl_warn"] = obs(m.group(1).strip(), orig)
                out["nccl_warns"] = obs(0, orig)
        if m := _TIMEOUT.search(ln):
            if "nccl_timeout" not in out:
                out.update({"nccl_timeout": obs(True, orig), "nccl_timeout_seq": obs(int(m.group(2)), orig),
                            "nccl_timeout_op": obs(m.group(3), orig), "nccl_timeout_ms": obs(int(m.group(4)), orig),
                            "nccl_timeout_ranks": obs([], orig)})
            if m.group(1) is not None and int(m.group(1)) not in ranks:
                ranks.append(int(m.group(1)))
    if warns:
        out["nccl_warns"] = obs(warns, out["nccl_warns"].line)
    if info:
        out["nccl_info_lines"] = obs(info, first_info)
    if "nccl_timeout_ranks" in out:
        out["nccl_timeout_ranks"] = obs(ranks, out["nccl_timeout_ranks"].line)
    return out
