"""py_traceback: the final Python exception in a log, the frames of the user's own code, and what
PyTorch's `load_state_dict` says about the keys it could not place.

    Traceback (most recent call last):
      File "/tmp/caps/train.py", line 16, in <module>
        main()
      File "…/site-packages/torch/nn/modules/module.py", line 2640, in load_state_dict
    RuntimeError: Error(s) in loading state_dict for Net:
        Missing key(s) in state_dict: "enc.weight", …
        Unexpected key(s) in state_dict: "module.enc.weight", …

The final exception is the last one the log shows, except torchrun's own `ChildFailedError`,
which only reports that a worker failed: the worker's exception, when the log holds it, is the
one that says why. A frame is the user's when its file is outside site-packages, dist-packages
the interpreter's own library and
installed commands (`…/bin/torchrun`).
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import obs
from rgt.diagnose.parsers._logtext import log_lines

OBSERVES: dict[str, str] = {
    "tracebacks": "int",                 # `Traceback (most recent call last):` lines
    "exception_type": "str",             # e.g. torch.distributed.DistNetworkError
    "exception_message": "str",          # the text after `Type: ` on the exception's own line
    "user_frames": "list[str]",          # `path:line in func` of frames outside installed packages
    "state_dict_unexpected_prefixes": "list[str]",  # first dotted part of each unexpected key: module, _orig_mod
    "state_dict_missing_keys": "int",
    "state_dict_size_mismatches": "int",  # `size mismatch for NAME` lines
    # what torch.load's weights_only unpickler refused, from its `WeightsUnpickler error:` line or
    # the line after it: `Unsupported global: GLOBAL argparse.Namespace …`, `Unsupported operand 118`
    "weights_unpickler_error": "str",
}

_START = re.compile(r"^Traceback \(most recent call last\):\s*$")
_FRAME = re.compile(r'^\s+File "([^"]+)", line (\d+), in (.+)$')
_EXC = re.compile(r"^((?:[A-Za-z_]\w*\.)*_?[A-Z]\w*)(?::\s?(.*))?$")
_LIBRARY = re.compile(r"/(?:site|dist)-packages/|/lib/python\d[\d.]*/|/bin/[^/]+$|^<frozen ")
# the launcher's summary of a failed worker: it names no cause of its own
_WRAPPERS = {"torch.distributed.elastic.multiprocessing.errors.ChildFailedError"}
_UNEXPECTED = re.compile(r"Unexpected key\(s\) in state_dict: (.*)")
_MISSING = re.compile(r"Missing key\(s\) in state_dict: (.*)")
_MISMATCH = re.compile(r"size mismatch for [\w.]+: copying a param")
_KEY = re.compile(r'"([^".]+)\.')
_UNPICKLER = re.compile(r"WeightsUnpickler error:\s*(.*)$")


def _exceptions(lines: list[tuple[str, str]]) -> list[dict]:
    found, i = [], 0
    while i < len(lines):
        if not _START.match(lines[i][1]):
            i += 1
            continue
        frames, i = [], i + 1
        while i < len(lines) and (lines[i][1][:1].isspace() or not lines[i][1].strip()):
            m = _FRAME.match(lines[i][1])
            if m and not _LIBRARY.search(m.group(1)):
                frames.append(f"{m.group(1)}:{m.group(2)} in {m.group(3)}")
            i += 1
        if i < len(lines) and (m := _EXC.match(lines[i][1].strip())):
            found.append({"type": m.group(1), "message": (m.group(2) or "").strip(), "line": lines[i][0],
                          "frames": frames, "at": i})
    return found


def parse(text: str) -> Observations:
    lines = log_lines(text)
    starts = [orig for orig, ln in lines if _START.match(ln)]
    out: Observations = {}
    if starts:
        out["tracebacks"] = obs(len(starts), starts[0])
    found = _exceptions(lines)
    own = [e for e in found if e["type"] not in _WRAPPERS] or found
    if own:
        final = own[-1]
        out["exception_type"] = obs(final["type"], final["line"])
        out["exception_message"] = obs(final["message"], final["line"])
        if final["frames"]:
            out["user_frames"] = obs(final["frames"], final["line"])
    for orig, ln in lines:
        if (m := _UNEXPECTED.search(ln)) and "state_dict_unexpected_prefixes" not in out:
            prefixes = list(dict.fromkeys(_KEY.findall(m.group(1))))
            out["state_dict_unexpected_prefixes"] = obs(prefixes, orig)
        elif (m := _MISSING.search(ln)) and "state_dict_missing_keys" not in out:
            out["state_dict_missing_keys"] = obs(m.group(1).count('"') // 2, orig)
    refusals = [(i, m) for i, (_, ln) in enumerate(lines) if (m := _UNPICKLER.search(ln))]
    if refusals:  # torch 2.13 puts the refusal on the same line, or after a blank line
        i, m = refusals[-1]
        said = [(m.group(1).strip(), lines[i][0])] + [(ln.strip(), orig) for orig, ln in lines[i + 1:i + 3]]
        if reason := next(((detail, orig) for detail, orig in said if detail), None):
            out["weights_unpickler_error"] = obs(*reason)
    mismatches = [orig for orig, ln in lines if _MISMATCH.search(ln)]
    if mismatches:
        out["state_dict_size_mismatches"] = obs(len(mismatches), mismatches[0])
    return out
