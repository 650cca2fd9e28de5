"""Training logs as evidence: real excerpts pasted into `rgt diagnose -` confirm the one gotcha an
expert names from them, quoting the decisive line; `--log` reads the log on the box (over the
real sshd), on this machine with --local, or as a local file."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run

FIXTURES = Path(__file__).parent / "fixtures"
PROBES, LOGS = FIXTURES / "probes", FIXTURES / "logs"
RGT = Path(sys.executable).parent / "rgt"

# (excerpt, the gotcha an expert names, the line that decides it); sources in probes/SOURCES.md
EXCERPTS = [
    (PROBES / "py_traceback--ddp-unused-params_torchrun_this-machine.out", "DIST8",
     "[rank0]: RuntimeError: Expected to have finished reduction in the prior iteration"),
    (PROBES / "py_traceback--eaddrinuse-29500_this-machine.out", "DIST1", "name: EADDRINUSE, message: address already in use"),
    (PROBES / "py_traceback--state-dict-module-prefix_this-machine.out", "CKPT6", 'Unexpected key(s) in state_dict: "module.enc.weight"'),
    (PROBES / "py_traceback--weights-only-load-failed_this-machine.out", "CKPT10", "_pickle.UnpicklingError: Weights only load failed."),
    (PROBES / "cuda_oom--fragmentation_40gib-unallocated_mask2dit-issue4.out", "MEM4", "40.69 GiB is reserved by PyTorch but unallocated"),
    (PROBES / "cuda_oom--max-split-size_mgfn-issue35.out", "MEM4", "2.30 GiB is reserved by PyTorch but unallocated"),
    (PROBES / "torchrun--exitcode-9_two-ranks_this-machine.out", "DIST16", "exitcode  : -9 (pid: 2438)  (SIGKILL)"),
    (PROBES / "loss_scale--deepspeed-scale-1_deepspeed-pr1593.out", "PREC2", "Attempted loss scale: 1, reducing to 1"),
    (LOGS / "compiled--this-machine.log", "CKPT7", 'Unexpected key(s) in state_dict: "_orig_mod.enc.weight"'),
    (LOGS / "size--this-machine.log", "CKPT9", "size mismatch for fc.weight: copying a param with shape torch.Size([10, 8])"),
    (LOGS / "getattr--this-machine.log", "CKPT12", "AttributeError: Can't get attribute 'Net' on <module '__main__'"),
    (LOGS / "truncated--this-machine.log", "CKPT13", "failed finding central directory"),
    (LOGS / "bn1--this-machine.log", "CONV5", "ValueError: Expected more than 1 value per channel when training"),
    (LOGS / "target--this-machine.log", "CONV11", "IndexError: Target 5 is out of bounds."),
    (LOGS / "rank--this-machine.log", "DIST3", "environment variable RANK expected, but not set"),
    (LOGS / "unscale--this-machine.log", "PREC4", "ValueError: Attempting to unscale FP16 gradients."),
    (LOGS / "lfs-weights-only--this-machine.log", "CKPT24", "Unsupported operand 118"),
    (LOGS / "lfs-invalid-load-key--this-machine.log", "CKPT24", "_pickle.UnpicklingError: invalid load key, 'v'."),
    (LOGS / "lfs-safetensors--this-machine.log", "CKPT24", "Error while deserializing header: header too large"),
]


def _diagnose_stdin(text: str, *args: str) -> dict:
    done = subprocess.run([str(RGT), "diagnose", "-", "--json", "--limit", "20", *args], input=text,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _confirmed(data: dict) -> dict[str, dict]:
    return {c["id"]: c for c in data["candidates"] if c["verdict"] == "confirmed"}


@pytest.mark.parametrize("log,gid,decisive", EXCERPTS, ids=[f"{g}:{p.stem}" for p, g, _ in EXCERPTS])
def test_a_pasted_excerpt_confirms_the_cause_it_shows_and_nothing_else(log, gid, decisive):
    confirmed = _confirmed(_diagnose_stdin(log.read_text(encoding="utf-8")))
    assert set(confirmed) == {gid}, sorted(confirmed)
    assert any(decisive in e["line"] and e["host"] == "your text" for e in confirmed[gid]["evidence"]), \
        confirmed[gid]["evidence"]


@pytest.mark.parametrize("log,symptom_of", [
    (PROBES / "cuda_oom--full-card_pytorch-issue16417.out", "MEM1"),      # the card is full: which mechanism?
    (PROBES / "nccl--watchdog-allreduce_basicsr-issue737.out", "DIST4"),  # a rank stalled: which one, why?
    (PROBES / "loss_scale--deepspeed-halving_chinese-llama-alpaca-issue534.out", "PREC2"),  # still falling
])
def test_a_symptom_leaves_the_cause_possible_with_its_line(log, symptom_of):
    data = _diagnose_stdin(log.read_text(encoding="utf-8"))
    assert not _confirmed(data)
    cand = {c["id"]: c for c in data["candidates"]}[symptom_of]
    assert cand["verdict"] == "possible"
    assert any(e["line"] in log.read_text(encoding="utf-8").splitlines() for e in cand["evidence"]), cand["evidence"]


def test_pasted_text_mixing_kernel_lines_a_free_table_and_a_traceback_is_read_by_each_parser():
    """dmesg, `free -m` and torchrun's summary in one paste: the kernel's kill line confirms the
    OOM kill (U3), the summary confirms the rank's SIGKILL (DIST16), each with its own line."""
    kernel = (PROBES / "kernel_log--memcg-oom_python3_this-machine.out").read_text()
    free = (PROBES / "free--m_32gb-host.out").read_text()
    summary = (PROBES / "torchrun--exitcode-9_two-ranks_this-machine.out").read_text()
    confirmed = _confirmed(_diagnose_stdin(kernel + "\n" + free + "\n" + summary))
    assert {"U3", "DIST16"} <= set(confirmed), sorted(confirmed)
    assert any("Killed process" in e["line"] for e in confirmed["U3"]["evidence"])
    assert any("exitcode  : -9" in e["line"] for e in confirmed["DIST16"]["evidence"])


def _tree(root: Path) -> dict[str, tuple[int, float, str]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*")) if p.is_file()}


def _writing(tmp_path: Path, source: Path) -> tuple[subprocess.Popen, Path]:
    """A running process that has written a training log and keeps it open, as a live run does."""
    log = tmp_path / "run dir" / "train.log"
    log.parent.mkdir()
    code = ("import sys, time\nsrc, dst = sys.argv[1:3]\nout = open(dst, 'w')\n"
            "for line in open(src, encoding='utf-8'):\n    out.write(line)\n    out.flush()\n"
            "out.write('written\\n'); out.flush()\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(source), str(log)])
    for _ in range(100):
        if log.exists() and log.read_text(encoding="utf-8", errors="replace").endswith("written\n"):
            return proc, log
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the writer did not write its log")


def test_log_on_the_box_over_ssh_decides_and_leaves_the_box_unchanged(capsys, tmp_path, sshd_server):
    proc, log = _writing(tmp_path, LOGS / "rank--this-machine.log")
    try:
        before = _tree(tmp_path)
        r = run(capsys, "diagnose", "training crashed at start", "--host", "rgt-box", "--ssh-config",
                str(sshd_server.config), "--log", str(log), "--log", str(tmp_path / "missing.log"), "--json")
        assert r.code == 0, r.err
        assert proc.poll() is None, "the run is still running"
        assert _tree(tmp_path) == before, "diagnose changed the box"
    finally:
        proc.kill()
        proc.wait()
    confirmed = _confirmed(r.json())
    assert set(confirmed) == {"DIST3"}, sorted(confirmed)
    evidence = confirmed["DIST3"]["evidence"][0]
    assert evidence["probe"] == "train_log" and evidence["host"] == "rgt-box"
    assert "environment variable RANK expected, but not set" in evidence["line"]


def test_log_on_each_host_of_a_fan_out_and_with_local(capsys, tmp_path, sshd_server):
    """The same path is read on every node (here two aliases of the test sshd), each quoted under
    its own host; with --local this machine is the box."""
    from test_hosts import _cluster_config
    log = tmp_path / "train.log"
    log.write_text((LOGS / "target--this-machine.log").read_text())
    r = run(capsys, "diagnose", "crash", "--host", "rgt-box[1-2]", "--ssh-config", str(_cluster_config(sshd_server, tmp_path)),
            "--log", str(log), "--json")
    assert r.code == 0, r.err
    confirmed = _confirmed(r.json())
    assert set(confirmed) == {"CONV11"}, sorted(confirmed)
    assert {e["host"] for e in confirmed["CONV11"]["evidence"]} == {"rgt-box1", "rgt-box2"}
    local = run(capsys, "diagnose", "crash", "--local", "--log", str(log), "--json")
    assert local.code == 0, local.err
    assert set(_confirmed(local.json())) == {"CONV11"}


def test_log_as_a_local_file_and_a_missing_one(capsys, tmp_path):
    ok = run(capsys, "diagnose", "the run crashed", "--log", str(LOGS / "truncated--this-machine.log"), "--json")
    assert ok.code == 0, ok.err
    assert set(_confirmed(ok.json())) == {"CKPT13"}
    missing = run(capsys, "diagnose", "the run crashed", "--log", str(tmp_path / "nope.log"))
    assert missing.code == 2 and missing.out == "" and len(missing.err.strip().splitlines()) == 1
    assert "nope.log: cannot read the log" in missing.err


@pytest.mark.parametrize("log", [PROBES / "py_traceback--weights-only-load-failed_this-machine.out",
                                 LOGS / "target--this-machine.log"], ids=lambda p: p.stem)
def test_a_log_lifts_only_the_gotchas_it_can_still_decide(log):
    """A log beside vague words lifts the gotcha its lines confirm, and those whose rules it has not
    answered yet; a gotcha that reads exception_message and finds another error there keeps the
    score the words gave it."""
    from rgt import api, rules
    from rgt.diagnose import parsers
    from rgt.diagnose.diagnosis import LOG_PARSERS

    def scores(*extra: str) -> dict[str, float]:
        done = subprocess.run([str(RGT), "diagnose", "training crashed", "--json", "--limit", "40", *extra],
                              capture_output=True, text=True, check=True)
        return {c["id"]: c["score"] for c in json.loads(done.stdout)["candidates"] if c["verdict"] != "confirmed"}

    words, with_log = scores(), scores("--log", str(log))
    text = log.read_text(encoding="utf-8")
    seen = {name: obs.value for p in LOG_PARSERS for name, obs in parsers.get(p).parse(text).items()
            if obs.value is not None}
    index = api.open_index()
    answered_no = [gid for gid in with_log if rules.evaluate(index.gotcha(gid).confirm, seen) is False]
    assert answered_no, "the log answers some gotchas' rules with no"
    lifted = [gid for gid in answered_no if with_log[gid] > words.get(gid, 0.0)]
    assert not lifted, lifted
