"""The remote shell rsync is given (`rsync -e`): it carries rsync's bytes over a socket that
rgt handed down, and rgt runs the remote half over its own paramiko connection. So rsync goes
through the same ssh_config alias, host-key policy and ProxyJump as everything else rgt does,
and no `ssh` binary or second login is involved.

    python -m rgt.transfer.bridge FD  HOST COMMAND...

The first line sent is the remote command (rsync's arguments after the host, joined as ssh
joins them); then standard input goes to the socket and the socket to standard output."""
from __future__ import annotations

import json
import os
import socket
import sys
import threading

BLOCK = 1 << 16


def pump(read, write, done) -> None:
    """Copy blocks from read to write until either side ends, then call done (both rsync ends use it)."""
    try:
        while block := read(BLOCK):
            write(block)
    except OSError:
        pass
    finally:
        done()


def main(argv: list[str]) -> int:
    fd, command = int(argv[0]), argv[2:]  # argv[1] is the host rsync names; rgt already knows it
    sock = socket.socket(fileno=fd)
    sock.sendall(json.dumps(" ".join(command)).encode() + b"\n")
    # rsync makes its pipes to a remote shell non-blocking unless --blocking-io; a short read or
    # write here would then drop bytes of its protocol
    os.set_blocking(0, True)
    os.set_blocking(1, True)

    def write_out(block: bytes) -> None:
        view = memoryview(block)
        while view:
            view = view[os.write(1, view):]

    def half_close() -> None:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    up = threading.Thread(target=pump, args=(lambda n: os.read(0, n), sock.sendall, half_close), daemon=True)
    up.start()
    pump(sock.recv, write_out, lambda: None)  # the box's side ended: rsync sees the end of its input
    os.close(1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
