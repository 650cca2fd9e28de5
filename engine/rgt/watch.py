"""`rgt watch`: is the run alive, finished, stalled or dead, with the box's evidence for it.

One read-only batch per check (ps, gpu_holders, run_files), the same transports as diagnose. The
run is identified by `rgt.diagnose.run` from the login user's own processes (another user's
Python is never the run, nor is rgt's own batch, which the ps parser drops). The state:

- running: the run's process is alive and nothing has stopped advancing past its threshold;
- stalled: alive, but the log is silent, the GPU idle, or no new checkpoint came (`reasons` says which);
- finished: run_one.sh's completion marker (state/CELL.done, a `DURABLE OK` line) or its failure
  marker (state/CELL.failed with run_one.sh's exit status) is there and the process is gone;
- dead: gone without a completion marker; `next` holds the `rgt diagnose` to run;
- unknown: no run identified; `reasons` says what to pass.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .diagnose import run as runs
from .diagnose.observation import Observation

STATES = ("running", "stalled", "finished", "dead", "unknown")
PROBES = ("ps", "gpu_holders", "run_files")
_DURABLE_OK = re.compile(r"\bDURABLE OK\b")
_FAILED_EXIT = re.compile(r"\bexit=(\d+)\b")


@dataclass(frozen=True)
class Thresholds:
    log_silent_s: float = 900.0        # a training log that says nothing for 15 min is stuck
    checkpoint_stale_s: float = 3 * 3600.0  # no new checkpoint for 3 h
    gpu_idle_pct: int = 0              # the busiest GPU at or under this is idle


# ---------------------------------------------------------------- readings

def last_progress(lines: Sequence[str]) -> dict[str, Any] | None:
    """The last step and loss the log's tail shows (`step 120 loss 2.31`, `step=120, loss: 2.31`,
    `[120/5000] loss=2.31`). One function, so the training-log parsers can replace it whole."""
    step_re = re.compile(r"\b(?:global[_ ])?step\b\s*[=:]?\s*(\d+)|\[(\d+)\s*/\s*\d+\]", re.IGNORECASE)
    loss_re = re.compile(r"\bloss\b\s*[=:]?\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)", re.IGNORECASE)
    for line in reversed(lines):
        step, loss = step_re.search(line), loss_re.search(line)
        if step or loss:
            out: dict[str, Any] = {"line": line.strip()[:300]}
            if step:
                out["step"] = int(step.group(1) or step.group(2))
            if loss:
                out["loss"] = float(loss.group(1))
            return out
    return None


_SIDECARS = (".complete", ".sha256")
_TEMP = (".tmp", ".rgt-tmp")


def newest_checkpoint(entries: list[dict], now: int) -> dict[str, Any] | None:
    """The newest checkpoint whose `.complete` or `.sha256` sidecar exists (run_one.sh's rule: a
    sidecar is written only after the atomic rename; a tie on mtime goes to the later step), with
    its age on the box's clock. A run that writes no sidecars at all (a training script of its
    own) still shows its newest file, marked `complete: False`, so a run that saves every few
    minutes is not called stalled for want of a sidecar."""
    names = {e["name"] for e in entries}
    saved = [e for e in entries if not e["name"].endswith(_SIDECARS + _TEMP) and not e["name"].startswith("MANIFEST.")]
    complete = [e for e in saved if any(e["name"] + s in names for s in _SIDECARS)]
    pool = complete or saved
    if not pool:
        return None
    best = max(pool, key=lambda e: (e["mtime"], _by_number(e["name"])))
    return {"name": best["name"], "age_s": max(0, now - best["mtime"]), "bytes": best["size"], "line": best["line"],
            "complete": bool(complete)}


def _by_number(name: str) -> list:
    """A name as `sort -V` orders it (step_10 after step_9): how run_one.sh breaks an mtime tie."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def danger_clock(facts: dict[str, Any], box_age_h: float | None) -> dict[str, Any] | None:
    """The nearest clock that ends a run on this platform, counted from the box's start (PID 1's
    age: the container's inside one). Idle and release clocks need idleness or a stop, not time."""
    if box_age_h is None:
        return None
    clocks = [(k, float(facts[k])) for k in ("session_cap_h", "auto_shutdown_h") if facts.get(k)]
    if not clocks:
        return None
    name, hours = min(clocks, key=lambda kv: kv[1])
    left = hours - box_age_h
    words = name.removesuffix("_h").replace("_", "-")
    return {"name": name, "hours": hours, "left_h": round(left, 2),
            "text": f"{words} in {_duration(left * 3600)}" if left > 0 else f"{words} passed {_duration(-left * 3600)} ago"}


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


# ---------------------------------------------------------------- the state

def _own(observations: dict, sel: runs.Selector) -> dict:
    """The process table cut to the login user's processes: another user's Python is not the
    run. A --pid names the process whoever owns it."""
    if sel.pid or "processes" not in observations or "login_uid" not in observations:
        return observations
    uid = observations["login_uid"][1].value
    probe, table = observations["processes"]
    mine = [p for p in table.value if p["uid"] == uid]
    return {**observations, "processes": (probe, Observation(mine, table.line))}


def classify(host, sel: runs.Selector, limits: Thresholds, *, log: str | None, checkpoints: str | None,
             facts: dict[str, Any] | None, platform: str | None, where: list[str]) -> dict[str, Any]:
    """One host's state, from one batch's readings (a diagnose HostResult). WHERE is how the next
    `rgt diagnose` reaches the same box: `--host NAME`, or `--local` for this machine."""
    o = {k: v for k, v in host.observations.items()}
    found, note = runs.identify(_own(o, sel), sel)
    val = {k: v[1].value for k, v in o.items()}
    line = {k: v[1].line for k, v in o.items()}
    evidence: list[dict[str, str]] = []

    def cite(probe: str, text: str) -> None:
        if text and {"probe": probe, "line": text} not in evidence:
            evidence.append({"probe": probe, "line": text})

    now = val.get("box_now")
    out: dict[str, Any] = {"host": host.host, "box_time": now, "state": "unknown", "reasons": [], "run": note, "pid": None,
                           "elapsed_s": None, "progress": None, "log_age_s": val.get("log_age_s"),
                           "checkpoint": None, "durable_verified": None, "exit_code": None,
                           "danger_clock": None, "next": None, "evidence": evidence}
    identified = found.get("run_identified")
    alive = found.get("run_alive")
    if identified and identified.value:
        out["pid"] = int(identified.line.split()[0]) if identified.line.split()[0].isdigit() else None
        out["elapsed_s"] = found["run_age_s"].value if "run_age_s" in found else None
        cite("ps", identified.line)
    if "log_tail" in val:
        out["progress"] = last_progress(val["log_tail"])
    if "ckpt_entries" in val and now is not None:
        out["checkpoint"] = newest_checkpoint(val["ckpt_entries"], now)
    done = val.get("run_one_done")
    ok_line = next((ln for ln in reversed(val.get("log_tail", [])) if _DURABLE_OK.search(ln)), None)
    if done or ok_line:
        out["durable_verified"] = True
    if facts and "pid1_age_h" in val:
        out["danger_clock"] = danger_clock(facts, val["pid1_age_h"])
    for name in ("log_missing", "ckpt_missing"):
        if val.get(name):
            out["reasons"].append(line[name].replace("-missing", " not found:", 1))
            cite("run_files", line[name])

    if identified and identified.value:
        stalls = []
        if out["log_age_s"] is not None and out["log_age_s"] > limits.log_silent_s:
            stalls.append(f"log silent for {_duration(out['log_age_s'])} (threshold {_duration(limits.log_silent_s)})")
            cite("run_files", line.get("log_age_s", ""))
        if checkpoints and not val.get("ckpt_missing"):
            ck = out["checkpoint"]
            age = ck["age_s"] if ck else out["elapsed_s"]
            if age is not None and age > limits.checkpoint_stale_s:
                stalls.append(("no new checkpoint for " if ck else "no checkpoint in ")
                              + f"{_duration(age)} (threshold {_duration(limits.checkpoint_stale_s)})")
                if ck:
                    cite("run_files", ck["line"])
        util = val.get("gpu_util_max_pct")
        if util is not None and util <= limits.gpu_idle_pct:
            stalls.append(f"GPU idle ({util}% on the busiest GPU)")
            cite("run_files", line["gpu_util_max_pct"])
        out["state"] = "stalled" if stalls else "running"
        out["reasons"] = stalls + out["reasons"]
        if "log_tail" in val and val["log_tail"]:
            cite("run_files", val["log_tail"][-1])
        return out

    gone = alive is not None and alive.value is False
    if not gone and sel and o.get("processes_complete", ("", Observation(False)))[1].value and \
            not (identified and identified.value is False):
        gone = True  # the user named the run and the full table holds no such process
    gone = gone and bool(sel or log or checkpoints)  # with nothing named, no process is no evidence
    if done or ok_line or val.get("run_one_failed"):
        if gone or not (identified and identified.value is False):  # several runs: still say what ended
            failed = val.get("run_one_failed") if not (done or ok_line) else None
            code = int(m.group(1)) if failed and (m := _FAILED_EXIT.search(failed)) else (None if failed else 0)
            out.update(state="finished", exit_code=code)
            cite("run_files", line.get("run_one_done") or ok_line or line.get("run_one_failed", ""))
            out["reasons"].insert(0, "completed: durable copy verified" if code == 0
                                  else f"ended with run_one.sh exit {code}: {_exit_text(code)}")
            if code != 0:
                out["next"] = _diagnose_next(where, platform, log, sel, "run failed")
            return out
    if gone:
        out["state"] = "dead"
        out["reasons"].insert(0, f"{note}; no completion marker" + (f" beside {log}" if log else ""))
        cite("ps", alive.line if alive else note)
        if val.get("log_tail"):
            cite("run_files", val["log_tail"][-1])
        if line.get("log_age_s"):
            cite("run_files", line["log_age_s"])
        out["next"] = _diagnose_next(where, platform, log, sel, "training run died")
        return out
    hint = "pass --pid N, --match TEXT or --workdir DIR to name the run"
    out["reasons"].insert(0, note if "pass --" in note else f"{note or 'no run identified'}; {hint}")
    return out


def _exit_text(code: int | None) -> str:
    from .render.rendering import EXIT

    return next((text for c, text in EXIT.values() if c == code), "an exit status run_one.sh does not use")


def _diagnose_next(where: list[str], platform: str | None, log: str | None, sel: runs.Selector, words: str) -> dict:
    argv = ["rgt", "diagnose", words, *where]
    argv += ["--platform", platform] if platform else []
    argv += ["--pid", str(sel.pid)] if sel.pid else ["--match", sel.match] if sel.match else []
    argv += ["--workdir", sel.workdir] if sel.workdir else []
    return {"command": "rgt diagnose", "argv": argv, "line": shlex.join(argv)}


def summary(result: dict[str, Any]) -> str:
    """The state of all hosts in one word: the worst one."""
    order = ("dead", "stalled", "unknown", "finished", "running")
    states = [h["state"] for h in result["hosts"]]
    return next((s for s in order if s in states), "unknown")


def healthy(result: dict[str, Any]) -> bool:
    return all(h["state"] == "running" or (h["state"] == "finished" and h["exit_code"] == 0)
               for h in result["hosts"])


def check(index, transports: list, sel: runs.Selector, limits: Thresholds, *, log: str | None = None,
          checkpoints: str | None = None, profile=None, variant: str | None = None) -> list[dict[str, Any]]:
    """One read-only batch per host, each host's state."""
    from .diagnose.diagnosis import probe_hosts
    from .diagnose.transport import LocalTransport

    probes = [p for pid in PROBES if (p := index.probe(pid))]
    env = {k: v for k, v in (("RGT_LOG", log), ("RGT_CKPT", checkpoints)) if v}
    facts = profile.facts_for(variant if variant in profile.variants else None) if profile else None
    platform = profile.slug if profile else None
    out = []
    for transport, host in zip(transports, probe_hosts(transports, probes, sel.workdir, selector=sel, env=env),
                               strict=True):
        if host.error:
            out.append({"host": host.host, "state": "unknown", "error": host.error,
                        "reasons": [f"could not probe: {host.error}"], "evidence": []})
            continue
        where = ["--local"] if isinstance(transport, LocalTransport) else ["--host", host.host]
        out.append(classify(host, sel, limits, log=log, checkpoints=checkpoints, facts=facts, platform=platform,
                            where=where))
    return out
