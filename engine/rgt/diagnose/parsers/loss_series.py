"""loss_series: the logged loss and gradient norm, step by step, and where they first stop being
finite numbers.

    {'loss': 0.2051, 'grad_norm': nan, 'learning_rate': 9.77e-06, 'epoch': 0.53}   HF Trainer
    Epoch 0:   6%|██   | 32040/500150 [6:28:43<94:39:17, 1.37it/s, loss=2.6, v_num=95nc]   Lightning
    step 10 loss=nan grad_norm=nan                                                 plain lines
    Epoch(train) [1][240/735]  lr: 1.98e-04 … loss: 2.5128  grad_norm: nan          mmengine

The step is what the line itself says (`step N`, `global_step=N`, `iter N`, a progress bar's or
a `[N/M]` counter's N); a Hugging Face dict names none, so there it is the dict's place among the
logged records (1 for the first). Values are only read next to a `loss` or `grad_norm` key, so
`val_loss` and `loss_scale` are not the training loss.
"""
from __future__ import annotations

import math
import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import obs
from rgt.diagnose.parsers._logtext import log_lines, number

OBSERVES: dict[str, str] = {
    "loss_points": "int",                     # lines that log a training loss
    "loss_nonfinite": "bool",                 # some logged loss is nan or inf
    "loss_first_nonfinite_step": "int",
    "loss_last_finite": "float",              # the last finite loss before the first non-finite one
    "grad_norm_nonfinite": "bool",
    "grad_norm_first_nonfinite_step": "int",
}

_VALUE = r"""['"]?\s*[:=]\s*['"]?(-?inf(?:inity)?|nan|[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"""
_LOSS = re.compile(r"(?<![\w/.-])(?:train_)?loss" + _VALUE, re.IGNORECASE)
_GRAD = re.compile(r"(?<![\w/.-])grad_norm" + _VALUE, re.IGNORECASE)
_STEP = re.compile(r"(?<![\w/])(?:global_step|step|iter(?:ation)?)['\"]?\s*[:=]?\s*(\d+)\b"
                   r"|\|\s*(\d+)/\d+ \[|\]\[(\d+)/\d+\]", re.IGNORECASE)
_HF_DICT = re.compile(r"^\s*\{'(?:loss|grad_norm)'")


def parse(text: str) -> Observations:
    out: Observations = {}
    points = 0
    last_finite: tuple[float, str] | None = None
    first_line = ""
    for orig, ln in log_lines(text):
        loss, grad = _LOSS.search(ln), _GRAD.search(ln)
        if not loss and not grad:
            continue
        points += 1 if loss else 0
        first_line = first_line or (orig if loss else "")
        m = _STEP.search(ln)
        step = int(next(g for g in m.groups() if g)) if m and not _HF_DICT.match(ln) else points
        lv = number(loss.group(1)) if loss else None
        gv = number(grad.group(1)) if grad else None
        if lv is not None and not math.isfinite(lv) and "loss_nonfinite" not in out:
            out["loss_nonfinite"] = obs(True, orig)
            out["loss_first_nonfinite_step"] = obs(step, orig)
            if last_finite:
                out["loss_last_finite"] = obs(last_finite[0], last_finite[1])
        elif lv is not None and "loss_nonfinite" not in out:
            last_finite = (lv, orig)
        if gv is not None and not math.isfinite(gv) and "grad_norm_nonfinite" not in out:
            out["grad_norm_nonfinite"] = obs(True, orig)
            out["grad_norm_first_nonfinite_step"] = obs(step, orig)
    if points:
        out["loss_points"] = obs(points, first_line)
    return out
