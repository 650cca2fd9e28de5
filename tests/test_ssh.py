"""The SSH transport against a real sshd on 127.0.0.1: each failure is one line and exit 3, and
diagnose leaves the box as it found it."""
from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path


import sshd
from helpers import run

QUERY = ["diagnose", "run vanished at 6h", "--platform", "generic"]


def one_line_exit_3(r, starts: str) -> None:
    assert r.code == 3, (r.code, r.err)
    assert r.out == "" and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert starts in r.err, r.err


def config_with(server, tmp_path: Path, **changes) -> Path:
    text = server.config.read_text()
    for old, new in changes.items():
        text = text.replace(old, new)
    path = tmp_path / "ssh_config"
    path.write_text(text)
    return path


def test_refused_connection(capsys, sshd_server, tmp_path):
    cfg = config_with(sshd_server, tmp_path, **{f"Port {sshd_server.port}": f"Port {sshd.free_port()}"})
    r = run(capsys, *QUERY, "--host", "rgt-box", "--ssh-config", str(cfg))
    one_line_exit_3(r, "connection refused")


def test_wrong_key(capsys, sshd_server, tmp_path):
    other = sshd.keygen(tmp_path / "other_key")
    cfg = config_with(sshd_server, tmp_path, **{str(sshd_server.key): str(other)})
    r = run(capsys, *QUERY, "--host", "rgt-box", "--ssh-config", str(cfg))
    one_line_exit_3(r, "authentication failed")


def test_unknown_host_key_is_refused_unless_accepted(capsys, sshd_server, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    cfg = config_with(sshd_server, tmp_path, **{str(sshd_server.known_hosts): str(empty)})
    r = run(capsys, *QUERY, "--host", "rgt-box", "--ssh-config", str(cfg))
    one_line_exit_3(r, "unknown host key; refusing to connect")
    assert "--accept-new-host-key" in r.err
    r = run(capsys, *QUERY, "--host", "rgt-box", "--ssh-config", str(cfg), "--accept-new-host-key")
    assert r.code == 0, r.err
    assert f"[127.0.0.1]:{sshd_server.port}" in empty.read_text(), "an accepted key is remembered"


def test_changed_host_key_is_refused(capsys, sshd_server, tmp_path):
    fake = sshd.keygen(tmp_path / "fake_host").with_suffix(".pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd_server.port} {fake[0]} {fake[1]}\n")
    cfg = config_with(sshd_server, tmp_path, **{str(sshd_server.known_hosts): str(known)})
    r = run(capsys, *QUERY, "--host", "rgt-box", "--ssh-config", str(cfg))
    one_line_exit_3(r, "host key differs")


def test_timeout_when_the_server_never_speaks(capsys, sshd_server, tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts into the backlog, never sends a banner
    try:
        cfg = config_with(sshd_server, tmp_path, **{f"Port {sshd_server.port}": f"Port {silent.getsockname()[1]}"})
        r = run(capsys, *QUERY, "--host", "rgt-box", "--ssh-config", str(cfg), "--connect-timeout", "1")
    finally:
        silent.close()
    one_line_exit_3(r, "")
    assert "timed out" in r.err or "SSH failed" in r.err


def test_connection_dropped_mid_probe(capsys, sshd_server, tmp_path, repo):
    kb = tmp_path / "kb"
    shutil.copytree(repo / "tests" / "fixtures" / "lint" / "clean", kb)
    probes = kb / "references" / "probes.md"
    probes.write_text(probes.read_text().replace("command: cat /proc/uptime", "command: sleep 5; cat /proc/uptime")
                      .replace("timeout: 3", "timeout: 10"))
    before = set(sshd_server.session_pids())

    def cut():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            new = set(sshd_server.session_pids()) - before
            if new:
                time.sleep(0.8)  # let the batch start
                for pid in new:
                    subprocess.run(["kill", "-9", str(pid)])
                return
            time.sleep(0.05)

    killer = threading.Thread(target=cut)
    killer.start()
    r = run(capsys, "diagnose", "run vanished at 6h", "--kb", str(kb), "--platform", "sample",
            "--host", "rgt-box", "--ssh-config", str(sshd_server.config))
    killer.join()
    one_line_exit_3(r, "connection dropped while the probes ran")


def sessions_left_behind(server, before: set[int], grace: float = 5.0) -> set[int]:
    """sshd sessions opened since `before` that are still alive once sshd has had `grace` seconds
    to reap them; sshd closes a session a moment after the client does, so poll, don't sleep."""
    deadline = time.monotonic() + grace
    while True:
        new = set(server.session_pids()) - before
        if not new or time.monotonic() > deadline:
            return new
        time.sleep(0.05)


def _snapshot(home: Path) -> dict:
    out = {}
    for p in home.rglob("*"):
        try:
            if ".cache" in p.parts or "__pycache__" in p.parts:
                continue
            st = p.lstat()
            out[str(p)] = (st.st_size, st.st_mtime_ns)
        except OSError:
            pass
    return out


def test_diagnose_never_changes_the_box(capsys, sshd_server, tmp_path, repo):
    """The remote user's files and processes are the same before and after a full diagnose."""
    box = tmp_path / "box-home"
    (box / "proj").mkdir(parents=True)
    (box / "proj" / "train.py").write_text("print('hi')\n")
    before_files = _snapshot(box)
    before_sessions = set(sshd_server.session_pids())
    r = run(capsys, "diagnose", "training process vanished after 6 hours exit code 137 no space left",
            "--host", "rgt-box", "--ssh-config", str(sshd_server.config), "--workdir", str(box), "--limit", "20")
    assert r.code == 0, r.err
    assert _snapshot(box) == before_files
    assert not sessions_left_behind(sshd_server, before_sessions), "diagnose left a process behind on the box"


def _with_hop(server, tmp_path: Path, directive: str) -> Path:
    cfg = tmp_path / "ssh_config_hop"
    text = server.config.read_text()
    hop = text.replace("Host rgt-box", "Host rgt-hop").replace("  HostName 127.0.0.1", f"  HostName 127.0.0.1\n  {directive}")
    cfg.write_text(text + "\n" + hop)
    return cfg


def test_proxyjump_from_ssh_config_is_honoured(capsys, sshd_server, tmp_path):
    cfg = _with_hop(sshd_server, tmp_path, "ProxyJump rgt-box")
    before = set(sshd_server.session_pids())
    r = run(capsys, *QUERY, "--host", "rgt-hop", "--ssh-config", str(cfg), "--json")
    assert r.code == 0, r.err
    assert r.json()["hosts"][0]["probes"] > 0
    assert not sessions_left_behind(sshd_server, before), "the hop or the target session stayed open"


def test_proxycommand_from_ssh_config_is_honoured(capsys, sshd_server, tmp_path):
    cfg = _with_hop(sshd_server, tmp_path, "ProxyCommand ssh -F {cfg} -W %h:%p rgt-box")
    cfg.write_text(cfg.read_text().replace("{cfg}", str(cfg)))
    r = run(capsys, *QUERY, "--host", "rgt-hop", "--ssh-config", str(cfg), "--json")
    assert r.code == 0, r.err
    assert r.json()["hosts"][0]["probes"] > 0
