"""A real OpenSSH server on 127.0.0.1 for the tests, with throwaway host and user keys.

Missing sshd is a failure, not a skip: the SSH transport is the product's main path.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@dataclass
class Server:
    port: int
    dir: Path
    user: str
    key: Path            # the authorised user key
    known_hosts: Path    # holds the server's host key
    config: Path         # an ssh_config with the alias `rgt-box`
    proc: subprocess.Popen

    def session_pids(self) -> list[int]:
        """sshd children: one per open connection."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def start(base: Path, extra_config: str = "") -> Server:
    if not os.path.exists(SSHD):
        raise RuntimeError("OpenSSH sshd is not installed; run tests/run.sh, which installs openssh-server")
    base.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege-separation directory sshd insists on
    host_key, user_key = keygen(base / "host_key"), keygen(base / "user_key")
    (base / "authorized_keys").write_text((base / "user_key.pub").read_text())
    port, user = free_port(), os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    (base / "sshd_config").write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {base}/sshd.pid
AuthorizedKeysFile {base}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
LogLevel ERROR
{extra_config}""")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(base / "sshd_config")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {proc.stderr.read().decode()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    host_pub = (base / "host_key.pub").read_text().split()
    known = base / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    config = base / "ssh_config"
    config.write_text(f"""\
Host rgt-box
  HostName 127.0.0.1
  Port {port}
  User {user}
  IdentityFile {user_key}
  UserKnownHostsFile {known}
  IdentitiesOnly yes
""")
    return Server(port, base, user, user_key, known, config, proc)


def stop(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(5)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
    server.proc.stderr.close()
