"""`rgt pull` over a real OpenSSH server on 127.0.0.1: the copy is resumable and verified, the box
is only read, and the verdict on a destroy is honest. Each test runs on a box with rsync and on
one without it (its sessions get a PATH with no rsync, so the copy goes over SFTP)."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sshd

REPO = Path(__file__).resolve().parent.parent
RGT = str(Path(sys.executable).parent / "rgt")
VERIFY = REPO / "scripts" / "verify_local.py"
BIG = 128 << 20  # big enough to kill the copy halfway over loopback


def _no_rsync_path(base: Path) -> Path:
    """A PATH directory holding every command of /usr/bin and /bin except rsync."""
    bin_dir = base / "bin"
    bin_dir.mkdir(parents=True)
    for top in ("/usr/bin", "/bin"):
        for entry in os.scandir(top):
            if entry.name != "rsync" and not (bin_dir / entry.name).exists():
                (bin_dir / entry.name).symlink_to(entry.path)
    return bin_dir


@pytest.fixture(scope="module", params=["rsync", "sftp"])
def box(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"box-{request.param}")
    extra = "Subsystem sftp internal-sftp\n"
    if request.param == "sftp":
        extra += f"SetEnv PATH={_no_rsync_path(base)}\n"
    server = sshd.start(base / "sshd", extra_config=extra)
    server.method = request.param
    yield server
    sshd.stop(server)


def pull(box, remote: Path, local: Path, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([RGT, "pull", "--host", "rgt-box", "--ssh-config", str(box.config), str(remote), str(local),
                           "--json", *extra], capture_output=True, text=True, timeout=timeout)


def run_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    (d / "sub").mkdir(parents=True)
    (d / "last.pt").write_bytes(os.urandom(1 << 20))
    (d / "sub" / "metrics.jsonl").write_text('{"step": 1}\n')
    (d / "my file.txt").write_text("spaces in the name\n")
    return d


def tree(d: Path) -> list[tuple]:
    """Every entry under d (hidden ones too) with size, mtime and content hash."""
    out = []
    for p in sorted(d.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
        out.append((str(p.relative_to(d)), st.st_mode, st.st_size, st.st_mtime_ns, digest))
    return out


def box_processes(box) -> list[str]:
    """Processes the box's sshd started, and any process whose command line names the pulled path."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines() if line.strip()]
    children, frontier = set(), {str(box.proc.pid)}
    while frontier:
        frontier = {pid for pid, ppid, *_ in rows if ppid in frontier} - children
        children |= frontier
    return sorted(f"{pid} {args[0] if args else ''}" for pid, _, *args in rows if pid in children)


def settled(box, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while (procs := box_processes(box)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return procs


def test_a_clean_pull_is_verified_safe_and_leaves_the_box_as_it_was(box, tmp_path):
    remote, local = run_dir(tmp_path), tmp_path / "copy"
    before, procs_before = tree(remote), settled(box)
    r = pull(box, remote, local, "--platform", "vastai")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    host = data["hosts"][0]
    assert host["method"] == box.method
    assert (host["files"], host["matched"], host["missing"], host["mismatched"]) == (3, 3, [], [])
    assert data["safe_to_destroy"] is True and data["reasons"] == []
    assert data["destroy"]["verb"] == "destroy" and data["destroy"]["irreversible"] is True
    assert data["destroy"]["still_bills"] == ["volume"] and str(remote) in data["destroy"]["deletes"]
    for name in ("last.pt", "sub/metrics.jsonl", "my file.txt"):
        assert (local / name).read_bytes() == (remote / name).read_bytes()
    assert not (local / ".rgt-partial").exists() and not (local / ".rsync-partial").exists()
    # the box: not one byte, mtime or entry changed, and nothing of rgt's is left running there
    assert tree(remote) == before
    assert settled(box) == procs_before == []
    v = subprocess.run([sys.executable, str(VERIFY), str(local)], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.splitlines()[-1] == "VERIFIED 3 file(s) in 1 manifest(s)", v.stdout


def test_a_local_file_corrupted_after_the_pull_fails_verify_local_and_a_new_pull_mends_it(box, tmp_path):
    remote, local = run_dir(tmp_path), tmp_path / "copy"
    assert pull(box, remote, local, "--platform", "vastai").returncode == 0
    data = bytearray((local / "last.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one bit rot, same size
    (local / "last.pt").write_bytes(bytes(data))
    v = subprocess.run([sys.executable, str(VERIFY), str(local)], capture_output=True, text=True)
    assert v.returncode == 1 and f"SHA256 MISMATCH {local / 'last.pt'}" in v.stdout, v.stdout
    again = pull(box, remote, local, "--platform", "vastai")
    assert again.returncode == 0, again.stdout
    assert (local / "last.pt").read_bytes() == (remote / "last.pt").read_bytes()


def test_a_last_pt_saved_again_at_the_same_size_and_mtime_is_taken_by_the_second_pull(box, tmp_path):
    remote, local = run_dir(tmp_path), tmp_path / "copy"
    assert pull(box, remote, local, "--platform", "vastai").returncode == 0
    st = (remote / "last.pt").stat()
    (remote / "last.pt").write_bytes(os.urandom(st.st_size))
    os.utime(remote / "last.pt", ns=(st.st_atime_ns, st.st_mtime_ns))  # nothing but the bytes tells them apart
    r = pull(box, remote, local, "--platform", "vastai")
    assert r.returncode == 0, r.stdout
    assert (local / "last.pt").read_bytes() == (remote / "last.pt").read_bytes()
    v = subprocess.run([sys.executable, str(VERIFY), str(local)], capture_output=True, text=True)
    assert v.returncode == 0, v.stdout


def pull_while_writing(box, remote: Path, local: Path, code: str, path: Path) -> tuple[dict, int]:
    """Pull while a python program (`code`, given `path` as argv[1]) writes on the box: the
    verdict, which must be `not safe` (exit 1), and the writer's pid."""
    writer = subprocess.Popen([sys.executable, "-c", code, str(path)])
    try:
        while not path.exists() or not path.stat().st_size:
            time.sleep(0.01)
        r = pull(box, remote, local, "--platform", "vastai")
    finally:
        writer.kill()
        writer.wait()
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert data["safe_to_destroy"] is False
    assert any(path.name in reason for reason in data["reasons"]), data["reasons"]
    return data, writer.pid


def test_a_file_being_written_during_the_pull_is_named_and_the_box_is_not_safe(box, tmp_path):
    remote, local = run_dir(tmp_path), tmp_path / "copy"
    data, pid = pull_while_writing(box, remote, local, "import sys, time\nf = open(sys.argv[1], 'a')\n"
                                   "while True:\n    f.write('step\\n'); f.flush(); time.sleep(0.01)\n",
                                   remote / "train.log")
    assert data["hosts"][0]["being_written"] == [{"path": "train.log", "by": [f"pid {pid} (python3)"]}] or \
        data["hosts"][0]["being_written"] == [{"path": "train.log", "by": [f"pid {pid} ({Path(sys.executable).name[:15]})"]}]
    assert any("train.log is open for writing" in reason for reason in data["reasons"]), data["reasons"]


def big_run(tmp_path: Path) -> tuple[Path, Path]:
    remote, local = tmp_path / "run", tmp_path / "copy"
    remote.mkdir()
    with open(remote / "big.pt", "wb") as f:
        for _ in range(BIG >> 20):
            f.write(os.urandom(1 << 20))
    return remote, local


def start_and_wait_for_the_copy(box, remote: Path, local: Path) -> subprocess.Popen:
    """An rgt pull of big.pt, returned once several MB of it have arrived."""
    proc = subprocess.Popen([RGT, "pull", "--host", "rgt-box", "--ssh-config", str(box.config), str(remote),
                             str(local), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def in_flight() -> int:  # rsync writes a hidden temporary beside the file, rgt's own copier a .rgt-partial
        found = list(local.glob(".big.pt.*")) + list(local.glob(".rgt-partial/big.pt"))
        return max((p.stat().st_size for p in found if p.exists()), default=0)
    deadline = time.monotonic() + 60
    while in_flight() < 8 << 20 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the copy finished before it could be interrupted"
    return proc


def test_a_pull_killed_midway_resumes_where_it_stopped(box, tmp_path):
    remote, local = big_run(tmp_path)
    first = start_and_wait_for_the_copy(box, remote, local)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate()
    settled(box)
    time.sleep(0.5)  # rsync, left without its remote shell, puts its piece in .rsync-partial and exits
    assert not (local / "big.pt").exists()
    r = pull(box, remote, local, "--platform", "vastai")
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    resumed = data["hosts"][0]["resumed"]
    assert [x["path"] for x in resumed] == ["big.pt"] and 0 < resumed[0]["from_byte"] < BIG, resumed
    assert data["safe_to_destroy"] is True
    assert hashlib.sha256((local / "big.pt").read_bytes()).hexdigest() == \
        hashlib.sha256((remote / "big.pt").read_bytes()).hexdigest()


def test_a_connection_that_drops_midway_is_one_line_and_exit_3(box, tmp_path):
    remote, local = big_run(tmp_path)
    proc = start_and_wait_for_the_copy(box, remote, local)
    for pid in box.session_pids():  # the box's side of the connection dies, as when the network goes
        os.kill(pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3 and out == "", (out, err)
    assert err.count("\n") == 1 and err.startswith("rgt: ") and "Traceback" not in err
    assert "run the same rgt pull again" in err, err


def test_several_hosts_each_go_to_their_own_directory(box, tmp_path):
    remote, local = run_dir(tmp_path), tmp_path / "copy"
    cfg = tmp_path / "ssh_config"
    cfg.write_text(box.config.read_text().replace("Host rgt-box", "Host node1 node2"))
    r = subprocess.run([RGT, "pull", "--host", "node[1-2]", "--ssh-config", str(cfg), str(remote), str(local),
                        "--platform", "vastai", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [(h["host"], h["local_dir"]) for h in data["hosts"]] == [("node1", str(local / "node1")),
                                                                   ("node2", str(local / "node2"))]
    assert data["safe_to_destroy"] is True and "node1, node2" in data["destroy"]["deletes"]
    v = subprocess.run([sys.executable, str(VERIFY), str(local)], capture_output=True, text=True)
    assert v.returncode == 0 and "VERIFIED 6 file(s) in 2 manifest(s)" in v.stdout, v.stdout


# --- mistakes end in one line, before a box is reached where they can --------------------------

def _one_line(r) -> str:
    assert r.out == "" and r.err.count("\n") == 1 and r.err.startswith("rgt: ") and "Traceback" not in r.err, r
    return r.err


def test_mistakes_in_the_request_are_one_line_with_exit_2(capsys, tmp_path):
    from helpers import run

    (tmp_path / "file").write_text("x")
    dead = f"127.0.0.1:{sshd.free_port()}"  # nothing listens: reaching it would be exit 3, not 2
    cases = [
        (["pull", "--host", dead, "/r", str(tmp_path / "c"), "--platform", "nowhere"], "unknown platform `nowhere`"),
        (["pull", "--host", dead, "/r", str(tmp_path / "c"), "--variant", "core"], "--variant needs --platform"),
        (["pull", "/r", str(tmp_path / "c")], "pull needs --host H (or --local)"),
        (["pull", "--host", dead, "/r", str(tmp_path / "file")], "is a file"),
        (["pull", "--local", str(tmp_path / "absent"), str(tmp_path / "c")], "does not exist"),
    ]
    for argv, words in cases:
        r = run(capsys, *argv)
        assert r.code == 2 and words in _one_line(r), (argv, r)


def test_a_box_that_cannot_be_reached_or_lacks_the_directory_is_named(capsys, box, tmp_path):
    from helpers import run

    dead = f"127.0.0.1:{sshd.free_port()}"
    r = run(capsys, "pull", "--host", dead, "/r", str(tmp_path / "c"), "--json")
    assert r.code == 3 and "connection refused" in _one_line(r)
    r = run(capsys, "pull", "--host", "rgt-box", "--ssh-config", str(box.config), str(tmp_path / "absent"),
            str(tmp_path / "c"), "--json")
    assert r.code == 2 and f"rgt-box: {tmp_path / 'absent'} does not exist on the box" in _one_line(r)


def test_a_checkpoint_rewritten_while_the_box_hashes_it_is_caught(box, tmp_path):
    """A writer that opens, rewrites and closes the file over and over holds it open only for
    moments; the size and mtime that move while sha256sum reads it give it away."""
    remote, local = run_dir(tmp_path), tmp_path / "copy"
    (remote / "ckpt.pt").write_bytes(os.urandom(32 << 20))
    data, _ = pull_while_writing(box, remote, local, "import sys, time\nn = 0\nwhile True:\n"
                                 "    n += 1\n    with open(sys.argv[1], 'r+b') as f:\n"
                                 "        f.seek(n % (32 << 20)); f.write(b'x')\n    time.sleep(0.005)\n",
                                 remote / "ckpt.pt")
    host = data["hosts"][0]
    assert "ckpt.pt" in host["changed_while_listed"] + [w["path"] for w in host["being_written"]], host


@pytest.mark.parametrize("as_json", [False, True])
def test_a_terminal_gets_a_progress_bar_and_json_stays_quiet(tmp_path, as_json):
    import pty

    remote = run_dir(tmp_path)
    primary, secondary = pty.openpty()
    r = subprocess.run([RGT, "pull", "--local", str(remote), str(tmp_path / "copy"), "--platform", "vastai"]
                       + (["--json"] if as_json else []), stdout=subprocess.PIPE, stderr=secondary, timeout=60)
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 1 << 16)
        except OSError:  # the terminal's other side is closed: all was read
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    assert r.returncode == 0
    if as_json:
        assert shown == b"" and json.loads(r.stdout)["safe_to_destroy"] is True
    else:
        assert b"MB/s" in shown and b"100%" in shown, shown


def test_the_copy_goes_through_proxyjump_like_every_other_connection(box, tmp_path):
    """rsync and SFTP ride rgt's own paramiko connection, so the alias's ProxyJump is honoured."""
    remote, local = run_dir(tmp_path), tmp_path / "copy"
    cfg = tmp_path / "ssh_config"
    text = box.config.read_text()
    cfg.write_text(text + "\n" + text.replace("Host rgt-box", "Host rgt-hop")
                   .replace("  HostName 127.0.0.1", "  HostName 127.0.0.1\n  ProxyJump rgt-box"))
    r = subprocess.run([RGT, "pull", "--host", "rgt-hop", "--ssh-config", str(cfg), str(remote), str(local),
                        "--platform", "vastai", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["hosts"][0]["method"] == box.method
    assert (local / "last.pt").read_bytes() == (remote / "last.pt").read_bytes()
    assert settled(box) == []


def test_an_empty_directory_or_a_symlink_is_never_called_safe(capsys, tmp_path):
    from helpers import run

    empty = tmp_path / "empty"
    empty.mkdir()
    r = run(capsys, "pull", "--local", str(empty), str(tmp_path / "c1"), "--platform", "vastai", "--json")
    assert r.code == 1 and any("holds no files" in reason for reason in r.json()["reasons"]), r
    linked = run_dir(tmp_path)
    (linked / "best.pt").symlink_to(linked / "last.pt")
    r = run(capsys, "pull", "--local", str(linked), str(tmp_path / "c2"), "--platform", "vastai", "--json")
    assert r.code == 1 and any("symlink best.pt was not followed" in reason for reason in r.json()["reasons"]), r
