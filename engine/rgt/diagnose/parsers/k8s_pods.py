"""k8s_pods: `kubectl get pods -o json 2>&1` (a v1 List of Pods).

From each pod: status.phase; the reasons in status.reason (Evicted), in PodScheduled conditions
that are False (Unschedulable), and in every container's state.waiting / state.terminated /
lastState.terminated (ImagePullBackOff, CrashLoopBackOff, OOMKilled, Error, ...), init
containers included; restartCount summed over containers. Lists keep first-seen order without
repeats. An empty list of pods is a reading (no pods). kubectl warnings printed before the JSON
are skipped; output without a JSON object (no cluster, forbidden, kubectl missing) yields nothing.
"""
from __future__ import annotations

import json

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import obs

OBSERVES: dict[str, str] = {
    "k8s_reasons": "list[str]",
    "k8s_restarts": "int",        # sum of restartCount over all containers
    "k8s_phases": "list[str]",
}


def _document(text: str):
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if ln.startswith("{"):
            try:
                return json.loads("\n".join(lines[i:])), lines[i:]
            except ValueError:
                return None, []
    return None, []


def _line_with(lines: list[str], key: str, value) -> str:
    needle = f'"{key}": {json.dumps(value)}'
    return next((ln for ln in lines if needle in ln), "")


def parse(text: str) -> Observations:
    doc, lines = _document(text)
    if not isinstance(doc, dict):
        return {}
    pods = doc.get("items") if doc.get("kind") == "List" or "items" in doc else [doc]
    if not isinstance(pods, list):
        return {}
    phases: list[str] = []
    reasons: list[str] = []
    restarts = 0
    restart_line = ""

    def add(seq: list[str], value) -> None:
        if isinstance(value, str) and value and value not in seq:
            seq.append(value)

    for pod in pods:
        status = pod.get("status") or {}
        add(phases, status.get("phase"))
        add(reasons, status.get("reason"))
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                add(reasons, cond.get("reason"))
        containers = [*(status.get("initContainerStatuses") or []),
                      *(status.get("containerStatuses") or [])]
        for cs in containers:
            for state_key in ("state", "lastState"):
                state = cs.get(state_key) or {}
                for kind in ("waiting", "terminated"):
                    add(reasons, (state.get(kind) or {}).get("reason"))
            count = cs.get("restartCount") or 0
            if isinstance(count, int):
                restarts += count
                if count and not restart_line:
                    restart_line = _line_with(lines, "restartCount", count)

    return {
        "k8s_reasons": obs(reasons, _line_with(lines, "reason", reasons[0]) if reasons else ""),
        "k8s_restarts": obs(restarts, restart_line),
        "k8s_phases": obs(phases, _line_with(lines, "phase", phases[0]) if phases else ""),
    }
