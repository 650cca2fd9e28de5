"""`rgt watch` over the suite's real sshd: a fake trainer writes a log and checkpoints, and watch
follows it from running to stalled to finished, or to dead when it is killed; `--every --json`
prints each change once and `--on-change` hears each once; impostors are never the run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import run

RGT = str(Path(sys.executable).parent / "rgt")

# Writes `step N loss X` and a checkpoint with its sha256 sidecar every 0.2 s (no sidecar when
# started with `bare`, as a training script of one's own saves). A `pause` file
# makes it fall silent while alive; a `finish` file makes it end as run_one.sh does on success:
# the DURABLE OK line in the log, state/CELL.done beside it, exit 0.
TRAINER = """\
import hashlib, os, sys, time
root = sys.argv[1]
log, ckpt, state = f"{root}/logs/a.log", f"{root}/ckpt", f"{root}/state"
step = 0
while True:
    if os.path.exists(f"{root}/finish"):
        with open(log, "a") as f:
            f.write("2026-01-01T00:00:00Z [a] DURABLE OK a -> /durable/a: 2 files, 10 bytes, size and sha256 verified\\n")
        with open(f"{state}/a.done", "w") as f:
            f.write("2026-01-01T00:00:00Z /durable/a\\n")
        sys.exit(0)
    if not os.path.exists(f"{root}/pause"):
        step += 1
        with open(log, "a") as f:
            f.write(f"step {step} loss {2.0 / step:.4f}\\n")
        if step % 5 == 0:
            path = f"{ckpt}/step_{step}.pt"
            with open(path + ".tmp", "wb") as f:
                f.write(b"w" * 64)
            os.rename(path + ".tmp", path)
            if sys.argv[2:] == ["bare"]:
                continue
            with open(path + ".sha256", "w") as f:
                f.write(hashlib.sha256(b"w" * 64).hexdigest() + "  step_" + str(step) + ".pt\\n")
    time.sleep(0.2)
"""


@pytest.fixture
def trainer(tmp_path):
    """Start one fake trainer (in a session of its own, as nohup would) and return (process, root)."""
    procs = []

    def start(name: str = "trainer_watch.py", *args: str):
        root = tmp_path / f"run{len(procs)}"
        for d in ("logs", "ckpt", "state"):
            (root / d).mkdir(parents=True)
        script = root / name
        script.write_text(TRAINER)
        p = subprocess.Popen([sys.executable, str(script), str(root), *args], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        _until(lambda: (root / "logs" / "a.log").exists() and list((root / "ckpt").glob("*.pt")))
        return p, root
    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def _until(cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _watch(sshd_server, root: Path, *extra: str) -> list[str]:
    return [RGT, "watch", "--host", "rgt-box", "--ssh-config", str(sshd_server.config), "--match", "trainer_watch.py",
            "--log", str(root / "logs" / "a.log"), "--checkpoints", str(root / "ckpt"), "--log-silent", "2", *extra]


def _once(sshd_server, root: Path) -> tuple[int, dict]:
    done = subprocess.run(_watch(sshd_server, root, "--json"), capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout  # one check: one JSON line
    return done.returncode, json.loads(lines[0])["hosts"][0]


def test_running_then_stalled_then_finished(sshd_server, trainer):
    proc, root = trainer()
    rc, h = _once(sshd_server, root)
    assert (rc, h["state"]) == (0, "running"), h
    assert h["pid"] == proc.pid
    assert h["progress"]["step"] >= 1 and "loss" in h["progress"]
    assert h["checkpoint"]["name"].startswith("step_") and h["checkpoint"]["age_s"] < 30
    assert any(str(proc.pid) in e["line"] and e["probe"] == "ps" for e in h["evidence"])

    (root / "pause").touch()
    time.sleep(3)
    rc, h = _once(sshd_server, root)
    assert (rc, h["state"]) == (1, "stalled"), h
    assert any(r.startswith("log silent") for r in h["reasons"]), h["reasons"]

    (root / "finish").touch()
    proc.wait(timeout=10)
    rc, h = _once(sshd_server, root)
    assert (rc, h["state"]) == (0, "finished"), h
    assert h["exit_code"] == 0 and h["durable_verified"] is True
    assert any("DURABLE OK" in e["line"] or "a.done" in e["line"] or "/durable/a" in e["line"] for e in h["evidence"])


def test_a_run_that_writes_no_sidecars_shows_its_newest_checkpoint_and_is_not_stalled(sshd_server, trainer):
    """A training script of one's own saves step_N.pt with no sidecar: watch names the newest file,
    marked incomplete, and times staleness from it instead of calling a saving run stalled."""
    proc, root = trainer("trainer_watch.py", "bare")
    time.sleep(5)  # longer than the stale threshold below: the run has saved every second since it began
    before = max(int(q.stem[5:]) for q in root.joinpath("ckpt").glob("step_*.pt"))
    done = subprocess.run(_watch(sshd_server, root, "--json", "--checkpoint-stale", "4"), capture_output=True,
                          text=True, timeout=60)
    h = json.loads(done.stdout)["hosts"][0]
    assert (done.returncode, h["state"]) == (0, "running"), h
    assert h["checkpoint"]["name"].startswith("step_") and h["checkpoint"]["complete"] is False, h["checkpoint"]
    assert int(h["checkpoint"]["name"][5:-3]) >= before  # the newest file, at least as new as before the check
    (root / "pause").touch()
    time.sleep(5)
    done = subprocess.run(_watch(sshd_server, root, "--json", "--checkpoint-stale", "4"), capture_output=True,
                          text=True, timeout=60)
    h = json.loads(done.stdout)["hosts"][0]
    assert h["state"] == "stalled" and any(r.startswith("no new checkpoint for") for r in h["reasons"]), h


def test_killed_is_dead_with_evidence_and_the_diagnose_to_run(sshd_server, trainer):
    proc, root = trainer()
    proc.kill()
    proc.wait()
    rc, h = _once(sshd_server, root)
    assert (rc, h["state"]) == (1, "dead"), h
    assert "no completion marker" in h["reasons"][0]
    assert any(e["line"].startswith("step ") for e in h["evidence"]), h["evidence"]  # the log's last word
    assert h["next"]["argv"][:2] == ["rgt", "diagnose"] and "--match" in h["next"]["argv"]


def _json_lines(text: str) -> list[dict]:
    out, dec, i = [], json.JSONDecoder(), 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        obj, i = dec.raw_decode(text, i)
        out.append(obj)
    return out


def _follow(sshd_server, root: Path, tmp_path: Path):
    heard = tmp_path / f"heard-{root.name}.txt"
    heard.touch()
    cmd = _watch(sshd_server, root, "--every", "0.3", "--json", "--on-change", f"cat >> {heard}")
    watcher = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return watcher, heard


def _states(heard: Path) -> list[str]:
    return [o["hosts"][0]["state"] for o in _json_lines(heard.read_text())]


def test_every_prints_each_transition_once_and_on_change_hears_each_once(sshd_server, trainer, tmp_path):
    proc, root = trainer()
    watcher, heard = _follow(sshd_server, root, tmp_path)
    try:
        _until(lambda: _states(heard) == ["running"], 30)
        (root / "pause").touch()
        _until(lambda: _states(heard)[-1:] == ["stalled"], 30)
        time.sleep(1)  # several more checks while stalled: nothing new is printed or heard
        (root / "finish").touch()
        _until(lambda: _states(heard)[-1:] == ["finished"], 30)
        time.sleep(1)
    finally:
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=20)
    printed = [json.loads(line)["hosts"][0]["state"] for line in out.splitlines()]
    assert printed == ["running", "stalled", "finished"], (printed, err)
    assert _states(heard) == ["running", "stalled", "finished"]


def test_every_reports_a_killed_run_as_dead_once(sshd_server, trainer, tmp_path):
    proc, root = trainer()
    watcher, heard = _follow(sshd_server, root, tmp_path)
    try:
        _until(lambda: _states(heard) == ["running"], 30)
        proc.kill()
        _until(lambda: _states(heard)[-1:] == ["dead"], 30)
        time.sleep(1)
    finally:
        watcher.send_signal(signal.SIGINT)
        out, _ = watcher.communicate(timeout=20)
    assert [json.loads(line)["hosts"][0]["state"] for line in out.splitlines()] == ["running", "dead"]
    assert _states(heard) == ["running", "dead"]
    assert _json_lines(heard.read_text())[-1]["hosts"][0]["next"]["command"] == "rgt diagnose"


def test_a_grep_a_jupyter_server_and_another_users_python_are_never_the_run(sshd_server, trainer, tmp_path):
    """All three carry the run's script name in their command lines; started before the trainer,
    they have lower pids, so a watcher that took any of them would name it."""
    jupyter = tmp_path / "jupyter-lab"
    jupyter.write_text("import time\ntime.sleep(60)\n")
    impostors = [
        subprocess.Popen("sleep 60 | grep trainer_watch.py", shell=True, start_new_session=True),
        subprocess.Popen([sys.executable, str(jupyter), "--notebook-dir", "trainer_watch.py"], start_new_session=True),
        subprocess.Popen(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", sys.executable, "-c",
                          "import time; time.sleep(60)", "trainer_watch.py"], cwd="/", start_new_session=True),
    ]
    try:
        time.sleep(0.5)
        root = tmp_path / "none"
        (root / "logs").mkdir(parents=True)
        (root / "ckpt").mkdir()
        rc, h = _once(sshd_server, root)
        assert (rc, h["state"]) == (1, "dead"), h  # nothing of ours matches: the named run is gone
        assert h["pid"] is None
        quoted = [e for e in h["evidence"] if any(e["line"].lstrip().startswith(f"{p.pid} ") for p in impostors)]
        assert not quoted and h["run"] == "no process matches --match 'trainer_watch.py'", h
        proc, root = trainer()
        rc, h = _once(sshd_server, root)
        assert (rc, h["state"], h["pid"]) == (0, "running", proc.pid), h
    finally:
        for p in impostors:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def test_unknown_says_what_to_pass(capsys, tmp_path):
    from test_diagnose import capture
    cap = capture(tmp_path / "cap.json", {"run_files": "now 1000 uid 0"})
    r = run(capsys, "watch", "--capture", str(cap), "--json")
    assert r.code == 1
    h = r.json()["hosts"][0]
    assert h["state"] == "unknown" and "--pid" in h["reasons"][0]


def test_a_mistake_is_one_line(capsys):
    r = run(capsys, "watch", "--local", "--count", "2")
    assert r.code == 2 and r.err.count("\n") == 1 and "--every" in r.err


def test_last_progress_and_newest_complete_checkpoint():
    from rgt.watch import danger_clock, last_progress, newest_checkpoint
    assert last_progress(["epoch 1", "step=120, loss: 2.31", "saving"]) == \
        {"line": "step=120, loss: 2.31", "step": 120, "loss": 2.31}
    assert last_progress(["[300/5000] loss=1e-3"])["step"] == 300
    assert last_progress(["nothing here"]) is None
    entries = [{"name": "s2.pt", "mtime": 90, "size": 1, "line": "b"},  # no sidecar yet: still being written
               {"name": "s1.pt", "mtime": 50, "size": 1, "line": "a"},
               {"name": "s1.pt.complete", "mtime": 51, "size": 0, "line": "c"}]
    assert newest_checkpoint(entries, 100)["name"] == "s1.pt"
    assert newest_checkpoint(entries, 100)["age_s"] == 50
    assert newest_checkpoint(entries, 100)["complete"] is True
    # no sidecars anywhere: the newest saved file, marked incomplete; temp files never count
    bare = [{"name": "s1.pt", "mtime": 50, "size": 1, "line": "a"}, {"name": "s3.pt.tmp", "mtime": 95, "size": 1, "line": "t"},
            {"name": "s2.pt", "mtime": 90, "size": 1, "line": "b"}]
    assert newest_checkpoint(bare, 100) == {"name": "s2.pt", "age_s": 10, "bytes": 1, "line": "b", "complete": False}
    assert newest_checkpoint([bare[1]], 100) is None
    # two saves in one second: the later step, as run_one.sh resumes from it (checkpoints.sh `later`)
    same = [{"name": n, "mtime": 70, "size": 1, "line": n} for n in ("step_10.pt", "step_9.pt", "step_9.pt.complete",
                                                                       "step_10.pt.complete")]
    assert newest_checkpoint(same, 100)["name"] == "step_10.pt"
    assert newest_checkpoint(list(reversed(same)), 100)["name"] == "step_10.pt"
    clock = danger_clock({"auto_shutdown_h": 6, "session_cap_h": 12}, 3.5)
    assert clock["name"] == "auto_shutdown_h" and clock["text"] == "auto-shutdown in 2 h 30 min"


def test_a_dead_run_on_this_machine_names_a_diagnose_for_this_machine(capsys, tmp_path):
    """`watch --local` found no run: the diagnose it proposes must read this machine (--local),
    not ssh to a host called localhost."""
    r = run(capsys, "watch", "--local", "--match", "no-such-trainer-rgt", "--checkpoints", str(tmp_path / "none"),
            "--json")
    h = r.json()["hosts"][0]
    assert h["state"] == "dead", h
    assert h["next"]["argv"][:4] == ["rgt", "diagnose", "training run died", "--local"], h["next"]
    assert "--host" not in h["next"]["argv"]
