"""The rendered job.sbatch on a real one-node Slurm cluster (tests/slurmkit.py): the USR1 warning,
the checkpoint at the next step, the requeue and the resume, scancel, and a node drained mid-run.

Slurm checks time limits on a period (30 s), so the warning may come up to 60 s before the
`signal_before_s` asked (SLURM2): with a 3-minute limit and 90 s, USR1 arrives 30 to 90 s after
the start. The trainer's work is longer than 90 s so the first start is always warned; a later
start may be warned again, and the test follows as many requeues as happen.
"""
from __future__ import annotations

import re
import subprocess
import time
from datetime import datetime
from pathlib import Path

import boxkit
from boxkit import box_profile, render_box, run_root

LIMIT = {"time": "3:00", "signal_before_s": 90}  # minutes:seconds in Slurm's format
ENDED = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "PREEMPTED")


def slurm_box(root: Path, queue: list) -> Path:
    profile = box_profile(root, slug="slurm", detach="sbatch", detach_primitive="sbatch", irreversible=False)
    return render_box(root, profile, queue=queue, slurm=LIMIT)


def submit(cluster, out: Path, root: Path, **extra: str) -> str:
    r = subprocess.run(["sbatch", "--parsable", str(out / "job.sbatch")], cwd=out, text=True, capture_output=True,
                       env={**boxkit.env(root, **extra), **cluster.env}, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().split(";")[0]


def follow(cluster, job_id: str, timeout: float, until: tuple[str, ...] = ENDED) -> list[str]:
    """Poll the job until it reaches one of UNTIL; a requeued job held for its begin time is
    released. The states seen, in order.

    Not in the same second as the requeue: slurmd revokes the old run's credential and refuses a
    launch whose credential is not newer than the revocation ("Job credential revoked"), and the
    job then ends FAILED instead of starting. That is why Slurm itself holds it about two minutes;
    two seconds are enough here."""
    seen: list[str] = []
    held_since = 0.0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = cluster.job_field(job_id, "JobState")
        if state and (not seen or seen[-1] != state):
            seen.append(state)
            print(f"{time.strftime('%T')} job {job_id}: {state} reason={cluster.job_field(job_id, 'Reason')} "
                  f"restarts={cluster.job_field(job_id, 'Restarts')} exit={cluster.job_field(job_id, 'ExitCode')}")
        if state in until:
            return seen
        if state == "PENDING" and cluster.job_field(job_id, "Reason") == "BeginTime":
            held_since = held_since or time.monotonic()
            if time.monotonic() - held_since >= 2:
                cluster.run("scontrol", "update", f"jobid={job_id}", "StartTime=now")
        else:
            held_since = 0.0
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {seen} after {timeout:.0f}s\n{cluster.logs()}")


def steps_done(root: Path, cell: str) -> list[int]:
    """Every step the trainer finished, in order, from the cell's log (all starts appended)."""
    log = run_root(root) / "logs" / f"{cell}.log"
    return [int(m) for m in re.findall(r"^(?:.*\] )?step (\d+)$", log.read_text(), re.M)]


def starts(root: Path, cell: str) -> list[int]:
    f = run_root(root) / "checkpoints" / cell / "starts.txt"
    return [int(x) for x in f.read_text().split()] if f.exists() else []


def job_output(out: Path, job_id: str) -> str:
    return (out / f"test-job-{job_id}.out").read_text()


def test_usr1_checkpoints_requeues_and_resumes_until_the_queue_is_done(slurm_cluster, tmp_path):
    steps = 100  # one second each: longer than the latest possible warning (90 s), so one always comes
    out = slurm_box(tmp_path, [{"name": "a", "args": f"{steps} 1"}, {"name": "b", "args": "2"}])
    job_id = submit(slurm_cluster, out, tmp_path)
    try:
        seen = follow(slurm_cluster, job_id, timeout=420)
    finally:
        boxkit.kill_box(tmp_path)
    output = job_output(out, job_id)
    assert seen[-1] == "COMPLETED", f"{seen}\n{output}\n{slurm_cluster.logs()}"
    assert slurm_cluster.job_field(job_id, "ExitCode") == "0:0"
    restarts = int(slurm_cluster.job_field(job_id, "Restarts"))
    assert restarts >= 1, output
    # Every warning was caught, asked for a stop, ended a cell at a step boundary and requeued.
    assert output.count("USR1, the time limit is near") == restarts, output
    assert output.count(f"requeued job {job_id}") == restarts
    assert "TIMEOUT" not in output and "could not requeue" not in output
    # The first warning came no later than asked (90 s before the 180 s limit), and at most 60 s
    # earlier (SLURM2); slurmctld checks limits on a timer, so a loaded machine adds a few seconds.
    stamps = re.findall(r"^(\S+)Z job\.sbatch: (?:job \d+, restart 0|USR1)", output, re.M)
    first_start, first_usr1 = (datetime.fromisoformat(t) for t in stamps[:2])
    assert 30 - 5 <= (first_usr1 - first_start).total_seconds() <= 90 + 10, stamps
    # Each start resumed from the newest complete checkpoint the previous one wrote, and no step
    # ran twice: the steps run are exactly 1..steps, once each.
    done = steps_done(tmp_path, "a")
    assert done == list(range(1, steps + 1)), output
    s = starts(tmp_path, "a")
    assert s[0] == 0 and len(s) == restarts + 1 and s == sorted(s) and len(set(s)) == len(s), s
    # The job's output file (appended across starts) is the queue's log under Slurm.
    assert output.count("CELL STOPPED a") == restarts
    assert output.rstrip().splitlines()[-1].endswith("QUEUE DONE ok=2 failed=0 skipped=0"), output
    for cell in ("a", "b"):
        assert re.search(r"DURABLE OK .*sha256 verified", (run_root(tmp_path) / "logs" / f"{cell}.log").read_text())
    assert (tmp_path / "durable").is_dir() and any((tmp_path / "durable").rglob(f"step_{steps}.pt"))
    assert not (run_root(tmp_path) / "state" / "STOP").exists()


def test_scancel_mid_run_stops_without_requeue_and_a_resubmit_resumes(slurm_cluster, tmp_path):
    out = slurm_box(tmp_path, [{"name": "a", "args": "200 0.2"}])
    ckdir = run_root(tmp_path) / "checkpoints" / "a"
    job_id = submit(slurm_cluster, out, tmp_path)
    try:
        boxkit.wait_for(lambda: (ckdir / "step_3.pt.sha256").exists(), timeout=60, what="checkpoints")
        slurm_cluster.run("scancel", job_id)
        seen = follow(slurm_cluster, job_id, timeout=60)
        assert seen[-1] == "CANCELLED" and slurm_cluster.job_field(job_id, "Restarts") == "0"
        boxkit.wait_for(lambda: not boxkit.procs_running(str(tmp_path), "fake_train"), timeout=15,
                        what="the trainer to end with the job")
        newest = max(int(p.name[5:-10]) for p in ckdir.glob("step_*.pt.sha256"))
        assert newest < 200
        # scancel is the user's decision, not a STOP: TERM reaches every process of the job at
        # once and KILL follows KillWait later, so a script may die before it removes the STOP it
        # wrote. Such a STOP names its dead writer, and the next start removes it and resumes.
        stop = run_root(tmp_path) / "state" / "STOP"
        assert not stop.exists() or stop.read_text().startswith("rgt-signal SIGTERM to run_")
        again = submit(slurm_cluster, out, tmp_path, FAST="1")
        assert follow(slurm_cluster, again, timeout=90)[-1] == "COMPLETED", job_output(out, again)
    finally:
        boxkit.kill_box(tmp_path)
    assert starts(tmp_path, "a") == [0, newest]
    assert "QUEUE DONE ok=1 failed=0 skipped=0" in job_output(out, again)
    done = steps_done(tmp_path, "a")  # a step cut by the kill is redone; a finished one is not
    assert sorted(set(done)) == done and done[-1] == 200


def test_a_node_drained_mid_run_lets_the_job_finish_and_takes_no_new_one(slurm_cluster, tmp_path):
    node = slurm_cluster.node
    out = slurm_box(tmp_path, [{"name": "a", "args": "20 0.3"}])
    ckdir = run_root(tmp_path) / "checkpoints" / "a"
    job_id = submit(slurm_cluster, out, tmp_path)
    try:
        boxkit.wait_for(lambda: (ckdir / "step_2.pt.sha256").exists(), timeout=60, what="checkpoints")
        slurm_cluster.run("scontrol", "update", f"nodename={node}", "state=drain", "reason=rgt-test")
        assert follow(slurm_cluster, job_id, timeout=90)[-1] == "COMPLETED", job_output(out, job_id)
        assert "QUEUE DONE ok=1 failed=0 skipped=0" in job_output(out, job_id)
        assert slurm_cluster.run("sinfo", "-h", "-n", node, "-o", "%T").stdout.strip() == "drained"
        # A job submitted now waits for the node instead of starting on it.
        waiting = submit(slurm_cluster, out, tmp_path, FAST="1")
        time.sleep(2)
        assert slurm_cluster.job_field(waiting, "JobState") == "PENDING"
        slurm_cluster.run("scontrol", "update", f"nodename={node}", "state=resume")
        assert follow(slurm_cluster, waiting, timeout=60)[-1] == "COMPLETED"
        assert "SKIP a: done in an earlier run" in job_output(out, waiting)
    finally:
        slurm_cluster.run("scontrol", "update", f"nodename={node}", "state=resume", check=False)
        boxkit.kill_box(tmp_path)


def test_the_sacct_probe_reads_this_cluster_s_accounting(slurm_cluster, tmp_path):
    # The catalogued probe, run as diagnose runs it, against real slurmdbd rows: the newest job
    # is the one that failed, and it ran on this node, so this host's readings may decide.
    from rgt import api
    from rgt.diagnose import parsers
    ok = submit_wrap(slurm_cluster, tmp_path, "true")
    bad = submit_wrap(slurm_cluster, tmp_path, "exit 3")
    for job_id, state in ((ok, "COMPLETED"), (bad, "FAILED")):
        assert follow(slurm_cluster, job_id, timeout=60)[-1] == state
    probe = api.open_index().probe("sacct")
    text = ""
    deadline = time.monotonic() + 20  # slurmctld sends the job's end to slurmdbd shortly after it ends
    while time.monotonic() < deadline and not re.search(rf"^{bad}\|.*\|FAILED\|3:0\|", text, re.M):
        text = slurm_cluster.run("bash", "-c", probe.command, check=False).stdout
        time.sleep(0.5)
    seen = {k: v.value for k, v in parsers.get(probe.parser).parse(text).items()}
    assert seen["slurm_last_state"] == "FAILED" and seen["slurm_last_exit"] == "3:0", text
    assert {"COMPLETED", "FAILED"} <= set(seen["slurm_states"])
    assert seen["slurm_last_nodes"] == seen["slurm_host"] == slurm_cluster.node


def submit_wrap(cluster, root: Path, command: str, *options: str) -> str:
    r = cluster.run("sbatch", "--parsable", f"--chdir={root}", *options, "--wrap", command)
    return r.stdout.strip().split(";")[0]


def test_a_job_that_can_never_start_is_confirmed_pending_and_one_that_waits_is_not(slurm_cluster, tmp_path):
    """The squeue probe through `rgt diagnose --local` on a login node of this cluster: a job asking
    for more time than the partition allows confirms SLURM11 with its own squeue row as evidence;
    with only a job waiting for the busy node, SLURM11 stays possible; with nothing pending, it is
    ruled out."""
    import json
    import os
    import sys
    rgt = Path(sys.executable).parent / "rgt"
    env = {**os.environ, **slurm_cluster.env}

    def slurm11() -> dict:
        done = subprocess.run([str(rgt), "diagnose", "my job is stuck pending and never starts", "--platform", "slurm",
                               "--local", "--json"], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode in (0, 1), done.stderr
        return {c["id"]: c for c in json.loads(done.stdout)["candidates"]}["SLURM11"]

    cpus = re.search(r"CPUTot=(\d+)", slurm_cluster.run("scontrol", "show", "node", slurm_cluster.node).stdout).group(1)
    jobs = []
    try:
        assert slurm11()["verdict"] == "ruled_out"
        jobs.append(submit_wrap(slurm_cluster, tmp_path, "sleep 120", f"-c{cpus}", "--time=5"))
        jobs.append(submit_wrap(slurm_cluster, tmp_path, "sleep 1", f"-c{cpus}", "--time=5"))
        follow(slurm_cluster, jobs[0], timeout=30, until=("RUNNING",))
        boxkit.wait_for(lambda: slurm_cluster.job_field(jobs[1], "Reason") == "Resources", timeout=30,
                        what="the second job to wait for the node")
        waiting = slurm11()
        assert waiting["verdict"] == "possible", waiting
        slurm_cluster.run("scontrol", "update", "PartitionName=debug", "MaxTime=00:10:00")
        jobs.append(submit_wrap(slurm_cluster, tmp_path, "sleep 1", "--time=01:00:00"))
        # a new job's Reason is None until the scheduler's next pass looks at it
        boxkit.wait_for(lambda: slurm_cluster.job_field(jobs[2], "Reason") == "PartitionTimeLimit", timeout=30,
                        what="the scheduler to give the job its Reason")
        stuck = slurm11()
        assert stuck["verdict"] == "confirmed", stuck
        assert any(e["line"].startswith(f"{jobs[2]}|") and e["line"].endswith("|PartitionTimeLimit")
                   for e in stuck["evidence"]), stuck["evidence"]
    finally:
        slurm_cluster.run("scontrol", "update", "PartitionName=debug", "MaxTime=INFINITE", check=False)
        for job in jobs:
            slurm_cluster.run("scancel", job, check=False)
