"""rgt never observes itself: over the real sshd, a diagnosis of this machine never quotes one of its
own probe processes, and never takes one of them for the user's run."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from helpers import run

# What rgt's own batch looks like in a process listing: the lanes, the timeout wrappers, the torch
# probe's interpreter, the probes' own commands.
OWN = ("rgt_probe", "timeout -k 2", "import torch", "bash -s", "fuser -v", "==> ps <==", "rgt-self")


def _evidence_lines(data: dict) -> list[str]:
    lines = [e["line"] for c in data["candidates"] for e in c["evidence"]]
    return [ln for ln in lines if not ln.startswith("no process matches")]  # rgt's own finding, naming --match


def test_a_diagnosis_over_ssh_never_quotes_its_own_probes(capsys, tmp_path):
    """The torch probe's `python3 -c "import torch…"` is made to live two seconds (a stand-in torch
    on the session's PYTHONPATH, set by this test's own sshd), so it is running while ps lists the
    processes; --match names its command line, which only rgt's own process carries."""
    import sshd

    slow = tmp_path / "slowtorch"
    slow.mkdir()
    (slow / "torch.py").write_text("import time\ntime.sleep(2)\nraise ImportError('stand-in torch')\n")
    server = sshd.start(tmp_path / "sshd", extra_config=f"SetEnv PYTHONPATH={slow}\n")
    try:
        r = run(capsys, "diagnose", "training runs on CPU inside docker, super slow, log stays empty",
                "--host", "rgt-box", "--ssh-config", str(server.config), "--match", "import torch", "--json",
                "--limit", "20")
    finally:
        sshd.stop(server)
    assert r.code == 0, r.err
    data = r.json()
    assert data["hosts"][0]["probes"] > 0
    assert "torch_cuda" in {e["probe"] for c in data["candidates"] for e in c["evidence"]} or \
        any(c["id"] == "U31" for c in data["candidates"]), "the torch probe must have run"
    assert "no process matches" in data["hosts"][0]["run"], data["hosts"][0]["run"]
    quoted = [ln for ln in _evidence_lines(data) if any(mark in ln for mark in OWN)]
    assert not quoted, quoted


def test_the_run_is_found_beside_rgt_and_its_stdout_read(capsys, sshd_server, tmp_path):
    """A buffered python writing to a file, started in a session of its own as nohup would: U43 is
    confirmed from that process, whose environ and stdout rgt reads; rgt's own python is not it."""
    log = tmp_path / "train.log"
    script = tmp_path / "train_rgt_case.py"
    script.write_text("import time\nprint('step 1')\ntime.sleep(60)\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no PYTHONUNBUFFERED: block-buffered into the file
    with log.open("w") as out:
        trainer = subprocess.Popen([sys.executable, str(script)], stdout=out, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while script.name not in Path(f"/proc/{trainer.pid}/cmdline").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        r = run(capsys, "diagnose", "log file stays empty but the process is running", "--host", "rgt-box",
                "--ssh-config", str(sshd_server.config), "--match", script.name, "--json", "--limit", "20")
        assert r.code == 0, r.err
        data = r.json()
        assert f"the run is pid {trainer.pid}" in data["hosts"][0]["run"], data["hosts"][0]["run"]
        u43 = next(c for c in data["candidates"] if c["id"] == "U43")
        assert u43["verdict"] == "confirmed", u43
        assert f"/proc/{trainer.pid}/fd/1 {log}" in [e["line"] for e in u43["evidence"]], u43["evidence"]
        assert not [ln for ln in _evidence_lines(data) if any(mark in ln for mark in OWN)]
    finally:
        trainer.kill()
        trainer.wait()


def test_another_rgt_probing_at_the_same_time_is_not_the_run(capsys, sshd_server):
    """Agents run many rgt processes at once: a batch of another rgt (its processes carry RGT_SID)
    is alive while this one lists processes, and its command line holds the --match text."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)  # import torch"],
                             env={"PATH": "/usr/bin:/bin", "RGT_SID": "4242"}, start_new_session=True)
    try:
        r = run(capsys, "diagnose", "log file stays empty but the process is running", "--host", "rgt-box",
                "--ssh-config", str(sshd_server.config), "--match", "import torch", "--json", "--limit", "20")
        assert r.code == 0, r.err
        data = r.json()
        assert "no process matches" in data["hosts"][0]["run"], data["hosts"][0]["run"]
        assert not [ln for ln in _evidence_lines(data) if "import torch" in ln]
    finally:
        other.kill()
        other.wait()
