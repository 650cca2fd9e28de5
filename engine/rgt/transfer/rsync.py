"""rsync off the box, with the flags references/ssh-transport.md proves right for checkpoints
that get saved again: a piece in flight waits in .rsync-partial and the next run resumes it by
rsync's delta transfer; no --append, which would keep a stale copy of a same-size rewrite.

rsync's remote shell is rgt's bridge (rgt.transfer.bridge); this side runs the remote half on
an exec channel of the caller's paramiko client and pumps bytes between the two."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

from ..errors import RemoteError
from .bridge import pump

FLAGS = ["-a", "--partial-dir=.rsync-partial", "--timeout=60"]
PARTIAL_DIR = ".rsync-partial"
OK = (0, 23, 24)  # 23/24: some files could not be read or vanished; verification names them


def available() -> bool:
    return shutil.which("rsync") is not None


def _serve(sock: socket.socket, client, errors: list[str]) -> None:
    """Run the command the bridge names on the box and join its stdio to the socket."""
    import paramiko

    reader = sock.makefile("rb")
    try:
        command = json.loads(reader.readline())
        channel = client.get_transport().open_session()
        channel.exec_command(command)
    except (OSError, EOFError, ValueError, paramiko.SSHException) as e:  # rsync then fails and says so
        errors.append(f"cannot start rsync on the box: {e}")
        sock.close()
        return

    def finish() -> None:
        while channel.recv_stderr_ready():
            errors.append(channel.recv_stderr(1 << 16).decode("utf-8", "replace"))
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        channel.close()

    def guarded(*args) -> None:  # a dropped link ends the pump; rsync reports it, in one line
        try:
            pump(*args)
        except (OSError, EOFError, paramiko.SSHException) as e:
            errors.append(f"the connection dropped: {e}")

    threading.Thread(target=guarded, args=(reader.read1, channel.sendall, channel.shutdown_write), daemon=True).start()
    guarded(channel.recv, sock.sendall, finish)  # box -> rsync, until the box's rsync ends


def pull(client, remote_root: str, paths: list[str], dest: Path, where: str, show_progress: bool,
         recopy: bool = False) -> str:
    """Copy `paths` (relative to remote_root) into dest; raise RemoteError when rsync fails. Returns
    rsync's first complaint when it copied some files and not others (verification names them).
    `recopy` sends files whose size and mtime match but whose sha256 does not (--ignore-times:
    rsync's quick check would skip them; its delta transfer still sends only what differs)."""
    ours, theirs = socket.socketpair()
    errors: list[str] = []
    rsh = f"{sys.executable} -m rgt.transfer.bridge {theirs.fileno()}"
    argv = ["rsync", *FLAGS, "--from0", "--files-from=-", "-e", rsh]
    argv += ["--info=progress2"] if show_progress else []
    argv += ["--ignore-times"] if recopy else []
    argv += [f"rgt:{remote_root.rstrip('/')}/", f"{dest}/"]
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=sys.stderr if show_progress else subprocess.DEVNULL,
                            stderr=subprocess.PIPE, pass_fds=(theirs.fileno(),))
    theirs.close()
    server = threading.Thread(target=_serve, args=(ours, client, errors), daemon=True)
    server.start()
    _, err = proc.communicate(b"\0".join(p.encode() for p in paths) + b"\0")
    server.join(timeout=10)
    ours.close()
    said = [ln for ln in (err.decode("utf-8", "replace") + "".join(errors)).splitlines() if ln.strip()]
    if proc.returncode in OK:
        return said[0] if proc.returncode and said else ""
    else:
        raise RemoteError(f"rsync stopped with status {proc.returncode}" + (f": {said[0]}" if said else ""),
                          where=where, hint="run the same rgt pull again: it resumes where this one stopped")
