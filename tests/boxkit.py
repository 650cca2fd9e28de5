"""A box in a temp dir for the render tests: a profile whose section 8 points into it, a fake
training command, and helpers that run the rendered scripts with real bash."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from rgt.kb import schema
from rgt.kb.model import Override, Profile
from rgt.render import parse_job, render_profile

# A training stand-in: STEPS steps (optional delay per step, 0 when FAST is set), one checkpoint
# per step written the way the contract asks, resuming from $RGT_RESUME, stopping at a step
# boundary when $RGT_STOP_FILE appears. Every start is recorded in starts.txt. @START@ reads the
# step to resume from, @SAVE@ writes step $s, @FINISH@ runs after the last step.
_FAKE = r"""#!/usr/bin/env bash
set -u
steps=${1:-3}
delay=${FAST:+0}
delay=${delay:-${2:-0}}
out=$RGT_CKPT_DIR
start=0
if [ -n "${RGT_RESUME:-}" ]; then
  start=$(@START@)
  echo "resumed from $RGT_RESUME at step $start"
else
  echo "fresh start at step 0"
fi
echo "$start" >>"$out/starts.txt"
s=$start
while [ "$s" -lt "$steps" ]; do
  s=$((s + 1))
  sleep "$delay"
@SAVE@
  echo "step $s"
  if [ -e "$RGT_STOP_FILE" ]; then
    echo "stop requested; saved step $s"
    exit 0
  fi
done
@FINISH@
echo "done at step $s"
"""


def _fake(start: str, save: str, finish: str = "") -> str:
    return _FAKE.replace("@START@", start).replace("@SAVE@", save).replace("@FINISH@", finish)


# One file per step: tmp, then rename, then the .sha256 sidecar, itself renamed into place: the
# tests take a sidecar's existence as "this step is saved", so it must never be seen half-written
# (run_one skips a half-written one, and a test that killed the run then would expect the step
# before). A best.pth at the end.
FAKE_TRAIN = _fake('head -n 1 "$RGT_RESUME"', r"""
  printf '%s\n%s\n' "$s" "payload for step $s of cell ${RGT_CELL}" >"$out/step_$s.pt.tmp"
  mv "$out/step_$s.pt.tmp" "$out/step_$s.pt"
  sha256sum "$out/step_$s.pt" >"$out/step_$s.pt.sha256.tmp"
  mv "$out/step_$s.pt.sha256.tmp" "$out/step_$s.pt.sha256"
""".strip("\n"), r"""
printf 'final\n' >"$out/best.pth"
""".strip("\n"))

# Saving the way Hugging Face's Trainer does: a directory checkpoint-N/ holding several files,
# written under a temporary name and renamed, then a sidecar next to it: an empty
# checkpoint-N.complete, or (SIDECAR=sha256) checkpoint-N.sha256 listing the files inside.
FAKE_TRAIN_DIRS = _fake('cat "$RGT_RESUME/trainer_state.txt"', r"""
  tmp="$out/tmp-checkpoint-$s"
  mkdir -p "$tmp/sub"
  printf 'weights of step %s\n' "$s" >"$tmp/model.safetensors"
  printf 'optimizer of step %s\n' "$s" >"$tmp/sub/optimizer.pt"
  echo "$s" >"$tmp/trainer_state.txt"
  mv "$tmp" "$out/checkpoint-$s"
  if [ "${SIDECAR:-}" = sha256 ]; then
    (cd "$out/checkpoint-$s" && sha256sum model.safetensors sub/optimizer.pt trainer_state.txt) >"$out/checkpoint-$s.sha256.tmp"
    mv "$out/checkpoint-$s.sha256.tmp" "$out/checkpoint-$s.sha256"
  else
    : >"$out/checkpoint-$s.complete"
  fi
""".strip("\n"))


def box_profile(root: Path, *, slug: str = "testbox", durable_dir: str = "", irreversible: bool = True,
                prune: str = "latest.pth *.tmp", cred_file: str = "", proxy_hook: str = "",
                detach: str = "nohup", onstart_limit: int | None = None, detach_primitive: str = "tmux",
                hf_endpoint: str = "", verb: str = "destroy") -> Profile:
    values = {
        "DATA_DIR": str(root / "data"), "DURABLE_DIR": durable_dir, "HF_HOME": str(root / "data" / "hf"),
        "HF_ENDPOINT": hf_endpoint, "PROXY_HOOK": proxy_hook, "PY": "python3", "DETACH": detach,
        "CRED_FILE": cred_file, "PRUNE": prune,
    }
    assert set(values) == set(schema.OVERRIDE_KEYS)
    facts = {"kind": "ssh-rental", "meter_stop_verb": verb, "meter_stop_irreversible": irreversible,
             "detach_primitive": detach_primitive, "onstart_limit_bytes": onstart_limit}
    return Profile(slug=slug, name=slug, file=f"profiles/{slug}.md", line=1, kind="ssh-rental", prefixes=["GEN"],
                   facts=facts, variants={}, sources=[], sections=[],
                   overrides={"default": {k: Override(v, "test", i + 1) for i, (k, v) in enumerate(values.items())}})


def job(root: Path, **over) -> object:
    data = {
        "name": "test job",
        "command": f"bash {root / 'fake_train.sh'} {{args}}",
        "checkpoint_pattern": "step_*.pt",
        "durable": str(root / "durable"),
        "queue": [{"name": "a", "args": "2"}, {"name": "b", "args": "3"}],
        "disk_floor_gb": 0, "inode_floor": 0,
    }
    data.update(over)
    return parse_job({k: v for k, v in data.items() if v is not None}, str(root / "job.yaml"))


def render_box(root: Path, profile: Profile | None = None, out: str = "out", **job_over) -> Path:
    (root / "fake_train.sh").write_text(FAKE_TRAIN)
    (root / "fake_train_dirs.sh").write_text(FAKE_TRAIN_DIRS)
    profile = profile or box_profile(root)
    files = render_profile(profile, None, job(root, **job_over))
    out_dir = root / out
    out_dir.mkdir(exist_ok=True)
    for name, text in files.items():
        (out_dir / name).write_text(text)
    return out_dir


def env(root: Path, **extra: str) -> dict:
    e = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "FAST", "HF_ENDPOINT", "HF_HOME")}
    e.update(HOME=str(root / "home"), **extra)
    return e


def run(script: Path, *args: str, root: Path, timeout: float = 30, input: str | None = None,
        **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script), *args], cwd=root, env=env(root, **extra), text=True,
                          capture_output=True, timeout=timeout, input=input)


def start(script: Path, *args: str, root: Path, **extra: str) -> subprocess.Popen:
    """Start a script in its own process group, so a test can kill -9 the whole tree."""
    proc = subprocess.Popen(["bash", str(script), *args], cwd=root, env=env(root, **extra), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    proc.rgt_root = root
    return proc


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL to the script's process group and to every process of its box: the command runs in
    a session of its own (setsid), so killing the group alone would leave it running."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    kill_box(proc.rgt_root)
    proc.communicate(timeout=10)  # reaps it and closes the pipe


def kill_box(root: Path) -> None:
    """A container restart: every process started with this box's environment dies, each with its
    whole process group at once, so a child forked meanwhile dies too; repeated until none is left."""
    home = f"HOME={root / 'home'}".encode()
    for _ in range(50):
        found = False
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if home not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
                pid = int(entry.name)
                found = True
                if os.getpgid(pid) != os.getpgrp():  # never this test run's own group
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
        if not found:
            return
        time.sleep(0.02)


def signal_when(proc: subprocess.Popen, ready, sig: int, what: str) -> str:
    """Send SIG to a started script once READY holds; the output of the run it ended. A script
    that does not end is killed, so a failing test leaves nothing running."""
    try:
        wait_for(ready, what=what)
        os.kill(proc.pid, sig)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            kill_tree(proc)
    return output


def wait_for(predicate, timeout: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def run_root(root: Path, name: str = "test-job") -> Path:
    return root / "data" / name


def procs_running(marker: str, script: str) -> list[int]:
    """Pids of bash processes running SCRIPT from a path containing MARKER."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = [a.decode(errors="replace") for a in argv]
        if any(script in a and marker in a for a in text):
            pids.append(int(entry.name))
    return pids


def session_procs(sid: int) -> list[int]:
    """Pids still in session SID: a script started with `start` and everything it left behind
    (nohup keeps the session; only setsid leaves it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after `pid (comm) `: state ppid pgrp session
        if int(fields[3]) == sid:
            pids.append(int(entry.name))
    return pids

