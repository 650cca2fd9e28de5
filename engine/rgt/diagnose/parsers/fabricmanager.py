"""fabricmanager: the Fabric Manager unit's state, the NVSwitch count and each GPU's fabric State.

    fm=active                      first line of `systemctl is-active nvidia-fabricmanager`
    nvswitch=6                     entries under /proc/driver/nvidia-nvswitch/devices
    smi_rc=0                       exit status of `nvidia-smi -q`
            State                             : Completed      (one per GPU, from the Fabric block)

fabricmanager_state is the `fm=` word when it is one systemctl prints for a unit (active,
inactive, failed, activating, deactivating, reloading, refreshing, maintenance); anything else,
such as "System has not been booted with systemd as init system (PID 1). Can't operate." in a
container or "systemctl: command not found", gives "unknown". A unit that is not installed
reads "inactive".

nvswitch_count is 0 when the directory is missing (no nvswitch driver loaded, or /proc/driver not
shown inside a container), so it is read together with fabric_states.

fabric_states holds every GPU's fabric State except `N/A` (GPUs outside an NVLink fabric), in GPU
order; it is empty when nvidia-smi answered (smi_rc=0) and no GPU reports one. When nvidia-smi
failed, is missing or never finished, fabric_states is not reported: no answer is not "no fabric".
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "fabricmanager_state": "str",   # systemctl is-active word, or "unknown"
    "nvswitch_count": "int",
    "fabric_states": "list[str]",   # per GPU, N/A left out; e.g. Completed, In Progress
}

_UNIT_STATES = {"active", "inactive", "failed", "activating", "deactivating", "reloading",
                "refreshing", "maintenance", "unknown"}
_FM = re.compile(r"^fm=(.*)$")
_NVSWITCH = re.compile(r"^nvswitch=\s*(\d+)\s*$")
_SMI_RC = re.compile(r"^smi_rc=(\d+)\s*$")
_STATE = re.compile(r"^\s*State\s*:\s*(.+?)\s*$", re.IGNORECASE)


def parse(text: str) -> Observations:
    out: Observations = {}
    smi_rc: int | None = None
    smi_line = ""
    states: list[tuple[str, str]] = []
    for ln in content_lines(text):
        if (m := _FM.match(ln)) and "fabricmanager_state" not in out:
            word = m.group(1).strip()
            out["fabricmanager_state"] = obs(word if word in _UNIT_STATES else "unknown", ln)
        elif (m := _NVSWITCH.match(ln)) and "nvswitch_count" not in out:
            out["nvswitch_count"] = obs(int(m.group(1)), ln)
        elif m := _SMI_RC.match(ln):
            smi_rc, smi_line = int(m.group(1)), ln
        elif smi_rc is not None and (m := _STATE.match(ln)):
            states.append((m.group(1), ln))
    if smi_rc == 0:
        real = [(s, ln) for s, ln in states if s.upper() != "N/A"]
        line = next((ln for s, ln in real if s != "Completed"), real[0][1] if real else smi_line)
        out["fabric_states"] = obs([s for s, _ in real], line)
    return out
