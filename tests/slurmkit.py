"""A real one-node Slurm cluster on 127.0.0.1 for the tests: munged, slurmctld and slurmd started
by hand from a slurm.conf in a temp dir (Debian's slurm-wlm and munge; tests/run.sh installs them).

Everything private lives under the temp dir (ports, key, sockets, state), so the suite can run
beside another copy of itself and beside a real Slurm on the machine. Every daemon runs as the
user running the tests (SlurmUser and SlurmdUser), root or not: the jobs are that user's own.
"""
from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
ACCOUNTING = ("mariadbd", "slurmdbd")  # started before slurmctld when a test needs sacct rows


def missing(accounting: bool = False) -> str:
    """Why a cluster cannot start here, or '' when it can."""
    daemons = DAEMONS + (ACCOUNTING if accounting else ())
    need = [d for d in daemons if not (shutil.which(d) or os.path.exists(f"/usr/sbin/{d}"))]
    clients = ("sbatch", "squeue", "scontrol", "scancel", "mungekey") + (
        ("sacct", "mariadb-install-db", "mariadb") if accounting else ())
    need += [c for c in clients if not shutil.which(c)]
    if need:
        pkgs = "slurm-wlm and munge" + (", slurmdbd and mariadb-server" if accounting else "")
        return f"no {', '.join(need)}: install {pkgs} (tests/run.sh does)"
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sbin(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


@dataclass
class Cluster:
    dir: Path
    node: str
    env: dict[str, str]                     # SLURM_CONF and PATH for the client commands
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def run(self, *argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        r = subprocess.run(list(argv), env={**os.environ, **self.env}, text=True, capture_output=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip()}")
        return r

    def job_field(self, job_id: str, key: str) -> str:
        """One KEY=value of `scontrol show job`, or '' once the job has left slurmctld's memory."""
        r = self.run("scontrol", "-o", "show", "job", job_id, check=False)
        for word in r.stdout.split():
            k, _, v = word.partition("=")
            if k == key:
                return v
        return ""

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.dir.glob("*.log")))

    def alive(self) -> list[str]:
        return [name for name, p in self.procs.items() if p.poll() is None]


def _wait(predicate, timeout: float, what: str, cluster: Cluster | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}" + (f"\n{cluster.logs()}" if cluster else ""))


def start(base: Path, accounting: bool = False) -> Cluster:
    """The cluster; with ACCOUNTING also a MariaDB server and slurmdbd, so sacct has job rows."""
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o700)  # munged refuses a key or socket in a directory others can write
    for d in ("state", "spool", "munge"):
        (base / d).mkdir(mode=0o700, exist_ok=True)
    node = socket.gethostname().split(".")[0]
    user = getpass.getuser()
    cpus = os.cpu_count() or 1
    sock = base / "munge" / "munge.socket"
    key = base / "munge" / "munge.key"
    subprocess.run(["mungekey", "--create", "--keyfile", str(key)], check=True, capture_output=True)
    dbd_port = _free_port()
    if accounting:
        acct = f"""\
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={dbd_port}
AccountingStoragePass={sock}
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
"""
    else:
        acct = "AccountingStorageType=accounting_storage/none\nJobAcctGatherType=jobacct_gather/none\n"
    conf = base / "slurm.conf"
    conf.write_text(f"""\
ClusterName=rgttest
SlurmctldHost={node}(127.0.0.1)
SlurmUser={user}
SlurmdUser={user}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
{acct}SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
KillWait=5
MinJobAge=300
SlurmctldDebug=info
SlurmdDebug=info
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
""")
    env = {"SLURM_CONF": str(conf)}
    cluster = Cluster(dir=base, node=node, env=env)
    full = {**os.environ, **env}
    try:
        cluster.procs["munged"] = subprocess.Popen(
            [_sbin("munged"), "-F", "-f", f"--socket={sock}", f"--key-file={key}",
             f"--log-file={base}/munged.log", f"--pid-file={base}/munge/munged.pid",
             f"--seed-file={base}/munge/munged.seed"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        _wait(sock.exists, 10, "munged's socket", cluster)
        if accounting:
            _start_accounting(cluster, user, sock, dbd_port)
        cluster.procs["slurmctld"] = subprocess.Popen(
            [_sbin("slurmctld"), "-D", "-i", "-f", str(conf)], env=full,
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        _wait(lambda: cluster.run("scontrol", "ping", check=False).stdout.count("UP") > 0, 30,
              "slurmctld to answer", cluster)
        cluster.procs["slurmd"] = subprocess.Popen(
            [_sbin("slurmd"), "-D", "-N", node, "-f", str(conf)], env=full,
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        _wait(lambda: cluster.run("sinfo", "-h", "-o", "%T", check=False).stdout.strip() == "idle", 30,
              "the node to be idle", cluster)
    except BaseException:
        stop(cluster)
        raise
    return cluster


def _start_accounting(cluster: Cluster, user: str, munge_socket: Path, dbd_port: int) -> None:
    """MariaDB on a private port and data directory, then slurmdbd in front of it."""
    base, db = cluster.dir, cluster.dir / "mariadb"
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={db}", f"--user={user}",
                    "--auth-root-authentication-method=socket", "--skip-test-db"],
                   check=True, capture_output=True, timeout=120)
    db_port, db_sock = _free_port(), base / "mariadb.sock"
    cluster.procs["mariadbd"] = subprocess.Popen(
        [_sbin("mariadbd"), "--no-defaults", f"--datadir={db}", f"--user={user}", f"--socket={db_sock}",
         "--bind-address=127.0.0.1", f"--port={db_port}", f"--pid-file={base}/mariadb.pid",
         f"--log-error={base}/mariadb.log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    _wait(db_sock.exists, 30, "MariaDB's socket", cluster)
    sql = ("CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'rgt-test';"
           "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';")
    subprocess.run(["mariadb", f"--socket={db_sock}", "-u", user, "-e", sql], check=True, capture_output=True, timeout=30)
    conf = base / "slurmdbd.conf"
    conf.write_text(f"""\
AuthType=auth/munge
AuthInfo=socket={munge_socket}
DbdHost={cluster.node}
DbdAddr=127.0.0.1
DbdPort={dbd_port}
SlurmUser={user}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={db_port}
StorageUser=slurm
StoragePass=rgt-test
StorageLoc=slurm_acct_db
LogFile={base}/slurmdbd.log
PidFile={base}/slurmdbd.pid
""")
    conf.chmod(0o600)  # slurmdbd (which finds it beside SLURM_CONF) refuses a config others can read: it holds the database password
    cluster.procs["slurmdbd"] = subprocess.Popen(
        [_sbin("slurmdbd"), "-D"], env={**os.environ, **cluster.env},
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    _wait(lambda: _listening(dbd_port), 30, "slurmdbd to listen", cluster)  # slurmctld dies without it


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def stop(cluster: Cluster) -> None:
    """Cancel every job, then end the daemons in reverse order; each is waited for, so none is
    left running (the fixture asserts it). proctrack/linuxproc finds a job's processes through
    their parents, so a child whose parent died first escapes it: those are killed by the
    SLURM_CONF they inherited."""
    if "slurmctld" in cluster.alive():
        cluster.run("scancel", "--full", "--user", getpass.getuser(), check=False)
        try:
            _wait(lambda: not cluster.run("squeue", "-h", check=False).stdout.strip(), 30, "the jobs to end")
        except RuntimeError:
            pass  # the daemons are stopped anyway and the leftovers killed below
    for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged"):
        proc = cluster.procs.get(name)
        if proc is None or proc.poll() is not None:
            continue
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    for pid in leftovers(cluster):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _wait(lambda: not leftovers(cluster), 10, "the job processes to die")


def leftovers(cluster: Cluster) -> list[int]:
    """Pids still carrying this cluster's SLURM_CONF: slurmstepd and every job process inherit it
    (munged is matched by its socket path)."""
    mark = f"SLURM_CONF={cluster.env['SLURM_CONF']}".encode()
    sock = str(cluster.dir / "munge").encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0") or sock in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids
