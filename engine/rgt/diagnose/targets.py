"""Which boxes one diagnose request probes, as transports: SSH hosts (named, listed, or from a
hosts file), this machine, or saved captures; and whether its capture can be saved.

Everything here is checked before the first connection, so a mistake costs no probing.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import UsageError
from . import hosts as hostlist
from . import transport as tr

FAN_OUT = 64  # boxes reached at once; past that, threads and sockets cost more than the waves they save


def transports(hosts: Sequence[str] = (), hosts_file: str | None = None, local: bool = False,
               captures: Sequence[str] = (), *, accept_new_host_key: bool = False,
               connect_timeout: float = 15.0, ssh_config: str | None = None) -> list[tr.Transport]:
    named = hostlist.collect(list(hosts), hosts_file)
    if sum(bool(x) for x in (named, local, captures)) > 1:
        raise UsageError("choose one of --host, --local or --capture")
    if captures:
        return [tr.CaptureTransport(c) for c in captures]
    if local:
        return [tr.LocalTransport()]
    config = ssh_config or os.environ.get("RGT_SSH_CONFIG")  # the same default over the CLI and MCP
    return [tr.SSHTransport(h, accept_new_host_key=accept_new_host_key, connect_timeout=connect_timeout,
                            config_path=config) for h in named]


def check_capture_target(target: str, hosts: list[str], force: bool) -> None:
    """A capture that cannot be written must not cost the diagnosis, and an earlier capture is
    evidence too: it is never replaced silently."""
    from ..overwrite import refuse_overwrite
    from .diagnosis import capture_path

    many = len(hosts) > 1
    path = Path(target)
    if many:  # a directory of HOST.json, made if missing
        where, bad = path, path.exists() and not path.is_dir()
    else:
        where, bad = path.parent, not path.parent.is_dir()
    if bad:
        raise UsageError(f"cannot write the capture: {where} is not a directory",
                         hint="--save-capture FILE in an existing directory; with several hosts, a directory")
    if force or (many and not path.is_dir()):
        return  # a directory still to be made holds nothing to lose
    for host in hosts:
        refuse_overwrite(capture_path(target, host, len(hosts)))
