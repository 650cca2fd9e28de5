"""Copy the files of a manifest into a local directory, resumably, with Python doing the reads:
over SFTP through the transport's own paramiko connection, or from this machine (`--local`).

A piece of a file in flight waits in PARTIAL_DIR under the copy, beside a note of the sha256 the
box gave for the whole file. The next pull appends to it only when the box still holds that same
file: a checkpoint saved again at the same size has another sha256 and starts over. A file that
is already here is skipped only when its sha256 matches; its size proves nothing."""
from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .manifest import Entry

PARTIAL_DIR = ".rgt-partial"
CHUNK = 1 << 20

Opener = Callable[[str, int], BinaryIO]  # (path on the box, offset) -> a file positioned there


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def local_opener(root: str) -> Opener:
    def open_at(rel: str, offset: int) -> BinaryIO:
        f = open(os.path.join(root, rel), "rb")
        f.seek(offset)
        return f
    return open_at


def quiet_dropped_prefetch() -> None:
    """paramiko's prefetch thread dies with the connection and Python prints its traceback; the
    copy itself reports the drop in one line, so that thread's end is not printed again."""
    import threading

    import paramiko

    default = threading.excepthook

    def hook(args) -> None:
        if not (issubclass(args.exc_type, (paramiko.SSHException, EOFError, OSError))
                and "prefetch" in getattr(args.thread, "name", "")):
            default(args)
    threading.excepthook = hook


def sftp_opener(sftp, root: str) -> Opener:
    quiet_dropped_prefetch()

    def open_at(rel: str, offset: int) -> BinaryIO:
        f = sftp.open(f"{root.rstrip('/')}/{rel}", "rb")
        f.seek(offset)
        f.prefetch()  # pipelined reads from the offset on; one request at a time crawls over a long link
        return f
    return open_at


class Copier:
    """Fetches manifest entries into `dest`; `progress(n)` is told of every n bytes that arrive
    (bytes already here or resumed count at once)."""

    def __init__(self, dest: Path, open_at: Opener, progress: Callable[[int], None] = lambda n: None):
        self.dest, self.open_at, self.progress = dest, open_at, progress

    def fetch(self, e: Entry) -> dict:
        """What happened to one file: `kept` (already here, sha256 matches), `resumed_from`."""
        target = self.dest / e.path
        if target.is_file() and target.stat().st_size == e.size and sha256_file(target) == e.sha256:
            self.progress(e.size)
            return {"path": e.path, "kept": True, "resumed_from": 0}
        part = self.dest / PARTIAL_DIR / e.path
        note = part.with_name(part.name + ".sha256")
        offset = 0
        if part.is_file() and note.is_file() and note.read_text().strip() == e.sha256 and part.stat().st_size <= e.size:
            offset = part.stat().st_size
        else:
            part.parent.mkdir(parents=True, exist_ok=True)
            part.unlink(missing_ok=True)
            note.write_text(e.sha256 + "\n")
        self.progress(offset)
        with self.open_at(e.path, offset) as src, open(part, "ab") as out:
            left = e.size - offset
            while left > 0:  # up to the listed size: bytes appended since are not this version
                block = src.read(min(CHUNK, left))
                if not block:
                    break  # the file shrank on the box; verification says so
                out.write(block)
                left -= len(block)
                self.progress(len(block))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        os.utime(target, (e.mtime, e.mtime))  # as rsync -a would: the copy dates from the box's save
        note.unlink(missing_ok=True)
        return {"path": e.path, "kept": False, "resumed_from": offset}


def tidy(dest: Path) -> None:
    """Drop the partial-file area once nothing is left in flight."""
    area = dest / PARTIAL_DIR
    if area.is_dir() and not any(p.is_file() for p in area.rglob("*")):
        shutil.rmtree(area, ignore_errors=True)
