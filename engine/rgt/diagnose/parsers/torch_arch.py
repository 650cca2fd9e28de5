"""torch_arch: two Python one-liners, the first printing what torch was built for and what the
card is, the second asking the driver library for the newest CUDA it supports:

    arch_list sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90
    capability 8.6                 ("none" when torch.cuda.is_available() is False)
    torch_cuda 12.1                ("None" for a CPU-only build)
    driver_cuda 12040              (cuDriverGetVersion: 1000 * major + 10 * minor)

`torch.cuda.get_arch_list()` is empty when CUDA is unavailable, so `arch_list` may be bare.
torch_arch_supported is True when the list holds `sm_XY` (or `sm_XYf`) of the card's major
version with a minor at or below the card's, `sm_XYa` of exactly the card's capability, or a
`compute_XY` PTX entry at or below the card's capability (the driver compiles PTX for newer
cards). It is False when CUDA is unusable (`capability none`), which is why it is read together
with torch_cuda_available. When the capability line is missing (the second print raised), it is
not reported: a failing query says nothing about the wheel's kernels.

torch_cuda_ahead_of_driver is True when torch's CUDA major release is above the driver's, which
minor version compatibility cannot bridge. It is False when either version is unknown (CPU
build, `libcuda.so.1` missing, the query failed): only a proven gap counts.

Nothing is reported when torch did not import (none of the first three lines is there), which is
also what `python3: not found` and a ModuleNotFoundError traceback give.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "torch_arch_supported": "bool",        # the wheel has kernels (or PTX) this card can run
    "torch_cuda_ahead_of_driver": "bool",  # torch's CUDA major release is newer than the driver's
}

_ARCH_LIST = re.compile(r"^arch_list(?:\s+(.*))?$")
_CAPABILITY = re.compile(r"^capability\s+(?:(\d+)\.(\d+)|(none))\s*$")
_TORCH_CUDA = re.compile(r"^torch_cuda\s+(\S+)\s*$")
_DRIVER = re.compile(r"^driver_cuda\s+(\d+)\s*$")
# sm_86, sm_90a, sm_100f, compute_90: the last digit is the minor version, the rest the major
_ARCH = re.compile(r"^(sm|compute)_(\d+)(\d)([af]?)$")


def _runs_on(arch: str, cap: tuple[int, int]) -> bool:
    m = _ARCH.match(arch)
    if not m:
        return False
    kind, major, minor, suffix = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
    if suffix == "a":  # architecture-specific code runs on that exact capability only
        return (major, minor) == cap
    if kind == "compute":  # PTX: compiled by the driver for this card or any newer one
        return (major, minor) <= cap
    return major == cap[0] and minor <= cap[1]  # SASS: same major version, same or lower minor


def parse(text: str) -> Observations:
    arch_line = cap_line = torch_line = driver_line = None
    for ln in content_lines(text):
        s = ln.strip()
        if _ARCH_LIST.match(s):
            arch_line = ln
        elif _CAPABILITY.match(s):
            cap_line = ln
        elif _TORCH_CUDA.match(s):
            torch_line = ln
        elif _DRIVER.match(s):
            driver_line = ln
    if arch_line is None and cap_line is None and torch_line is None:
        return {}  # torch did not import
    out: Observations = {}

    if cap_line is not None:
        m = _CAPABILITY.match(cap_line.strip())
        if m.group(3):  # "none": CUDA is unusable, so no kernel of the wheel can run
            out["torch_arch_supported"] = obs(False, cap_line)
        else:
            cap = (int(m.group(1)), int(m.group(2)))
            archs = (_ARCH_LIST.match(arch_line.strip()).group(1) or "").split() if arch_line else []
            if arch_line is not None:
                out["torch_arch_supported"] = obs(any(_runs_on(a, cap) for a in archs), arch_line)

    torch_major = None
    if torch_line is not None:
        m = re.match(r"^(\d+)\.\d+", _TORCH_CUDA.match(torch_line.strip()).group(1))
        torch_major = int(m.group(1)) if m else None
    driver_major = None
    if driver_line is not None:
        value = int(_DRIVER.match(driver_line.strip()).group(1))
        driver_major = value // 1000 if value > 0 else None  # 0: the query did not answer
    ahead = torch_major is not None and driver_major is not None and torch_major > driver_major
    known = torch_major is not None and driver_major is not None
    out["torch_cuda_ahead_of_driver"] = obs(ahead, (driver_line or "") if known else "")
    return out
