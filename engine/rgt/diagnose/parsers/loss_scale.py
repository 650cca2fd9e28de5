"""loss_scale: dynamic loss-scale overflows from DeepSpeed and apex, and the scale they reach.

    [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 64, reducing to 32
    Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 32768.0
    Exception: Current loss scale already at minimum - cannot decrease scale anymore. Exiting run.

Each overflow skips an optimizer step. A scale that falls to 1 (or DeepSpeed's minimum) means
nearly every step overflows at any scale: the gradients themselves are not finite.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import obs
from rgt.diagnose.parsers._logtext import log_lines

OBSERVES: dict[str, str] = {
    "loss_scale_overflows": "int",     # skipped steps reported
    "loss_scale_min": "float",         # the smallest scale an overflow line reduced to
    "loss_scale_at_minimum": "bool",   # DeepSpeed gave up: the scale cannot go lower
}

_DEEPSPEED = re.compile(r"OVERFLOW! Rank \d+ Skipping step\. Attempted loss scale: [\d.]+, reducing to ([\d.]+)")
_APEX = re.compile(r"Gradient overflow\.\s+Skipping step, loss scaler \d+ reducing loss scale to ([\d.]+)")
_MINIMUM = re.compile(r"Current loss scale already at minimum")


def parse(text: str) -> Observations:
    out: Observations = {}
    count, low = 0, None
    first = ""
    for orig, ln in log_lines(text):
        m = _DEEPSPEED.search(ln) or _APEX.search(ln)
        if m:
            count += 1
            first = first or orig
            scale = float(m.group(1))
            if low is None or scale < low[0]:
                low = (scale, orig)
        if _MINIMUM.search(ln) and "loss_scale_at_minimum" not in out:
            out["loss_scale_at_minimum"] = obs(True, orig)
    if count:
        out["loss_scale_overflows"] = obs(count, first)
    if low:
        out["loss_scale_min"] = obs(low[0], low[1])
    return out
