"""Diagnose end to end: ranking, verdicts with evidence, and the same test over every transport."""
from __future__ import annotations

import json
from pathlib import Path

from helpers import run

PROBES = Path(__file__).parent / "fixtures" / "probes"


def capture(path: Path, outputs: dict[str, str], host: str = "box") -> Path:
    """A capture file as --save-capture writes it, holding the given probe outputs."""
    stdout = "".join(f"\n@@RGT BEGIN {pid}@@\n{text}\n@@RGT END {pid} rc=0@@\n" for pid, text in outputs.items())
    path.write_text(json.dumps({"version": 1, "host": host, "rc": 0, "stdout": stdout, "stderr": "", "command": "bash -s"}))
    return path


def test_vanished_at_6h_on_paperspace_ranks_the_clock_first(capsys):
    r = run(capsys, "diagnose", "run vanished at 6h", "--platform", "paperspace", "--json")
    assert r.code == 0
    data = r.json()
    assert data["no_match"] is False
    assert data["candidates"][0]["id"] == "PS2"
    assert data["entities"]["said_hours"] == 6.0
    for c in data["candidates"]:
        assert set(c) >= {"id", "title", "score", "verdict", "evidence", "fix"}
        assert c["verdict"] in ("confirmed", "ruled_out", "possible")


def test_an_oom_line_confirms_oom_and_rules_out_the_clock_quoting_the_line(capsys, tmp_path):
    oom = (PROBES / "kernel_log--memcg-oom_python3_this-machine.out").read_text()
    cap = capture(tmp_path / "cap.json", {
        "kernel_log": oom,
        "uptime": "144000.00 280000.00\n 12:00:00 up 1 day, 16:00,  0 users,  load average: 0.10, 0.20, 0.30",
        "cgroup_memory": "==> memory.max <==\nmax\n==> memory.current <==\n1048576\n==> memory.events <==\nlow 0\nhigh 0\nmax 0\noom 0\noom_kill 0",
    })
    r = run(capsys, "diagnose", "run vanished at 6h", "--platform", "paperspace", "--capture", str(cap), "--json")
    assert r.code == 0, r.err
    by_id = {c["id"]: c for c in r.json()["candidates"]}
    assert by_id["PS2"]["verdict"] == "ruled_out"
    oom_line = next(line for line in oom.splitlines() if "Killed process" in line)
    assert any(e["line"] == oom_line for e in by_id["PS2"]["evidence"])
    confirmed = [c for c in r.json()["candidates"] if c["verdict"] == "confirmed"]
    assert [c["id"] for c in confirmed] == ["U3"], "a python OOM kill proves the vanished process, nothing more"
    assert any(e["line"] == oom_line and e["probe"] == "kernel_log" for e in confirmed[0]["evidence"])
    # the human report shows the same decision
    human = run(capsys, "diagnose", "run vanished at 6h", "--platform", "paperspace", "--capture", str(cap))
    assert "[ruled out] PS2" in human.out and oom_line in human.out


def test_off_topic_text_is_no_match_not_a_guess(capsys):
    r = run(capsys, "diagnose", "sourdough starter with rye flour smells of acetone", "--json")
    assert r.code == 1
    assert r.json()["no_match"] is True and r.json()["candidates"] == []
    assert "nothing in the knowledge base fits" in r.json()["message"]


def test_a_request_for_advice_is_not_a_failure(capsys):
    """"explain how DDP works" shares the domain's words but reports nothing that went wrong."""
    for text in ("explain how DDP works under the hood", "什么是混合精度训练", "how do I bake sourdough bread at home"):
        r = run(capsys, "diagnose", text, "--json")
        assert r.code == 1 and r.json()["no_match"] is True, text
        assert "rgt diagnoses failures" in r.json()["message"]
    r = run(capsys, "diagnose", "explain why DDP hangs at the first all_reduce", "--json")
    assert r.json()["no_match"] is False, "a question about a failure is a failure report"


def test_a_bad_capture_file_is_one_line(capsys, tmp_path):
    bad = tmp_path / "cap.json"
    bad.write_text("{not json")
    r = run(capsys, "diagnose", "run vanished", "--capture", str(bad))
    assert r.code == 2 and r.err.startswith(f"rgt: {bad}: not a capture file")


def _decisions(data: dict) -> list[tuple[str, str]]:
    return [(c["id"], c["verdict"]) for c in data["candidates"]]


def test_same_diagnosis_over_local_ssh_and_capture(capsys, tmp_path, sshd_server):
    """This machine is the box: local and SSH probe it for real; the capture replays SSH's answer.
    A block-buffered run writing to a file (U43) gives every transport something to decide."""
    import subprocess
    import sys
    import time
    script = tmp_path / "train_same_case.py"
    script.write_text("import time\nprint('step 1')\ntime.sleep(60)\n")
    with (tmp_path / "train.log").open("w") as out:
        trainer = subprocess.Popen([sys.executable, str(script)], stdout=out, stderr=subprocess.STDOUT,
                                   env={"PATH": "/usr/bin:/bin"}, start_new_session=True)
    try:
        cmdline = Path(f"/proc/{trainer.pid}/cmdline")
        deadline = time.monotonic() + 10
        while script.name not in cmdline.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)  # until the child has exec'd the trainer
        query = ["diagnose", "log file stays empty but the process is running", "--platform", "generic",
                 "--match", script.name, "--json"]
        local = run(capsys, *query, "--local")
        assert local.code == 0, local.err
        saved = tmp_path / "ssh.json"
        ssh = run(capsys, *query, "--host", "rgt-box", "--ssh-config", str(sshd_server.config), "--save-capture", str(saved))
        assert ssh.code == 0, ssh.err
        replay = run(capsys, *query, "--capture", str(saved))
        assert replay.code == 0, replay.err
    finally:
        trainer.kill()
        trainer.wait()
    assert _decisions(local.json()) == _decisions(ssh.json()) == _decisions(replay.json())
    assert ssh.json()["hosts"][0]["probes"] > 0
    assert ("U43", "confirmed") in _decisions(ssh.json()), _decisions(ssh.json())


def test_a_pasted_kernel_log_confirms_from_its_own_lines(capsys):
    """No host: the OOM-killer line the user pasted is read by the kernel_log parser and decides."""
    log = (PROBES / "kernel_log--memcg-oom_python3_this-machine.out").read_text()
    r = run(capsys, "diagnose", "my training died, dmesg says:\n" + log, "--json")
    assert r.code == 0, r.err
    top = r.json()["candidates"][0]
    assert top["verdict"] == "confirmed" and top["id"] == "U3", top["id"]
    oom_line = next(line for line in log.splitlines() if "Killed process" in line)
    assert {"probe": "kernel_log", "line": oom_line, "host": "your text"} in top["evidence"]


def test_an_oom_line_of_another_program_proves_no_cause(capsys):
    """The kernel killed WhatsApp: memory ran short, but nothing shows the run died of it, nor
    which mechanism filled memory. Every candidate stays possible, the line attached to U9."""
    log = (PROBES / "kernel_log--oom-global_journalctl.out").read_text()
    r = run(capsys, "diagnose", "my training died, dmesg says:\n" + log, "--json", "--limit", "20")
    assert r.code == 0, r.err
    by_id = {c["id"]: c for c in r.json()["candidates"]}
    assert all(c["verdict"] != "confirmed" for c in by_id.values())
    oom_line = next(line for line in log.splitlines() if "Out of memory: Killed process" in line)
    assert any(e["line"] == oom_line for e in by_id["U9"]["evidence"])
    assert by_id["U9"]["missing"], "a possible candidate says what would decide it"


def test_an_excerpt_never_rules_a_cause_out(capsys):
    """A pasted Xid 13 line shows no Xid 79, but an excerpt cannot prove an absence."""
    log = (PROBES / "kernel_log--xid13-109-31_dmesg-ctime.out").read_text()
    r = run(capsys, "diagnose", "GPU error in the middle of training\n" + log, "--json", "--limit", "20")
    assert r.code == 0, r.err
    assert all(c["verdict"] != "ruled_out" for c in r.json()["candidates"])


def test_text_from_stdin_and_a_short_header(tmp_path):
    """`rgt diagnose -` reads the text from standard input (a log too long for argv), and the
    human report echoes only its first line."""
    import subprocess
    import sys
    rgt = Path(sys.executable).parent / "rgt"
    log = (PROBES / "kernel_log--memcg-oom_python3_this-machine.out").read_text()
    done = subprocess.run([str(rgt), "diagnose", "-", "--limit", "3"], input=log * 40, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0]
    assert header.startswith('Causes that fit "[Fri Dec 4 19:21:36 2026] python3 invoked oom-killer') and f"({len((log * 40).splitlines())} lines)" in header
    assert "[CONFIRMED]" in done.stdout
    empty = subprocess.run([str(rgt), "diagnose", "-"], input="  \n", capture_output=True, text=True)
    assert empty.returncode == 2 and "no text to diagnose" in empty.stderr


def test_a_box_without_bash_is_one_clear_line(capsys, tmp_path):
    """What `bash -s` gives on a box without bash (a bare Alpine image): the shell's 127."""
    cap = tmp_path / "alpine.json"
    cap.write_text(json.dumps({"version": 1, "host": "alpine-box", "rc": 127, "stdout": "",
                               "stderr": "sh: bash: not found\n", "command": "bash -s"}))
    r = run(capsys, "diagnose", "run vanished at 6h", "--capture", str(cap))
    assert r.code == 3 and r.out == "" and len(r.err.strip().splitlines()) == 1
    assert "alpine-box: bash is not on the box's PATH" in r.err and "apk add bash" in r.err


def test_a_pasted_free_table_brings_up_the_host_wide_reading_trap(capsys):
    """`free -m` pasted from inside a container reads the host's memory (U41): the free parser
    reads the table, and the gotcha whose rules examine those numbers is put forward."""
    text = ("               total        used        free      shared  buff/cache   available\n"
            "Mem:          515000      510100        1200         100        3700        2100\n"
            "Swap:              0           0           0\n")
    r = run(capsys, "diagnose", text, "--json")
    assert r.code == 0, r.err
    assert "U41" in [c["id"] for c in r.json()["candidates"][:3]]


def _autodl_box(tmp_path: Path, marks: str) -> Path:
    df = ("Filesystem      Size  Used Avail Use% Mounted on\n"
          "overlay          30G   12G   19G  39% /\n"
          "/dev/nvme1n1p1   50G   50G     0 100% /root/autodl-tmp\n")
    ps = ("rgt-self sid=900\n" + marks + "==> ps <==\n"
          "      1       0       1     0 Ss     90000  1200    1 /init\n"
          "    900       0     900     0 Ss         1  3000    1 bash -s\n==> links <==\n==> environ <==\n==> end <==")
    return capture(tmp_path / "autodl.json", {"ps": ps, "df_bytes": df})


def test_a_platform_is_recognised_from_a_path_only_its_boxes_have(capsys, tmp_path):
    """No --platform and no name in the text: /root/autodl-tmp on the box says AutoDL, so AD5 (its
    data disk full) can be confirmed there; without the mark it stays possible, an AutoDL gotcha on
    an unknown platform."""
    text = ["diagnose", "No space left on device while saving checkpoints to the data disk", "--json", "--limit", "20"]
    seen = run(capsys, *text, "--capture", str(_autodl_box(tmp_path, "platform-mark /root/autodl-tmp\n")))
    assert seen.code == 0, seen.err
    assert seen.json()["platform_recognised"] == "autodl"
    ad5 = {c["id"]: c for c in seen.json()["candidates"]}["AD5"]
    assert ad5["verdict"] == "confirmed" and any("/root/autodl-tmp" in e["line"] for e in ad5["evidence"])
    unseen = run(capsys, *text, "--capture", str(_autodl_box(tmp_path, "")))
    by_id = {c["id"]: c for c in unseen.json()["candidates"]}
    assert unseen.json()["platform_recognised"] is None
    assert by_id.get("AD5", {"verdict": "possible"})["verdict"] == "possible"


def test_one_platforms_clock_never_confirms_another_platforms_gotcha(capsys, tmp_path):
    """"on paperspace" names Paperspace; its 6 h clock must not make AutoDL's 15-day release (AD10)
    or any other platform's gotcha confirmed."""
    cap = capture(tmp_path / "cap.json", {"uptime": "400000.00 1.00\n 12:00:00 up 4 days, 15:06,  0 users,  load average: 0.1, 0.1, 0.1"})
    r = run(capsys, "diagnose", "run vanished at 6h on paperspace", "--capture", str(cap), "--json", "--limit", "20")
    assert r.code == 0, r.err
    for c in r.json()["candidates"]:
        assert c["verdict"] != "confirmed" or c["platform"] in (None, "paperspace"), c
        if c["id"] == "AD10":
            assert c["verdict"] != "confirmed"


def test_a_fresh_reboot_is_a_reading_not_a_proof(capsys, tmp_path):
    """The box booted 38 minutes ago and the run that vanished overnight is gone: the reboot is
    shown against the reboot gotchas, and none is confirmed (the run may have died before it)."""
    ps = ("rgt-self sid=700\n==> ps <==\n"
          "      1       0       1     0 Ss      2280  9000    1 /sbin/init\n"
          "    700       0     700  1000 Ss         1  3000    1 bash -s\n==> links <==\n==> environ <==\n==> end <==")
    cap = capture(tmp_path / "cap.json", {
        "ps": ps, "uptime": "2281.50 4400.10\n 07:12:03 up 38 min,  1 user,  load average: 0.00, 0.02, 0.05",
        "last_reboot": "reboot   system boot  6.8.0-45-generic Thu Dec  3 06:34:01 2026   still running"})
    r = run(capsys, "diagnose", "my training vanished overnight after 8 hours, no error", "--platform", "generic",
            "--capture", str(cap), "--json", "--limit", "20")
    assert r.code == 0, r.err
    by_id = {c["id"]: c for c in r.json()["candidates"]}
    assert by_id["GEN6"]["verdict"] == "possible"
    assert any("up 38 min" in e["line"] or "2281.50" in e["line"] for e in by_id["GEN6"]["evidence"])
    assert all(c["verdict"] != "confirmed" for c in by_id.values())


def test_a_pasted_oom_line_proves_the_kill_not_its_mechanism(tmp_path):
    """The issue's own check, as a new user types it: one OOM-killer line proves the kernel killed
    the run for memory (U3), not which mechanism filled memory (U9 stays possible, line attached)."""
    import subprocess
    import sys
    rgt = Path(sys.executable).parent / "rgt"
    line = "Out of memory: Killed process 4242 (python) total-vm:82132kB, anon-rss:65280kB, file-rss:6644kB"
    done = subprocess.run([str(rgt), "diagnose", "-", "--json", "--limit", "20"], input=line + "\n",
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    by_id = {c["id"]: c for c in json.loads(done.stdout)["candidates"]}
    assert by_id["U3"]["verdict"] == "confirmed" and by_id["U3"]["evidence"][0]["line"] == line
    assert by_id["U9"]["verdict"] == "possible" and line in [e["line"] for e in by_id["U9"]["evidence"]]
    assert by_id["U9"]["missing"]
    assert all(c["verdict"] != "confirmed" for c in by_id.values() if c["platform"] is not None)


def test_torch_is_imported_on_the_box_only_for_a_candidate_that_needs_it(capsys, tmp_path, monkeypatch):
    """Importing torch costs a GPU box seconds and opens a CUDA context beside the run: the
    speculative probes of nearby gotchas leave it out, a fitting candidate's probes do not."""
    shim = tmp_path / "bin"
    shim.mkdir()
    calls = tmp_path / "python3-calls"
    (shim / "python3").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    (shim / "python3").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}:{__import__('os').environ['PATH']}")

    r = run(capsys, "diagnose", "run vanished at 6h", "--platform", "paperspace", "--local", "--json")
    assert r.code == 0, r.err
    assert not calls.exists() or "import torch" not in calls.read_text()

    r = run(capsys, "diagnose", "RuntimeError: CUDA error: no kernel image is available for execution on the device",
            "--local", "--json")
    assert r.code == 0, r.err
    assert "import torch" in calls.read_text()


def test_the_precision_the_user_names_rules_out_the_other_precisions_causes(capsys):
    """"with bf16": fp16's overflow cannot be it, and the answer says which words decided that;
    a text naming both precisions rules nothing out."""
    data = run(capsys, "diagnose", "loss became nan after 2000 steps with bf16", "--json").json()
    verdicts = {c["id"]: c for c in data["candidates"]}
    assert verdicts["PREC1"]["verdict"] == "ruled_out"
    assert verdicts["PREC1"]["evidence"] == [{"probe": "query", "line": "said_precision = bf16"}]
    assert data["candidates"][0]["verdict"] == "possible"
    assert data["candidates"][0]["id"] not in ("PREC1", "PREC10", "PREC15", "PREC19")
    both = run(capsys, "diagnose", "training works in fp32 but loss is nan in fp16", "--json").json()
    assert both["candidates"][0]["id"] == "PREC1" and both["candidates"][0]["verdict"] == "possible"
    assert not [c for c in both["candidates"] if c["verdict"] == "ruled_out"]


def test_a_denied_cuda_oom_rules_out_the_vram_oom(capsys):
    said = run(capsys, "diagnose", "training killed, exit 137, with a CUDA out of memory error", "--json").json()
    denied = run(capsys, "diagnose", "training killed, exit 137, no CUDA out of memory error", "--json").json()
    assert {c["id"]: c["verdict"] for c in said["candidates"]}.get("U10") == "possible"
    assert {c["id"]: c["verdict"] for c in denied["candidates"]}.get("U10") in ("ruled_out", None)
    assert "said_cuda_oom" not in denied["entities"]


def test_an_illegal_memory_access_is_named_and_the_pasted_xid_lines_are_its_readings(capsys):
    """A real kernel log (Xid 13, 109, 31 from a pt_main_thread) pasted under the error: U46 leads,
    stays possible (an Xid 31 does not prove whose bug it was), and quotes the first Xid line."""
    log = (PROBES / "kernel_log--xid13-109-31_dmesg-ctime.out").read_text()
    r = run(capsys, "diagnose", "RuntimeError: CUDA error: an illegal memory access was encountered\n" + log, "--json")
    top = r.json()["candidates"][0]
    assert top["id"] == "U46" and top["verdict"] == "possible"
    first_xid = next(line for line in log.splitlines() if "NVRM: Xid" in line)
    assert {"probe": "kernel_log", "line": first_xid, "host": "your text"} in top["evidence"]
