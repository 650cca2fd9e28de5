"""One pull: per host, list the directory on the box (read-only), copy it resumably, verify the
copy against the box's hashes, and then say whether destroying the box is safe, and what the
platform's destroy verb deletes. rgt never runs a destroy itself."""
from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..diagnose import transport as tr
from ..errors import RemoteError, RgtError, UsageError
from ..kb.paths import bundled_kb
from . import fetch, manifest, rsync, verify

VERIFY_LOCAL = bundled_kb() / "scripts" / "verify_local.py"
SKIPPED_HERE = {verify.NAME, verify.NAME + ".tmp", fetch.PARTIAL_DIR, rsync.PARTIAL_DIR}


def local_dir_for(local: Path, host: str, many: bool) -> Path:
    """LOCAL_DIR itself for one host; LOCAL_DIR/HOST for each of several."""
    return local / re.sub(r"[^A-Za-z0-9@._:\-\[\]]", "_", host) if many else local


def check_local(local: Path) -> None:
    """Before any connection: the copy must have somewhere to go."""
    probe = local
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if local.exists() and not local.is_dir():
        raise UsageError(f"{local} exists and is not a directory", hint="pass a directory for LOCAL_DIR")
    if not probe.is_dir():
        raise UsageError(f"cannot make {local}: {probe} is not a directory", hint="pass a directory for LOCAL_DIR")


@contextmanager
def _bar(total: int, label: str, show: bool) -> Iterator[Callable[[int], None]]:
    """click's progress bar on a terminal (bytes, rate, ETA); nothing otherwise."""
    if not show:
        yield lambda n: None
        return
    import time

    import click

    start = time.monotonic()

    def rate(_item: int | None) -> str:
        done = bar.pos
        speed = done / max(time.monotonic() - start, 1e-6)
        return f"{_size(done)}/{_size(total)} {_size(speed)}/s"

    bar: Any = click.progressbar(  # its stub cannot tell a length-only bar from an iterable one
        length=max(total, 1), label=label, file=sys.stderr, show_eta=True,
        show_percent=True, item_show_func=rate)
    with bar:
        yield bar.update


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _partial_sizes(dest: Path, m: manifest.Manifest) -> dict[str, int]:
    """What an earlier, interrupted pull left in flight, per file: the proof that a run resumed."""
    out = {}
    for e in m.files:
        rel = Path(e.path)
        for part in (dest / fetch.PARTIAL_DIR / rel, dest / rel.parent / rsync.PARTIAL_DIR / rel.name):
            if part.is_file() and part.stat().st_size:
                out[e.path] = part.stat().st_size
    return out


def list_box(t, remote_dir: str) -> manifest.Manifest:
    if isinstance(t, tr.LocalTransport):
        timeout = manifest.local_budget(remote_dir)
    else:
        timeout = manifest.SILENCE_S  # over SSH a read timeout: the box speaks every TICK_S while it hashes
    res = t.run(manifest.script(remote_dir), timeout=timeout)
    if res.rc not in (0, None) and "@DONE" not in res.stdout:
        said = (res.stderr.strip().splitlines() or [f"exit status {res.rc}"])[0]
        raise RemoteError(f"listing {remote_dir} failed: {said}", where=t.host, hint="check that bash, find and sha256sum run there")
    return manifest.parse(res.stdout, remote_dir, t.host)


def pull_one(t, remote_dir: str, dest: Path, show_progress: bool) -> dict:
    m = list_box(t, remote_dir)
    dest.mkdir(parents=True, exist_ok=True)
    before = _partial_sizes(dest, m)
    fetched: list[dict] = []
    note = ""
    if isinstance(t, tr.LocalTransport):
        method = "local"
        with _bar(m.total, f"{t.host}", show_progress) as progress:
            copier = fetch.Copier(dest, fetch.local_opener(m.root), progress)
            fetched = [copier.fetch(e) for e in m.files]
    else:
        import paramiko

        method = "rsync" if m.rsync and rsync.available() else "sftp"
        try:
            client = t.open_client()
            if method == "rsync":
                note = rsync.pull(client, m.root, [e.path for e in m.files], dest, t.where(), show_progress)
                stale = [x["path"] for x in verify.check(dest, m)["mismatched"]]
                if stale:  # a same-size rewrite with the old mtime: rsync's quick check kept the stale copy
                    note = rsync.pull(client, m.root, stale, dest, t.where(), show_progress, recopy=True) or note
            else:
                try:
                    sftp = client.open_sftp()
                except (paramiko.SSHException, EOFError) as e:  # the subsystem request was refused
                    raise RemoteError(f"the box has neither rsync nor an SFTP server ({e})", where=t.host,
                                      hint="install rsync on the box, or enable `Subsystem sftp` in its sshd_config") from None
                with sftp, _bar(m.total, t.host, show_progress) as progress:
                    copier = fetch.Copier(dest, fetch.sftp_opener(sftp, m.root), progress)
                    fetched = [copier.fetch(e) for e in m.files]
        except (EOFError, OSError, paramiko.SSHException) as e:  # SFTP reads raise SSHException when the link drops
            raise RemoteError(f"the connection dropped during the copy ({type(e).__name__})", where=t.host,
                              hint="run the same rgt pull again: it resumes where this one stopped") from None
        finally:
            t.close()
    fetch.tidy(dest)
    result = verify.check(dest, m)
    written = verify.write(dest, m, t.host)
    resumed = {f["path"]: f["resumed_from"] for f in fetched if f["resumed_from"]} if method != "rsync" else before
    listed = {e.path for e in m.files}
    extra = sorted(str(p.relative_to(dest)) for p in dest.rglob("*")
                   if p.is_file() and str(p.relative_to(dest)) not in listed
                   and not SKIPPED_HERE & set(p.relative_to(dest).parts))
    return {
        "host": t.host, "error": None, "local_dir": str(dest), "remote_dir": m.root, "method": method,
        "files": len(m.files), "bytes": m.total, "hash_budget_s": m.budget_s,
        "matched": len(result["matched"]), "missing": result["missing"], "mismatched": result["mismatched"],
        "being_written": [{"path": p, "by": by} for p, by in sorted(m.writers.items())],
        "changed_while_listed": [e.path for e in m.files if e.changing],
        "problems": m.problems, "symlinks_not_followed": m.links, "not_on_box": extra,
        "resumed": [{"path": p, "from_byte": n} for p, n in sorted(resumed.items())],
        "note": note, "manifest": str(written),
    }


def reasons_for(host: dict) -> list[str]:
    """Why this host's copy is not yet a reason to destroy the box; [] when it is."""
    if host["error"]:
        return [f"{host['host']}: {host['error']}"]
    h = host["host"]
    out = [f"{h}: {e['path']} is open for writing by {', '.join(e['by'])}" for e in host["being_written"]]
    out += [f"{h}: {p} changed while the box hashed it" for p in host["changed_while_listed"]]
    out += [f"{h}: {p} was not copied" for p in host["missing"]]
    out += [f"{h}: {x['path']}: {x['why']}" for x in host["mismatched"]]
    out += [f"{h}: {p} could not be listed" if ":" not in p else f"{h}: {p}" for p in host["problems"]]
    out += [f"{h}: symlink {p} was not followed; pull its target too" for p in host["symlinks_not_followed"]]
    if host["files"] == 0:
        out.append(f"{h}: {host['remote_dir']} holds no files: nothing was saved there")
    return out


def destroy_facts(facts: dict | None, remote_dir: str, hosts: Sequence[str]) -> dict | None:
    """What the platform's meter-stop verb deletes and what keeps billing, from its profile."""
    if facts is None:
        return None
    verb, irreversible = facts.get("meter_stop_verb"), bool(facts.get("meter_stop_irreversible"))
    still = list(facts.get("stop_still_bills") or [])
    where = ", ".join(hosts)
    return {
        "verb": verb, "irreversible": irreversible, "still_bills": still,
        "deletes": (f"the box and its disks, with everything on them (including {remote_dir} on {where})"
                    if irreversible else "nothing on the disks: the box stops and its disks are kept"),
        "survives": still if irreversible else ["the box's disks"] + still,
        "says": (f"`{verb}` deletes {where} and everything on its disks"
                 + (f"; these are not deleted and keep billing: {', '.join(still)}" if still else "")
                 if irreversible else f"`{verb}` keeps the disks" + (f"; still billed: {', '.join(still)}" if still else "")),
    }


def run(transports: list, remote_dir: str, local: Path, facts: dict | None,
        show_progress: bool = False) -> dict:
    many = len(transports) > 1
    hosts: list[dict] = []
    failures: list[RgtError] = []
    for t in transports:
        dest = local_dir_for(local, t.host, many)
        try:
            hosts.append(pull_one(t, remote_dir, dest, show_progress))
        except RgtError as e:
            failures.append(e)
            hosts.append({"host": t.host, "error": e.line(), "local_dir": str(dest)})
    if len(failures) == len(transports):
        raise failures[0]  # nothing was pulled: the one line of the first failure says what to do
    reasons = [r for h in hosts for r in reasons_for(h)]
    if facts is None:
        reasons.append("no --platform given: rgt cannot say what the destroy verb deletes; pass --platform P")
    elif not facts.get("meter_stop_verb"):
        reasons.append("the platform's profile names no meter-stop verb")
    return {
        "remote_dir": remote_dir, "local_dir": str(local), "hosts": hosts,
        "safe_to_destroy": not reasons, "reasons": reasons,
        "destroy": destroy_facts(facts, remote_dir, [t.host for t in transports]),
        "recheck": f"python3 {VERIFY_LOCAL} {local}",
        "says": ("every file matched the box's sha256 and nothing was being written; ask the user before the destroy"
                 if not reasons else "keep the box: " + "; ".join(reasons[:3]) + (" …" if len(reasons) > 3 else "")),
    }
