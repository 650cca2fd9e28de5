"""Transports run one script and return one result type. They know nothing about probes.

- LocalTransport: this machine, through bash.
- SSHTransport: a remote box through paramiko, honouring ~/.ssh/config (HostName, Port, User,
  IdentityFile, ProxyJump, ProxyCommand), over ONE connection and ONE exec channel. Unknown host
  keys are refused unless the user opted in.
- CaptureTransport: replays what a box answered before (`--save-capture`), offline.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import json
import os
import re
import socket
import subprocess
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import RemoteError, RgtError, UsageError

CAPTURE_VERSION = 1


@dataclass
class CommandResult:
    rc: int | None  # None when the remote side never reported an exit status
    stdout: str
    stderr: str
    command: str


class Transport(Protocol):
    """What diagnose needs of a way to reach a box: run one script, say which host, let go."""
    name: str
    host: str

    def start(self) -> None:
        """Begin reaching the box, so the connection overlaps the caller's own work (may do nothing)."""

    def run(self, script: str, timeout: float) -> CommandResult: ...

    def close(self) -> None: ...


class LocalTransport:
    name = "local"

    def __init__(self) -> None:
        self.host = "localhost"

    def start(self) -> None:
        pass

    def run(self, script: str, timeout: float) -> CommandResult:
        try:
            # a session of its own, as sshd gives the remote batch: rgt's processes are then told
            # apart from a run started in the same terminal
            done = subprocess.run(["bash", "-s"], input=script, capture_output=True, text=True,
                                  timeout=timeout, errors="replace", start_new_session=True)
        except subprocess.TimeoutExpired:
            raise RemoteError("probes did not finish in time", where="localhost",
                              hint=f"the batch exceeded {timeout:.0f} s; a probe's tool is hung") from None
        return CommandResult(done.returncode, done.stdout, done.stderr, "bash -s")

    def close(self) -> None:
        pass


class CaptureTransport:
    """Replays a saved capture; the script is not run, its saved output is returned."""
    name = "capture"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"capture file {self.path} does not exist", hint="save one with --save-capture FILE") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UsageError(f"{self.path}: not a capture file ({e})", hint="pass a file written by --save-capture") from None
        if not isinstance(data, dict) or data.get("version") != CAPTURE_VERSION or "stdout" not in data:
            raise UsageError(f"{self.path}: not an rgt capture (version {CAPTURE_VERSION})",
                             hint="pass a file written by --save-capture")
        self.data = data
        self.host = data.get("host", str(self.path))

    def start(self) -> None:
        pass

    def run(self, script: str, timeout: float) -> CommandResult:
        return CommandResult(self.data.get("rc"), self.data["stdout"], self.data.get("stderr", ""), "capture")

    def close(self) -> None:
        pass


def save_capture(path: str | Path, host: str, result: CommandResult) -> None:
    data = {"version": CAPTURE_VERSION, "host": host,
            "taken": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **asdict(result)}
    try:
        Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write the capture {path}: {e.strerror}", hint="pick a writable path") from None


# ---------------------------------------------------------------- SSH

@dataclass
class SSHTarget:
    alias: str
    hostname: str
    port: int
    user: str
    identity_files: list[str]
    proxy_command: str | None
    proxy_jump: str | None
    known_hosts: list[str]


def split_spec(spec: str) -> tuple[str, str, int | None]:
    """`user@host:port`, `host`, `[::1]:22`, `user@[fe80::1]` -> (user or "", host, port or None)."""
    bad = UsageError(f"bad host `{spec}`", hint="use an ssh_config alias, user@host[:port] or [IPv6]:port")
    user, _, hostport = spec.rpartition("@")
    if hostport.count(":") > 1 and "[" not in hostport:  # a bare IPv6 address: no port can follow
        return user, hostport, None
    m = re.fullmatch(r"\[([^\[\]]+)\](?::(.*))?|([^:\[\]]+)(?::(.*))?", hostport)
    if not m:
        raise bad
    host, port = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    if port is None:
        return user, host, None
    if not port.isdigit():
        raise bad
    if not 1 <= int(port) <= 65535:
        raise UsageError(f"bad host `{spec}`: port {port} is outside 1-65535", hint="check the port number")
    return user, host, int(port)


def resolve_target(spec: str, config_path: str | None = None) -> SSHTarget:
    """`alias` from ssh_config, or `user@host[:port]`; the config's values fill what is not given.
    paramiko's lookup already expands `~` and the %h/%p/%r tokens in IdentityFile, ProxyCommand
    and ProxyJump, so the values are used as it returns them."""
    user, host, port = split_spec(spec)
    found = _ssh_config(config_path).lookup(host)
    known = [os.path.expanduser(p) for p in str(found.get("userknownhostsfile", "~/.ssh/known_hosts")).split()]
    return SSHTarget(
        alias=spec,
        hostname=found.get("hostname", host),
        port=port or int(found.get("port", 22)),
        user=user or found.get("user") or os.environ.get("USER") or "root",
        identity_files=list(found.get("identityfile", [])),
        proxy_command=found.get("proxycommand"),
        proxy_jump=found.get("proxyjump"),
        known_hosts=known,
    )


def _ssh_config(config_path: str | None):
    """The ssh_config in force. A file the user named must exist: silently using no config would
    connect somewhere else than they meant. The default ~/.ssh/config may be missing."""
    import paramiko

    named = config_path or os.environ.get("RGT_SSH_CONFIG")
    path = Path(named or Path.home() / ".ssh" / "config").expanduser()
    if not named and not path.exists():
        return paramiko.SSHConfig()
    try:
        return _parsed_config(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"cannot read the ssh config {path}: {e.strerror}",
                         hint="pass an existing file to --ssh-config (or RGT_SSH_CONFIG)") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a text ssh_config file", hint="pass an ssh_config file to --ssh-config") from None
    except paramiko.ssh_exception.ConfigParseError as e:
        raise UsageError(f"{path}: {e}", hint="fix the ssh_config syntax") from None


@functools.lru_cache(maxsize=8)
def _parsed_config(text: str):
    """Parsed once per text: a fleet of 32 aliases reads one config, not 32 (lookup only reads it)."""
    import paramiko

    config = paramiko.SSHConfig()
    config.parse(io.StringIO(text))
    return config


def _proxy_command(cmd: str):
    """paramiko's ProxyCommand signals its process on close but never reaps it, and paramiko
    closes it twice (the second kill then hits a reaped pid): close once, reap, close the pipes."""
    import paramiko

    class ReapingProxyCommand(paramiko.ProxyCommand):
        def close(self) -> None:
            if self.process.poll() is None:
                try:
                    super().close()
                except ProcessLookupError:
                    pass
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
                if pipe and not pipe.closed:
                    pipe.close()

    return ReapingProxyCommand(cmd)


def _refuse_unknown_keys(where: str):
    """A host-key policy that ends the connection with rgt's own one-line error, so an unknown key
    is recognised by its type rather than by paramiko's wording."""
    import base64
    import hashlib

    import paramiko

    class RefuseUnknownHostKey(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
            raise RemoteError("unknown host key; refusing to connect", where=where,
                              hint=f"verify the fingerprint {key.get_name()} SHA256:{digest} and add it with `ssh` "
                                   "once, or pass --accept-new-host-key")

    return RefuseUnknownHostKey()


# A fleet behind one login node (ProxyJump or ProxyCommand) opens one connection to it per host,
# all at once. sshd drops connections that have not yet authenticated past MaxStartups (default
# 10:30:100: from 10 on, 30 % at random), and frees a slot a moment after the client sees its
# login succeed: at most this many handshakes with one sshd run at a time.
HANDSHAKES_PER_SSHD = 6
_gates: dict[str, threading.BoundedSemaphore] = {}
_gates_lock = threading.Lock()


def _handshake_gate(key: str) -> threading.BoundedSemaphore:
    with _gates_lock:
        return _gates.setdefault(key, threading.BoundedSemaphore(HANDSHAKES_PER_SSHD))


def _quiet_paramiko() -> None:
    """paramiko logs a failed handshake, traceback and all, from its transport thread; with no
    handler configured Python prints that to stderr. rgt reports the failure itself, in one line.
    `--debug` configures logging, and the records still reach its handlers."""
    import logging

    logger = logging.getLogger("paramiko")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


class SSHTransport:
    name = "ssh"

    def __init__(self, spec: str, *, accept_new_host_key: bool = False, connect_timeout: float = 15.0,
                 config_path: str | None = None):
        self.target = resolve_target(spec, config_path)
        self.host = spec
        self.accept_new = accept_new_host_key
        self.connect_timeout = connect_timeout
        self.config_path = config_path
        self._clients: list = []
        self._opener: Any = None  # the thread start() began connecting in
        self._opened: Any = None  # its (stdin, stdout, stderr), or what it raised

    def _where(self) -> str:
        t = self.target
        return f"{t.user}@{t.hostname}:{t.port}" if t.alias != t.hostname else f"{t.hostname}:{t.port}"

    def _connect(self, via=None):
        """Connect through `via` (a channel of the previous jump host) or else as the config says."""
        import paramiko

        _quiet_paramiko()
        t, where = self.target, self._where()
        client = paramiko.SSHClient()
        for path in t.known_hosts:
            if os.path.exists(path):
                client.load_host_keys(path)
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy() if self.accept_new else _refuse_unknown_keys(where))
        try:
            key = self._first_sshd() if via is None else None
            with _handshake_gate(key) if key else contextlib.nullcontext():
                sock = via if via is not None else self._proxy_sock()
                client.connect(t.hostname, port=t.port, username=t.user, key_filename=t.identity_files or None,
                               timeout=self.connect_timeout, banner_timeout=self.connect_timeout,
                               auth_timeout=self.connect_timeout, sock=sock, allow_agent=True, look_for_keys=True)
        except BaseException as e:
            client.close()
            if isinstance(e, Exception) and not isinstance(e, RemoteError):
                raise self._connect_error(e, where) from None
            raise
        if self.accept_new and t.known_hosts:
            os.makedirs(os.path.dirname(t.known_hosts[0]) or ".", exist_ok=True)
            client.save_host_keys(t.known_hosts[0])
        self._clients.append(client)
        return client

    def _connect_error(self, e: Exception, where: str) -> RgtError:
        """One line for each way a connection fails; a paramiko wording is never matched."""
        import errno

        import paramiko

        t = self.target
        not_ssh = "check that the address and port are those of an SSH server"
        if isinstance(e, paramiko.BadHostKeyException):
            return RemoteError("the host key differs from the one in known_hosts", where=where,
                               hint="the box was replaced or someone is in between; verify, then fix known_hosts")
        if isinstance(e, paramiko.AuthenticationException):
            return RemoteError(f"authentication failed for user {t.user}", where=where,
                               hint="check IdentityFile in ~/.ssh/config or load the key into ssh-agent")
        if isinstance(e, paramiko.ssh_exception.NoValidConnectionsError):
            if all(getattr(err, "errno", None) == errno.ECONNREFUSED for err in e.errors.values()):
                return RemoteError("connection refused", where=where,
                                   hint="is sshd running and is the port right? (the port often changes after a restart)")
            return RemoteError(f"cannot connect: {e}", where=where, hint="check the host name and your network")
        if isinstance(e, paramiko.SSHException) or isinstance(e, EOFError):
            cause = e.__context__
            if isinstance(cause, (socket.timeout, TimeoutError)):
                return RemoteError(f"timed out after {self.connect_timeout:.0f} s waiting for the SSH banner",
                                   where=where, hint=not_ssh + ", or raise --connect-timeout")
            if "banner" in str(e).lower() or "protocol version" in str(e).lower() or isinstance(e, EOFError):
                return RemoteError("not an SSH server: it did not answer with an SSH banner", where=where, hint=not_ssh)
            return RemoteError(f"SSH failed: {e}", where=where, hint=not_ssh)
        if isinstance(e, (socket.timeout, TimeoutError)):
            return RemoteError(f"timed out after {self.connect_timeout:.0f} s connecting", where=where,
                               hint="is the box running and the address right? raise --connect-timeout if the route is slow")
        if isinstance(e, ConnectionRefusedError):
            return RemoteError("connection refused", where=where,
                               hint="is sshd running and is the port right? (the port often changes after a restart)")
        if isinstance(e, OSError):
            return RemoteError(f"cannot connect: {e.strerror or e}", where=where, hint="check the host name and your network")
        raise e

    def _first_sshd(self) -> str | None:
        """The sshd that counts this connection's handshake against its MaxStartups: the address
        dialled, or the login node a ProxyCommand reaches (named by the command, with this host's
        name and port put back as %h and %p, so every host behind it shares it). None through a
        ProxyJump: the jump host's own connection is the one that sshd counts."""
        t = self.target
        if t.proxy_command and t.proxy_command.lower() != "none":
            return "proxy: " + t.proxy_command.replace(t.hostname, "%h").replace(str(t.port), "%p")
        if t.proxy_jump and t.proxy_jump.lower() != "none":
            return None
        return f"{t.hostname}:{t.port}"

    def _proxy_sock(self):
        t = self.target
        if t.proxy_command and t.proxy_command.lower() != "none":
            return _proxy_command(t.proxy_command)
        if t.proxy_jump and t.proxy_jump.lower() != "none":
            return self._through_jumps([h.strip() for h in t.proxy_jump.split(",") if h.strip()])
        return None

    def _through_jumps(self, hops: list[str]):
        """`ProxyJump a,b`: reach a as its own config says, b through a channel of a, and the target
        through a channel of b. Each hop's client is kept open until the run ends."""
        import paramiko

        jumps = [SSHTransport(h, accept_new_host_key=self.accept_new, connect_timeout=self.connect_timeout,
                              config_path=self.config_path) for h in hops]
        onward = [j.target for j in jumps[1:]] + [self.target]
        sock = None
        for jump, dest in zip(jumps, onward, strict=True):
            try:
                client = jump._connect(via=sock)
            finally:
                self._clients.extend(jump._clients)
                jump._clients.clear()
            try:
                sock = client.get_transport().open_channel("direct-tcpip", (dest.hostname, dest.port), ("127.0.0.1", 0))
            except paramiko.ChannelException as e:
                raise RemoteError(f"the jump host could not open a connection onward to {dest.hostname}:{dest.port} "
                                  f"({e.text})", where=jump._where(),
                                  hint="check ProxyJump and that each hop can reach the next") from None
        return sock

    def open_client(self):
        """A connected paramiko client under the same config, host-key policy and jumps as run();
        for `rgt pull`'s copy. close() lets it go."""
        try:
            return self._connect()
        except BaseException:
            self.close()
            raise

    def where(self) -> str:
        return self._where()

    def start(self) -> None:
        """Connect and open the `bash -s` channel in the background, while the caller still works
        out which probes to send: sshd's fork, key exchange, authentication and session setup
        (most of an `ssh host true`) then overlap rgt's own start-up instead of following it."""
        def opening() -> None:
            try:
                self._opened = self._open_channel()
            except BaseException as e:  # noqa: BLE001 - handed to run(), which raises it in the caller
                self._opened = e

        self._opener = threading.Thread(target=opening, name=f"rgt-connect-{self.host}", daemon=True)
        self._opener.start()

    def _open_channel(self):
        client = self._connect()
        # the channel request waits no longer than the connection may (run() then sets the budget)
        return client.exec_command("bash -s", timeout=self.connect_timeout)

    def run(self, script: str, timeout: float) -> CommandResult:
        where = self._where()
        try:
            if self._opener is None:
                opened = self._open_channel()
            else:
                self._opener.join()
                opened = self._opened
                if isinstance(opened, BaseException):
                    raise opened
            stdin, stdout, stderr = opened
            stdout.channel.settimeout(timeout)
            stdin.write(script)
            stdin.channel.shutdown_write()
            out = stdout.read().decode("utf-8", "replace")
            err = stderr.read().decode("utf-8", "replace")
            status = stdout.channel.recv_exit_status()  # -1: the channel closed with no status
            if status == -1:
                raise RemoteError("the connection dropped while the probes ran", where=where,
                                  hint="the box may have rebooted or the network blipped; run diagnose again")
            return CommandResult(status, out, err, "bash -s")
        except TimeoutError:
            raise RemoteError(f"probes did not answer within {timeout:.0f} s", where=where,
                              hint="a tool on the box is hung (often nvidia-smi on a dead GPU)") from None
        except (EOFError, ConnectionResetError, OSError) as e:
            raise RemoteError(f"the connection dropped while the probes ran ({type(e).__name__})", where=where,
                              hint="the box may have rebooted or the network blipped; run diagnose again") from None
        finally:
            self.close()

    def close(self) -> None:
        if self._opener is not None:  # a connection still being opened is closed once it is open
            self._opener.join()
            self._opener = None
        for client in reversed(self._clients):
            client.close()
        self._clients.clear()
