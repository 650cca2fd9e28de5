"""The rendered scripts, run with real bash in a temp dir against a fake training command that writes
numbered checkpoints atomically (tests/boxkit.py): resume after kill -9, the verified durable copy,
the space gates, quoting, secrets, the copy-out gate, the boot hook and the Slurm trap."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rgt.render import EXIT_CODES as EXIT

import boxkit
from boxkit import box_profile, kill_tree, render_box, run, run_root, signal_when, start, wait_for

VERIFY = Path(__file__).resolve().parent.parent / "scripts" / "verify_local.py"


def starts(root: Path, cell: str) -> list[int]:
    f = run_root(root) / "checkpoints" / cell / "starts.txt"
    return [int(x) for x in f.read_text().split()] if f.exists() else []


def ckpts(root: Path, cell: str) -> list[str]:
    d = run_root(root) / "checkpoints" / cell
    return sorted(p.name for p in d.glob("step_*.pt"))


BOX_TOOLS = ("bash", "cat", "cut", "date", "df", "dirname", "find", "head", "kill", "ls", "mkdir", "mv", "rm", "sha256sum",
             "sleep", "sort", "stat", "sync", "uname", "du", "cp", "touch", "printf", "tr", "flock", "setsid")


def box_path(bindir: Path, leave_out: tuple[str, ...] = ()) -> str:
    """A PATH holding only what a box is promised: bash, coreutils, util-linux."""
    for tool in BOX_TOOLS:
        if tool not in leave_out and shutil.which(tool):
            os.symlink(shutil.which(tool), bindir / tool)
    return str(bindir)


def verify(*dirs: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(VERIFY), *map(str, dirs)], capture_output=True, text=True)


def test_queue_runs_every_cell_copies_verifies_and_prunes(tmp_path):
    out = render_box(tmp_path, box_profile(tmp_path, prune="step_*.pt *.tmp"))
    r = run(out / "run_queue.sh", root=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1].endswith("QUEUE DONE ok=2 failed=0 skipped=0")
    for cell, last in (("a", 2), ("b", 3)):
        dst = tmp_path / "durable" / cell
        assert f"DURABLE OK {cell} -> {dst}" in r.stdout
        assert {p.name for p in dst.iterdir()} == {f"step_{last}.pt", f"step_{last}.pt.sha256", "best.pth",
                                                   "starts.txt", "MANIFEST.sha256", "MANIFEST.sizes"}
        assert subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=dst, capture_output=True).returncode == 0
        assert ckpts(tmp_path, cell) == []  # rolling checkpoints pruned only after the verified copy
        assert (run_root(tmp_path) / "state" / f"{cell}.done").exists()
        log = (run_root(tmp_path) / "logs" / f"{cell}.log").read_text()
        assert log.index("DURABLE OK") < log.index("pruned step_")
    v = verify(tmp_path / "durable")
    assert v.returncode == 0 and v.stdout.splitlines()[-1] == "VERIFIED 8 file(s) in 2 manifest(s)"
    (tmp_path / "durable" / "b" / "step_3.pt").write_text("3\ncorrupted\n")
    v = verify(tmp_path / "durable")
    assert v.returncode == 1 and sum(line.startswith(("SHA256", "SIZE")) for line in v.stdout.splitlines()) == 1

    again = run(out / "run_queue.sh", root=tmp_path)  # a rerun skips both and runs nothing
    assert again.returncode == 0
    assert again.stdout.splitlines()[-1].endswith("QUEUE DONE ok=0 failed=0 skipped=2")
    assert starts(tmp_path, "a") == [0] and starts(tmp_path, "b") == [0]


def test_kill_9_mid_cell_then_rerun_skips_done_cells_and_resumes_from_last_complete_checkpoint(tmp_path):
    out = render_box(tmp_path, queue=[{"name": "a", "args": "2"}, {"name": "b", "args": "40 0.1"},
                                      {"name": "c", "args": "2"}])
    ckdir = run_root(tmp_path) / "checkpoints" / "b"
    proc = start(out / "run_queue.sh", root=tmp_path)
    wait_for(lambda: (ckdir / "step_4.pt.sha256").exists(), what="cell b's fourth checkpoint")
    kill_tree(proc)  # SIGKILL to the queue, run_one.sh and the command: no trap runs
    last = max(int(p.name[5:-10]) for p in ckdir.glob("step_*.pt.sha256"))
    assert 4 <= last < 40
    # The kill can leave a half-written save; add the kinds of debris a crash leaves behind.
    (ckdir / f"step_{last + 1}.pt.tmp").write_text("half")
    (ckdir / f"step_{last + 50}.pt").write_text(f"{last + 50}\n")  # renamed, sidecar never written
    (ckdir / f"step_{last + 60}.pt").write_text(f"{last + 60}\n")  # sidecar that does not match
    (ckdir / f"step_{last + 60}.pt.sha256").write_text("0" * 64 + "  step.pt\n")
    assert (run_root(tmp_path) / "state" / "queue.flock").exists()  # left by the dead runner, unheld

    r = run(out / "run_queue.sh", root=tmp_path, FAST="1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SKIP a: done in an earlier run" in r.stdout
    assert r.stdout.splitlines()[-1].endswith("QUEUE DONE ok=2 failed=0 skipped=1")
    assert starts(tmp_path, "a") == [0]                 # a was not run again
    assert starts(tmp_path, "b") == [0, last]           # b resumed from its last complete checkpoint
    assert starts(tmp_path, "c") == [0]
    log = (run_root(tmp_path) / "logs" / "b.log").read_text()
    assert f"resuming from {ckdir}/step_{last}.pt" in log
    assert f"skipping incomplete checkpoint step_{last + 60}.pt" in log
    assert f"skipping incomplete checkpoint step_{last + 50}.pt" in log
    assert f"removed unfinished step_{last + 1}.pt.tmp" in log
    assert (tmp_path / "durable" / "b" / "step_40.pt").exists()


def test_a_failing_cell_does_not_stop_the_rest_and_is_retried_on_rerun(tmp_path):
    out = render_box(tmp_path, command=f"test -e {tmp_path}/fixed || [ {{cell}} != a ] || exit 3; "
                                       f"bash {tmp_path}/fake_train.sh {{args}}")
    r = run(out / "run_queue.sh", root=tmp_path)
    assert r.returncode == 1
    assert "CELL FAILED a: exit 6" in r.stdout and "CELL OK b" in r.stdout
    assert r.stdout.splitlines()[-1].endswith("QUEUE DONE ok=1 failed=1 skipped=0")
    assert "the command exited 3" in (run_root(tmp_path) / "state" / "a.failed").read_text()
    (tmp_path / "fixed").touch()
    r = run(out / "run_queue.sh", root=tmp_path)
    assert r.returncode == 0 and r.stdout.splitlines()[-1].endswith("QUEUE DONE ok=1 failed=0 skipped=1")
    assert not (run_root(tmp_path) / "state" / "a.failed").exists()


@pytest.mark.parametrize("how", ["parent-is-a-file", "disk-full", "copy-lies"])
def test_durable_copy_that_fails_prints_no_success_and_keeps_the_local_checkpoint(tmp_path, how):
    extra = {}
    durable = tmp_path / "durable"
    if how == "parent-is-a-file":  # mkdir -p fails: ENOTDIR, as on a missing or wrong mount
        (tmp_path / "x").mkdir()
        (tmp_path / "x" / "file").write_text("not a directory")
        durable = tmp_path / "x" / "file" / "sub"
    elif how == "disk-full":  # every write to the copy fails with ENOSPC, like a full volume
        for cell, last in (("a", 2), ("b", 3)):
            (durable / cell).mkdir(parents=True)
            os.symlink("/dev/full", durable / cell / f".step_{last}.pt.rgt-tmp")
    else:  # cp exits 0 but writes a short file (U33): only the comparison can catch it
        bindir = tmp_path / "bin"
        bindir.mkdir()
        (bindir / "cp").write_text('#!/bin/bash\nsrc=${@: -2:1}; dst=${@: -1}\nhead -c 3 "$src" >"$dst"\n')
        (bindir / "cp").chmod(0o755)
        extra["PATH"] = f"{bindir}:{os.environ['PATH']}"
    out = render_box(tmp_path, box_profile(tmp_path, prune="step_*.pt"), durable=str(durable))
    r = run(out / "run_queue.sh", root=tmp_path, **extra)
    assert r.returncode == 1, r.stdout
    assert "DURABLE OK" not in r.stdout
    assert r.stdout.splitlines()[-1].endswith("QUEUE DONE ok=0 failed=2 skipped=0")
    for cell, last in (("a", 2), ("b", 3)):
        assert f"CELL FAILED {cell}: exit {EXIT['durable_failed']}" in r.stdout
        failed = (run_root(tmp_path) / "state" / f"{cell}.failed").read_text()
        assert "DURABLE FAIL" in failed and "local checkpoint kept" in failed
        assert f"step_{last}.pt" in ckpts(tmp_path, cell)  # nothing pruned
        assert not (run_root(tmp_path) / "state" / f"{cell}.done").exists()
    log = (run_root(tmp_path) / "logs" / "b.log").read_text()
    reason = {"parent-is-a-file": "Not a directory", "disk-full": "No space left on device",
              "copy-lies": "size mismatch for"}[how]
    assert reason in log

    # Fix the target and rerun: only the copy is retried, the command does not run again.
    if how == "parent-is-a-file":
        (tmp_path / "x" / "file").unlink()
    elif how == "disk-full":
        for p in durable.glob("*/.*.rgt-tmp"):
            p.unlink()
    r = run(out / "run_queue.sh", root=tmp_path)
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines()[-1].endswith("QUEUE DONE ok=2 failed=0 skipped=0")
    assert "retrying the durable copy only" in r.stdout
    assert starts(tmp_path, "a") == [0] and starts(tmp_path, "b") == [0]
    assert verify(durable).returncode == 0


@pytest.mark.parametrize("floor,code,word", [
    ({"disk_floor_gb": 10**9}, "disk_floor", "DISK_GATE_ABORT"),
    ({"inode_floor": 10**15}, "inode_floor", "INODE_GATE_ABORT"),
])
def test_space_gate_aborts_before_the_run(tmp_path, floor, code, word):
    if code == "inode_floor":
        line = subprocess.run(["df", "-P", "-i", str(tmp_path)], capture_output=True, text=True).stdout.splitlines()[-1]
        if not line.split()[3].isdigit():
            pytest.skip("this filesystem reports no inode counts")
    out = render_box(tmp_path, **floor)
    r = run(out / "run_one.sh", "a", root=tmp_path)
    assert r.returncode == EXIT[code]
    log = (run_root(tmp_path) / "logs" / "a.log").read_text()
    assert word in log and "run not started" in log
    assert starts(tmp_path, "a") == [] and "START a" not in log
    q = run(out / "run_queue.sh", root=tmp_path)
    assert q.returncode == 1 and f"CELL FAILED a: exit {EXIT[code]}" in q.stdout


def test_name_and_command_with_shell_metacharacters_are_inert_and_exact(tmp_path):
    pwned = tmp_path / "pwned"
    name = f"""my "job" 'x' $(touch {pwned}) `touch {pwned}2` ${{HOME}} ; rm -rf /nonexistent &"""
    command = (f"""printf '[%s]' "a  b" 'c"d' '$(touch {pwned}3)' "it's" > "$RGT_CKPT_DIR/argv.txt"; """
               f"""echo "$(echo sub)" `echo tick` > "$RGT_CKPT_DIR/expanded.txt"; bash {tmp_path}/fake_train.sh 1""")
    out = render_box(tmp_path, name=name, command=command, queue=[{"name": "a", "args": ""}])
    for f in out.iterdir():
        text = f.read_text()
        if f.suffix == ".sh":
            assert subprocess.run(["bash", "-n", str(f)]).returncode == 0
    r = run(out / "run_queue.sh", root=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    slug_dir = next((tmp_path / "data").iterdir())
    ck = slug_dir / "checkpoints" / "a"
    assert (ck / "argv.txt").read_text() == f"""[a  b][c"d][$(touch {pwned}3)][it's]"""
    assert (ck / "expanded.txt").read_text() == "sub tick\n"  # the command runs exactly as written
    assert not pwned.exists() and not Path(f"{pwned}2").exists() and not Path(f"{pwned}3").exists()
    assert f"=== {name}, cell a" in r.stdout  # the name is printed verbatim, never run
    del text


def test_secrets_from_env_file_or_stdin_never_in_files_or_logs(tmp_path):
    value = "s3cr3t-value-42"
    digest = hashlib.sha256(value.encode()).hexdigest()  # the command checks the key without naming it
    check = (f'[ "$(printf %s "$WANDB_API_KEY" | sha256sum | cut -d" " -f1)" = {digest} ] && '
             f'echo key-ok >"$RGT_CKPT_DIR/key.txt"; bash {tmp_path}/fake_train.sh 1')
    out = render_box(tmp_path, command=check, secrets=["WANDB_API_KEY"], queue=[{"name": "a"}])

    missing = run(out / "run_queue.sh", root=tmp_path)
    assert missing.returncode == EXIT["secret_missing"]
    assert "SECRET MISSING: WANDB_API_KEY is not set" in missing.stdout
    assert starts(tmp_path, "a") == []  # nothing ran
    assert run(out / "run_one.sh", "a", root=tmp_path).returncode == EXIT["secret_missing"]

    r = run(out / "run_queue.sh", root=tmp_path, WANDB_API_KEY=value)
    assert r.returncode == 0, r.stdout
    assert (run_root(tmp_path) / "checkpoints" / "a" / "key.txt").read_text() == "key-ok\n"

    for p in (run_root(tmp_path) / "state").glob("*"):
        p.unlink() if p.is_file() else None
    r = run(out / "run_queue.sh", "--secrets-stdin", root=tmp_path, input=f"OTHER=x\nWANDB_API_KEY={value}\n")
    assert r.returncode == 0, r.stdout

    cred = tmp_path / "cred"
    cred.write_text(f"export OTHER=1\nWANDB_API_KEY='{value}'\n")
    cred.chmod(0o600)
    out2 = render_box(tmp_path, box_profile(tmp_path, cred_file=str(cred)), out="out2", command=check,
                      secrets=["WANDB_API_KEY"], queue=[{"name": "a2"}])
    r = run(out2 / "run_queue.sh", root=tmp_path)
    assert r.returncode == 0, r.stdout
    assert (run_root(tmp_path) / "checkpoints" / "a2" / "key.txt").read_text() == "key-ok\n"

    for f in list(out.iterdir()) + list(out2.iterdir()) + [p for p in (tmp_path / "data").rglob("*") if p.is_file()]:
        assert value not in f.read_text(errors="replace"), f


def test_copy_out_gate_when_the_only_copy_dies_with_the_meter_stop(tmp_path):
    out = render_box(tmp_path, box_profile(tmp_path, irreversible=True, prune="step_*.pt"), durable="")
    r = run(out / "run_queue.sh", root=tmp_path)
    assert r.returncode == 1
    assert "DURABLE OK" not in r.stdout
    assert "COPY-OUT REQUIRED before destroy" in r.stdout
    assert r.stdout.splitlines()[-1].endswith("QUEUE DONE ok=0 failed=2 skipped=0")
    ck = run_root(tmp_path) / "checkpoints" / "b"
    assert ckpts(tmp_path, "b") == ["step_1.pt", "step_2.pt", "step_3.pt"]  # nothing pruned
    assert verify(ck).returncode == 0  # the manifest is ready for the pull
    r = run(out / "run_queue.sh", root=tmp_path)  # a rerun does not train again
    assert starts(tmp_path, "b") == [0] and "COPY-OUT REQUIRED" in r.stdout

    (tmp_path / "keep").mkdir()
    out = render_box(tmp_path / "keep", box_profile(tmp_path / "keep", irreversible=False, verb="shut-down"), durable="")
    r = run(out / "run_queue.sh", root=tmp_path / "keep")
    assert r.returncode == 0 and "COPY-OUT" not in r.stdout and "LOCAL ONLY b" in r.stdout


def test_profile_values_reach_the_command_and_empty_stays_empty(tmp_path):
    hook = 'export VIA_HOOK="proxy on"; export HF_HUB_DISABLE_XET=1'
    show = (f'printf "%s|" "$VIA_HOOK" "${{HF_ENDPOINT-unset}}" "$HF_HOME" "$PYTHONUNBUFFERED" "$PY" "$SEED" '
            f'> "$RGT_CKPT_DIR/env.txt"; bash {tmp_path}/fake_train.sh 1')
    out = render_box(tmp_path, box_profile(tmp_path, proxy_hook=hook), command=show,
                     queue=[{"name": "a", "env": {"SEED": "7"}}])
    r = run(out / "run_queue.sh", root=tmp_path, HF_ENDPOINT_X="x")
    assert r.returncode == 0, r.stdout
    env_line = (run_root(tmp_path) / "checkpoints" / "a" / "env.txt").read_text()
    assert env_line == f"proxy on|unset|{tmp_path}/data/hf|1|python3|7|"
    assert "\nHF_ENDPOINT=''\n" in (out / "run_one.sh").read_text()


def test_boot_hook_relaunches_once_and_resumes(tmp_path):
    profile = box_profile(tmp_path, onstart_limit=16384, detach="onstart")
    out = render_box(tmp_path, profile, queue=[{"name": "a", "args": "40 0.1"}])
    assert (out / "onstart.sh").stat().st_size <= 16384
    ckdir = run_root(tmp_path) / "checkpoints" / "a"
    first = run(out / "onstart.sh", root=tmp_path)
    assert first.returncode == 0 and "queue started" in first.stdout
    try:
        wait_for(lambda: (ckdir / "step_2.pt.sha256").exists(), what="first checkpoints")
        # The hook fires twice. It runs in a session of its own, so once that session is empty,
        # everything it started has ended: a second queue would have logged QUEUE START (or, refused
        # by the lock, QUEUE ALREADY RUNNING) in queue.log, or would still be running.
        hook = start(out / "onstart.sh", root=tmp_path)
        said, _ = hook.communicate(timeout=20)
        assert hook.returncode == 0 and "queue already running" in said
        wait_for(lambda: not boxkit.session_procs(hook.pid), what="whatever the second hook started to end")
        qtext = (run_root(tmp_path) / "logs" / "queue.log").read_text()
        assert qtext.count("QUEUE START") == 1 and "QUEUE ALREADY RUNNING" not in qtext, qtext
        runners = boxkit.procs_running(str(out), "run_queue.sh")
        assert len(runners) == 1, runners
        detach = run(out / "run_queue.sh", "--detach", root=tmp_path)
        assert "QUEUE ALREADY RUNNING" in detach.stdout
        # A container restart: everything dies at once, then the hook runs again.
        kill_everything_under(tmp_path)
        wait_for(lambda: not boxkit.procs_running(str(out), "run_queue.sh"), what="the kill")
        last = max(int(p.name[5:-10]) for p in ckdir.glob("step_*.pt.sha256"))
        third = run(out / "onstart.sh", root=tmp_path, FAST="1")
        assert "queue started" in third.stdout
        qlog = run_root(tmp_path) / "logs" / "queue.log"
        wait_for(lambda: "QUEUE DONE" in qlog.read_text(), what="the relaunched queue to finish")
        assert qlog.read_text().splitlines()[-1].endswith("QUEUE DONE ok=1 failed=0 skipped=0")
        assert starts(tmp_path, "a") == [0, last]
    finally:
        kill_everything_under(tmp_path)



kill_everything_under = boxkit.kill_box


def test_slurm_usr1_sets_the_flag_checkpoints_and_requeues(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "scontrol").write_text(f'#!/bin/bash\necho "$@" >>{tmp_path}/scontrol.calls\n')
    (bindir / "scontrol").chmod(0o755)
    profile = box_profile(tmp_path, slug="slurm", detach="sbatch", detach_primitive="sbatch", irreversible=False)
    out = render_box(tmp_path, profile, queue=[{"name": "a", "args": "40 0.1"}, {"name": "b", "args": "2"}])
    senv = {"PATH": f"{bindir}:{os.environ['PATH']}", "SLURM_JOB_ID": "4242", "SLURM_SUBMIT_DIR": str(out)}
    ckdir = run_root(tmp_path, "test-job") / "checkpoints" / "a"
    proc = start(out / "job.sbatch", root=tmp_path, **senv)
    # SIGUSR1 is what --signal=B:USR1@N delivers to the batch shell
    output = signal_when(proc, lambda: (ckdir / "step_3.pt.sha256").exists(), signal.SIGUSR1,
                         what="checkpoints before the warning")
    assert proc.returncode == EXIT["stopped"], output
    assert "USR1, the time limit is near" in output and "QUEUE STOPPED ok=0 failed=0 skipped=0 pending=2" in output
    assert (tmp_path / "scontrol.calls").read_text() == "requeue 4242\n"
    stopped_at = max(int(p.name[5:-10]) for p in ckdir.glob("step_*.pt.sha256"))
    assert stopped_at < 40 and not (run_root(tmp_path) / "state" / "a.done").exists()

    # The requeued job starts the same script again: it resumes, finishes, and does not requeue.
    r = run(out / "job.sbatch", root=tmp_path, FAST="1", SLURM_RESTART_COUNT="1", **senv)
    assert r.returncode == 0, r.stdout
    assert "restart 1" in r.stdout and r.stdout.splitlines()[-1].endswith("QUEUE DONE ok=2 failed=0 skipped=0")
    assert starts(tmp_path, "a") == [0, stopped_at]
    assert (tmp_path / "scontrol.calls").read_text() == "requeue 4242\n"


def test_sigterm_to_the_queue_stops_the_cell_for_a_resume(tmp_path):
    out = render_box(tmp_path, queue=[{"name": "a", "args": "40 0.1"}])
    ckdir = run_root(tmp_path) / "checkpoints" / "a"
    proc = start(out / "run_queue.sh", root=tmp_path)
    # SIGTERM is what Kubernetes sends PID 1 on deletion or preemption
    output = signal_when(proc, lambda: (ckdir / "step_2.pt.sha256").exists(), signal.SIGTERM, what="checkpoints")
    assert proc.returncode == EXIT["stopped"], output
    assert "STOPPED a on request" in output and "QUEUE STOPPED" in output
    r = run(out / "run_queue.sh", root=tmp_path, FAST="1")
    assert r.returncode == 0 and starts(tmp_path, "a")[0] == 0 and starts(tmp_path, "a")[1] >= 2


@pytest.mark.parametrize("mode", ["nohup", "tmux"])
def test_detach_returns_at_once_and_the_queue_finishes(tmp_path, mode):
    if mode == "tmux" and not shutil.which("tmux"):
        pytest.skip("tmux is not installed")
    sock = tmp_path / "tmux"  # a private tmux server, not the user's
    sock.mkdir()
    out = render_box(tmp_path, box_profile(tmp_path, detach=mode), queue=[{"name": "a", "args": "3 0.1"}])
    try:
        r = run(out / "run_queue.sh", "--detach", root=tmp_path, TMUX_TMPDIR=str(sock))
        assert r.returncode == 0, r.stdout + r.stderr
        assert ("started with nohup" if mode == "nohup" else "started in tmux session rgt-test-job") in r.stdout
        qlog = run_root(tmp_path) / "logs" / "queue.log"
        wait_for(lambda: qlog.exists() and "QUEUE DONE" in qlog.read_text(), what="the detached queue")
        assert qlog.read_text().splitlines()[-1].endswith("QUEUE DONE ok=1 failed=0 skipped=0")
        status = run(out / "run_queue.sh", "--status", root=tmp_path)
        assert status.stdout.startswith("a") and " done " in status.stdout.splitlines()[0]
    finally:
        if mode == "tmux":
            subprocess.run(["tmux", "kill-server"], env={**os.environ, "TMUX_TMPDIR": str(sock)}, capture_output=True)


def dir_job(tmp_path: Path) -> dict:
    return {"command": f"bash {tmp_path}/fake_train_dirs.sh {{args}}", "checkpoint_pattern": "checkpoint-*"}


@pytest.mark.parametrize("sidecar", ["complete", "sha256"])
def test_directory_checkpoints_are_copied_whole_verified_and_pruned(tmp_path, sidecar):
    """Hugging Face style: checkpoint-N/ directories; the newest complete one is copied file by
    file, every file in the manifest, verify_local.py passes, and a changed byte inside fails it."""
    out = render_box(tmp_path, box_profile(tmp_path, prune="checkpoint-*"), **dir_job(tmp_path))
    r = run(out / "run_queue.sh", root=tmp_path, SIDECAR=sidecar)
    assert r.returncode == 0, r.stdout + r.stderr
    dst = tmp_path / "durable" / "b"
    assert f"DURABLE OK b -> {dst}: 5 files" in r.stdout  # 3 in checkpoint-3/, its sidecar, starts.txt
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()) == sorted([
        "checkpoint-3/model.safetensors", "checkpoint-3/sub/optimizer.pt", "checkpoint-3/trainer_state.txt",
        f"checkpoint-3.{sidecar}", "starts.txt", "MANIFEST.sha256", "MANIFEST.sizes"])
    assert not list(dst.glob(".*rgt-*")), "no temp directory left behind"
    assert subprocess.run(["sha256sum", "--strict", "-c", "MANIFEST.sha256"], cwd=dst, capture_output=True).returncode == 0
    assert not list((run_root(tmp_path) / "checkpoints" / "b").glob("checkpoint-*")), "rolling dirs pruned"
    v = verify(tmp_path / "durable", "--no-load")
    assert v.returncode == 0 and v.stdout.splitlines()[-1] == "VERIFIED 10 file(s) in 2 manifest(s)"
    (dst / "checkpoint-3" / "sub" / "optimizer.pt").write_text("changed\n")
    v = verify(tmp_path / "durable", "--no-load")
    assert v.returncode == 1 and ("SHA256 MISMATCH" in v.stdout or "SIZE MISMATCH" in v.stdout)


def test_kill_9_with_directory_checkpoints_resumes_from_the_newest_complete_directory(tmp_path):
    out = render_box(tmp_path, queue=[{"name": "a", "args": "40 0.1"}], **dir_job(tmp_path))
    ckdir = run_root(tmp_path) / "checkpoints" / "a"
    proc = start(out / "run_queue.sh", root=tmp_path, SIDECAR="sha256")
    wait_for(lambda: (ckdir / "checkpoint-3.sha256").exists(), what="the third directory checkpoint")
    kill_tree(proc)
    last = max(int(p.name[11:-7]) for p in ckdir.glob("checkpoint-*.sha256"))
    # debris: a renamed directory whose sidecar was never written, and one whose listing lies
    (ckdir / f"checkpoint-{last + 50}").mkdir()
    (ckdir / f"checkpoint-{last + 50}" / "trainer_state.txt").write_text(f"{last + 50}\n")
    (ckdir / f"checkpoint-{last + 60}").mkdir()
    (ckdir / f"checkpoint-{last + 60}" / "trainer_state.txt").write_text(f"{last + 60}\n")
    (ckdir / f"checkpoint-{last + 60}.sha256").write_text("0" * 64 + "  trainer_state.txt\n")

    r = run(out / "run_queue.sh", root=tmp_path, FAST="1", SIDECAR="sha256")
    assert r.returncode == 0, r.stdout + r.stderr
    assert starts(tmp_path, "a") == [0, last]
    log = (run_root(tmp_path) / "logs" / "a.log").read_text()
    assert f"resuming from {ckdir}/checkpoint-{last}\n" in log
    assert f"skipping incomplete checkpoint checkpoint-{last + 60}" in log
    assert f"skipping incomplete checkpoint checkpoint-{last + 50}" in log
    assert (tmp_path / "durable" / "a" / "checkpoint-40" / "trainer_state.txt").read_text() == "40\n"


def test_a_directory_copy_that_comes_out_short_fails_and_keeps_the_local_checkpoint(tmp_path):
    """cp -R exits 0 but one file in the copy is short (U33): only the per-file comparison sees it."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "cp").write_text('#!/bin/bash\n/bin/cp "$@" || exit\ndst=${@: -1}\n'
                               '[ -d "$dst" ] && head -c 3 "$dst/sub/optimizer.pt" >"$dst/x" && mv "$dst/x" "$dst/sub/optimizer.pt"\n'
                               'exit 0\n')
    (bindir / "cp").chmod(0o755)
    out = render_box(tmp_path, box_profile(tmp_path, prune="checkpoint-*"), queue=[{"name": "a", "args": "2"}],
                     **dir_job(tmp_path))
    r = run(out / "run_queue.sh", root=tmp_path, PATH=f"{bindir}:{os.environ['PATH']}")
    assert r.returncode == 1 and "DURABLE OK" not in r.stdout, r.stdout
    log = (run_root(tmp_path) / "logs" / "a.log").read_text()
    assert "size or sha256 mismatch for checkpoint-2/sub/optimizer.pt" in log
    assert (run_root(tmp_path) / "checkpoints" / "a" / "checkpoint-2" / "sub" / "optimizer.pt").exists(), "not pruned"
    assert not list((tmp_path / "durable" / "a").glob(".*")), "the partial copy was removed"
    r = run(out / "run_queue.sh", root=tmp_path)  # with a working cp, the retry copies and verifies
    assert r.returncode == 0 and "DURABLE OK a" in r.stdout, r.stdout
    assert verify(tmp_path / "durable", "--no-load").returncode == 0


# An rclone remote named `box` of rclone's `local` backend, configured through the environment as
# rclone allows: real rclone uploads, lists and reads back, with no network and no account.
RCLONE_ENV = {"RCLONE_CONFIG_BOX_TYPE": "local"}


def test_rclone_target_uploads_reads_back_and_verifies(tmp_path):
    assert shutil.which("rclone"), "rclone is needed for these tests (tests/run.sh installs it)"
    remote = tmp_path / "bucket"
    out = render_box(tmp_path, box_profile(tmp_path, prune="checkpoint-*"), durable=f"rclone:box:{remote}",
                     **dir_job(tmp_path))
    r = run(out / "run_queue.sh", root=tmp_path, **RCLONE_ENV)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"DURABLE OK b -> box:{remote}/b: 5 files, 42 bytes" in r.stdout and "read back and sha256 verified" in r.stdout
    assert (remote / "b" / "checkpoint-3" / "sub" / "optimizer.pt").read_text() == "optimizer of step 3\n"
    assert subprocess.run(["sha256sum", "--strict", "-c", "MANIFEST.sha256"], cwd=remote / "b",
                          capture_output=True).returncode == 0
    assert not list((run_root(tmp_path) / "checkpoints" / "b").glob("checkpoint-*")), "pruned after the check"
    assert verify(remote, "--no-load").returncode == 0


@pytest.mark.parametrize("how", ["no-rclone", "upload-fails", "remote-lies"])
def test_rclone_target_that_fails_says_so_and_keeps_the_local_checkpoint(tmp_path, how):
    remote = tmp_path / "bucket"
    extra = dict(RCLONE_ENV)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    if how == "no-rclone":  # a PATH holding bash, coreutils and util-linux but no rclone
        extra["PATH"] = box_path(bindir)
        reason = "rclone is not installed on this box"
    elif how == "upload-fails":  # the remote's path runs through a regular file
        (tmp_path / "afile").write_text("x")
        remote = tmp_path / "afile" / "bucket"
        reason = "rclone could not upload"
    else:  # rclone reports success, but what the remote holds is short (U33)
        real = shutil.which("rclone")
        (bindir / "rclone").write_text(f'#!/bin/bash\n{real} "$@" || exit\n'
                                       f'[ "$1" = copyto ] && case "${{@: -1}}" in *step_*.pt) '
                                       f'p=${{@: -1}}; p=${{p#box:}}; head -c 2 "$p" >"$p.x" && mv "$p.x" "$p";; esac\n'
                                       'exit 0\n')
        (bindir / "rclone").chmod(0o755)
        extra["PATH"] = f"{bindir}:{os.environ['PATH']}"
        reason = "read back from"
    out = render_box(tmp_path, box_profile(tmp_path, prune="step_*.pt"), durable=f"rclone:box:{remote}",
                     queue=[{"name": "a", "args": "2"}])
    r = run(out / "run_queue.sh", root=tmp_path, **extra)
    assert r.returncode == 1 and "DURABLE OK" not in r.stdout, r.stdout + r.stderr
    failed = (run_root(tmp_path) / "state" / "a.failed").read_text()
    assert "DURABLE FAIL a" in failed and reason in failed and "local checkpoint kept" in failed
    assert ckpts(tmp_path, "a") == ["step_1.pt", "step_2.pt"], "nothing pruned"


# ---- one trainer per cell, and who owns STOP

def trainers(root: Path) -> list[int]:
    return boxkit.procs_running(str(root), "fake_train.sh")


def start_past_step_2(root: Path, script: Path, *args: str) -> subprocess.Popen:
    """Start SCRIPT and return once cell a has two complete checkpoints; kill the box if it never does."""
    proc = start(script, *args, root=root)
    try:
        wait_for(lambda: (run_root(root) / "checkpoints" / "a" / "step_2.pt.sha256").exists(), what="checkpoints")
    except AssertionError:
        kill_everything_under(root)
        raise
    return proc


def step_lines(root: Path, cell: str) -> list[str]:
    log = (run_root(root) / "logs" / f"{cell}.log").read_text()
    return [line for line in log.splitlines() if line.startswith("step ")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_run_one_alone_takes_its_trainer_down(tmp_path, sig):
    # A command line bash cannot exec directly, so the trainer is a grandchild of run_one.sh, and
    # a trainer that never looks at STOP: only the signal can end it.
    out = render_box(tmp_path, command=f"echo go; RGT_STOP_FILE=/nonexistent bash {tmp_path}/fake_train.sh {{args}}; echo after",
                     queue=[{"name": "a", "args": "200 0.1"}])
    proc = start_past_step_2(tmp_path, out / "run_one.sh", "a")
    try:
        assert trainers(tmp_path)
        os.kill(proc.pid, sig)  # the script only, as `kill PID` or a closed terminal would
        output, _ = proc.communicate(timeout=20)
        assert proc.returncode == EXIT["stopped"], output
        wait_for(lambda: not trainers(tmp_path), timeout=5, what="the trainer to end with run_one.sh")
        assert f"caught SIG{sig.name[3:]}" in output
    finally:
        kill_everything_under(tmp_path)


def test_kill_9_of_run_one_leaves_the_lock_with_the_trainer_so_no_second_one_starts(tmp_path):
    out = render_box(tmp_path, queue=[{"name": "a", "args": "30 0.1"}])
    proc = start_past_step_2(tmp_path, out / "run_one.sh", "a")
    try:
        os.kill(proc.pid, signal.SIGKILL)  # cannot be trapped: the trainer lives on, orphaned
        proc.communicate(timeout=10)
        assert trainers(tmp_path), "the orphan trainer should still run"
        again = run(out / "run_one.sh", "a", root=tmp_path)
        assert again.returncode == EXIT["busy"], again.stdout + again.stderr
        assert "BUSY: cell a is already running" in again.stdout
        status = run(out / "run_queue.sh", "--status", root=tmp_path)
        assert status.stdout.startswith("a") and "running" in status.stdout.splitlines()[0], status.stdout
        queue = run(out / "run_queue.sh", root=tmp_path)  # the queue must not start it either
        assert f"CELL FAILED a: exit {EXIT['busy']}" in queue.stdout, queue.stdout
        assert starts(tmp_path, "a") == [0]
        wait_for(lambda: not trainers(tmp_path), timeout=20, what="the orphan trainer to finish")
        steps = step_lines(tmp_path, "a")
        assert steps == [f"step {i}" for i in range(1, 31)]  # one writer: every step once, in order
        done = run(out / "run_one.sh", "a", root=tmp_path)  # the lock went with the last holder
        assert done.returncode == 0, done.stdout + done.stderr
        assert starts(tmp_path, "a") == [0, 30] and (tmp_path / "durable" / "a" / "step_30.pt").exists()
    finally:
        kill_everything_under(tmp_path)


def test_kill_9_of_the_queue_and_run_one_leaves_the_queue_locked_while_the_trainer_lives(tmp_path):
    out = render_box(tmp_path, box_profile(tmp_path, onstart_limit=16384, detach="onstart"),
                     queue=[{"name": "a", "args": "30 0.1"}, {"name": "b", "args": "2"}])
    proc = start_past_step_2(tmp_path, out / "run_queue.sh")
    try:
        for pid in [proc.pid] + boxkit.procs_running(str(out), "run_one.sh"):  # the queue first: no next cell
            os.kill(pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        assert trainers(tmp_path)
        again = run(out / "run_queue.sh", root=tmp_path)
        assert again.returncode == 0 and "QUEUE ALREADY RUNNING" in again.stdout, again.stdout
        hook = run(out / "onstart.sh", root=tmp_path)
        assert "queue already running" in hook.stdout, hook.stdout
        assert starts(tmp_path, "a") == [0] and starts(tmp_path, "b") == []
    finally:
        kill_everything_under(tmp_path)


def test_a_direct_rerun_after_sigterm_resumes_and_makes_progress(tmp_path):
    out = render_box(tmp_path, queue=[{"name": "a", "args": "40 0.1"}])
    ckdir = run_root(tmp_path) / "checkpoints" / "a"
    proc = start(out / "run_one.sh", "a", root=tmp_path)
    output = signal_when(proc, lambda: (ckdir / "step_2.pt.sha256").exists(), signal.SIGTERM, what="checkpoints")
    assert proc.returncode == EXIT["stopped"], output
    assert not (run_root(tmp_path) / "state" / "STOP").exists()  # the stop a signal asked for ends with it
    stopped_at = max(int(p.name[5:-10]) for p in ckdir.glob("step_*.pt.sha256"))
    r = run(out / "run_one.sh", "a", root=tmp_path, FAST="1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert starts(tmp_path, "a") == [0, stopped_at] and (tmp_path / "durable" / "a" / "step_40.pt").exists()


def test_a_stop_left_by_a_killed_script_does_not_block_the_next_start(tmp_path):
    out = render_box(tmp_path, queue=[{"name": "a", "args": "3"}])
    state = run_root(tmp_path) / "state"
    state.mkdir(parents=True)
    (state / "STOP").write_text("rgt-signal SIGTERM to run_one.sh pid 999999999\n")  # its writer is gone
    r = run(out / "run_one.sh", "a", root=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "left by a signal" in r.stdout and not (state / "STOP").exists()


@pytest.mark.parametrize("script", ["run_one.sh", "run_queue.sh"])
def test_a_stop_the_user_writes_stops_the_run_and_holds_until_removed(tmp_path, script):
    out = render_box(tmp_path, queue=[{"name": "a", "args": "40 0.1"}])
    ckdir = run_root(tmp_path) / "checkpoints" / "a"
    stop = run_root(tmp_path) / "state" / "STOP"
    args = ("a",) if script == "run_one.sh" else ()
    proc = start_past_step_2(tmp_path, out / script, *args)
    try:
        stop.write_text("")  # touch STOP
        output, _ = proc.communicate(timeout=20)
    finally:
        kill_everything_under(tmp_path)
    assert proc.returncode == EXIT["stopped"], output
    assert "STOPPED a on request" in (run_root(tmp_path) / "logs" / "a.log").read_text()
    assert stop.exists()  # the user's STOP is the user's to remove
    stopped_at = max(int(p.name[5:-10]) for p in ckdir.glob("step_*.pt.sha256"))
    for name, a in (("run_one.sh", ("a",)), ("run_queue.sh", ())):
        held = run(out / name, *a, root=tmp_path, FAST="1")
        assert held.returncode == EXIT["stopped"], held.stdout + held.stderr
        assert f"{stop}" in held.stdout and "remove it" in held.stdout
    assert starts(tmp_path, "a") == [0]
    stop.unlink()
    r = run(out / script, *args, root=tmp_path, FAST="1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert starts(tmp_path, "a") == [0, stopped_at]


@pytest.mark.parametrize("script", ["run_one.sh", "run_queue.sh"])
def test_a_box_without_flock_says_so_in_one_line_and_starts_nothing(tmp_path, script):
    out = render_box(tmp_path, queue=[{"name": "a", "args": "2"}])
    bindir = tmp_path / "bin"
    bindir.mkdir()
    r = run(out / script, *(("a",) if script == "run_one.sh" else ()), root=tmp_path,
            PATH=box_path(bindir, leave_out=("flock",)))
    assert r.returncode == EXIT["usage"], r.stdout + r.stderr
    assert "missing: flock (util-linux)" in r.stdout and r.stderr == ""
    assert starts(tmp_path, "a") == []


def test_sigterm_to_the_sbatch_shell_alone_stops_the_queue_and_its_trainer(tmp_path):
    profile = box_profile(tmp_path, slug="slurm", detach="sbatch", detach_primitive="sbatch", irreversible=False)
    out = render_box(tmp_path, profile, queue=[{"name": "a", "args": "200 0.1"}])
    ckdir = run_root(tmp_path) / "checkpoints" / "a"
    proc = start(out / "job.sbatch", root=tmp_path, SLURM_SUBMIT_DIR=str(out))
    try:
        output = signal_when(proc, lambda: (ckdir / "step_2.pt.sha256").exists(), signal.SIGTERM, what="checkpoints")
        assert proc.returncode == EXIT["stopped"], output
        wait_for(lambda: not trainers(tmp_path), timeout=5, what="the trainer to stop with the batch shell")
        assert not (run_root(tmp_path) / "state" / "STOP").exists()
    finally:
        kill_everything_under(tmp_path)
