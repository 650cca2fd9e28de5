"""torch_cuda: one torch import printing three lines, then the driver's own CUDA version:

    torch 2.4.0+cu121 cuda 12.1 available True   (CPU-only build: `cuda None`, no torch_cuda_version)
    arch_list sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90   (empty without CUDA)
    capability 8.6                                 ("none" when CUDA is not available)
    driver_cuda 12040                              (cuDriverGetVersion: 1000 * major + 10 * minor;
                                                    "none" when libcuda.so.1 cannot be loaded)

Warnings printed before them are ignored. A traceback ending in ModuleNotFoundError, ImportError
or OSError (a missing libcudart or libcudnn) means the import failed: torch_import_ok False.
Any other failure without the torch line, and "python3: not found", say nothing certain about
torch and yield nothing.

torch_arch_supported is True when the list holds `sm_XY` (or `sm_XYf`) of the card's major
version with a minor at or below the card's, `sm_XYa` of exactly the card's capability, or a
`compute_XY` PTX entry at or below the card's capability (the driver compiles PTX for newer
cards). It is False when CUDA is unusable (`capability none`), which is why it is read together
with torch_cuda_available; it is not reported when the capability line is missing (the query
raised), since a failing query says nothing about the wheel's kernels.

torch_cuda_ahead_of_driver is True when torch's CUDA major release is above the driver's, which
minor version compatibility cannot bridge; False when either version is unknown (CPU build, no
libcuda.so.1): only a proven gap counts.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "torch_import_ok": "bool",
    "torch_cuda_version": "float",         # CUDA version torch was built with
    "torch_cpu_build": "bool",             # the installed wheel has no CUDA at all (`cuda None`)
    "torch_cuda_available": "bool",
    "torch_arch_supported": "bool",        # the wheel has kernels (or PTX) this card can run
    "torch_cuda_ahead_of_driver": "bool",  # torch's CUDA major release is newer than the driver's
}

_TORCH = re.compile(r"^torch (\S+) cuda (\S+) available (True|False)\s*$")
_ARCH_LIST = re.compile(r"^arch_list(?:\s+(.*))?$")
_CAPABILITY = re.compile(r"^capability\s+(?:(\d+)\.(\d+)|(none))\s*$")
_DRIVER = re.compile(r"^driver_cuda\s+(\d+)\s*$")
# The import itself failed: no torch, or torch without a library it links (libcudart, libcudnn).
_FAIL = re.compile(r"^(?:ModuleNotFoundError|ImportError|OSError)\b")
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


def _first(lines: list[str], pattern: re.Pattern) -> tuple[str, re.Match] | tuple[str, None]:
    for ln in lines:
        m = pattern.match(ln.strip())
        if m:
            return ln, m
    return "", None


def parse(text: str) -> Observations:
    lines = content_lines(text)
    torch_line, torch_m = _first(lines, _TORCH)
    if torch_m is None:
        errors = [ln for ln in lines if _FAIL.match(ln.strip())]
        # e.g. ModuleNotFoundError: No module named 'torch'
        return {"torch_import_ok": obs(False, errors[-1])} if errors else {}

    out: Observations = {"torch_import_ok": obs(True, torch_line),
                         "torch_cuda_available": obs(torch_m.group(3) == "True", torch_line)}
    version = re.match(r"^(\d+)\.(\d+)$", torch_m.group(2))
    if version:
        out["torch_cuda_version"] = obs(float(version.group(0)), torch_line)
    out["torch_cpu_build"] = obs(torch_m.group(2) == "None", torch_line)

    cap_line, cap_m = _first(lines, _CAPABILITY)
    arch_line, arch_m = _first(lines, _ARCH_LIST)
    if cap_m is not None and cap_m.group(3):  # "none": CUDA is unusable, no kernel of the wheel runs
        out["torch_arch_supported"] = obs(False, cap_line)
    elif cap_m is not None and arch_m is not None:
        cap = (int(cap_m.group(1)), int(cap_m.group(2)))
        archs = (arch_m.group(1) or "").split()
        out["torch_arch_supported"] = obs(any(_runs_on(a, cap) for a in archs), arch_line)

    driver_line, driver_m = _first(lines, _DRIVER)
    driver_major = int(driver_m.group(1)) // 1000 if driver_m else 0  # 0: the query did not answer
    torch_major = int(version.group(1)) if version else 0
    known = torch_major > 0 and driver_major > 0
    out["torch_cuda_ahead_of_driver"] = obs(known and torch_major > driver_major, driver_line if known else "")
    return out
