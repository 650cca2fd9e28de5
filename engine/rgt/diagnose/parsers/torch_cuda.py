"""torch_cuda: the probe's own print line,
`torch <version> cuda <torch.version.cuda> available <bool>`:

    torch 2.4.0+cu121 cuda 12.1 available True
    torch 2.4.0+cpu cuda None available False       (CPU-only build: no torch_cuda_version)

Warnings printed before it (tail -n 3 keeps the last lines) are ignored. A Python traceback
ending in ModuleNotFoundError, ImportError or OSError (a missing libcudart or libcudnn) means the
import failed: torch_import_ok False. Any other failure without the print line, and
"python3: not found", say nothing certain about torch and yield nothing.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "torch_import_ok": "bool",
    "torch_cuda_version": "float",   # CUDA version torch was built with
    "torch_cuda_available": "bool",
}

_LINE = re.compile(r"^torch (\S+) cuda (\S+) available (True|False)\s*$")
# The import itself failed: no torch, or torch without a library it links (libcudart, libcudnn).
_FAIL = re.compile(r"^(?:ModuleNotFoundError|ImportError|OSError)\b")


def parse(text: str) -> Observations:
    lines = content_lines(text)
    for ln in lines:
        m = _LINE.match(ln)
        if m:
            out: Observations = {
                "torch_import_ok": obs(True, ln),
                "torch_cuda_available": obs(m.group(3) == "True", ln),
            }
            if re.match(r"^\d+\.\d+$", m.group(2)):
                out["torch_cuda_version"] = obs(float(m.group(2)), ln)
            return out
    errors = [ln for ln in lines if _FAIL.match(ln.strip())]
    if errors:  # e.g. ModuleNotFoundError: No module named 'torch'
        return {"torch_import_ok": obs(False, errors[-1])}
    return {}
