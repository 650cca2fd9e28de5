"""df: `df -hP` (space per mount). The table reader is shared with df_inodes.

Only real filesystems count. Skipped: tmpfs, devtmpfs, udev, shm, none and other in-memory or
kernel filesystems (by the Filesystem column, since `df -P` has no type column), and read-only
images: /dev/loop* mounted under /snap/ or with nothing available (squashfs snaps always read
100 %). overlay is a real filesystem (a container's root) and counts. A mount at or above 98 %
is full. Without -P a long device name wraps onto its own line; that is joined back.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "disk_max_use_pct": "int",        # real filesystems only
    "disk_full_mounts": "list[str]",  # mount points at >= 98 %
}

FULL_PCT = 98
_PSEUDO = {
    "tmpfs", "devtmpfs", "udev", "none", "shm", "ramfs", "proc", "sysfs", "devpts", "mqueue",
    "cgroup", "cgroup2", "efivarfs", "securityfs", "debugfs", "tracefs", "pstore", "bpf",
    "configfs", "fusectl", "hugetlbfs", "nsfs", "binfmt_misc", "autofs", "rpc_pipefs",
}


def _pseudo(fs: str, avail: str, mount: str) -> bool:
    if fs in _PSEUDO:
        return True
    if fs.startswith("/dev/loop") and (mount.startswith("/snap/") or avail in ("0", "0B", "0K")):
        return True
    return False


def read_table(text: str, pct_header: str) -> list[tuple[str, int, str]] | None:
    """(mount, use %, line) for each real filesystem, or None when there is no df table.

    `pct_header` is "Use%" (or "Capacity") for space, "IUse%" for inodes.
    """
    lines = content_lines(text)
    head = next((i for i, ln in enumerate(lines)
                 if ln.startswith("Filesystem") and re.search(pct_header, ln)), None)
    if head is None:
        return None
    rows: list[tuple[str, int, str]] = []
    pending = ""
    for ln in lines[head + 1:]:
        fields = (pending + " " + ln).split(None, 5) if pending else ln.split(None, 5)
        if len(fields) == 1:  # wrapped device name (df without -P)
            pending = fields[0]
            continue
        pending = ""
        if len(fields) < 6:
            continue
        fs, _size, _used, avail, pct, mount = fields
        m = re.match(r"^(\d+)%$", pct)
        if not m or _pseudo(fs, avail, mount):
            continue  # "-" for filesystems without inodes, or not a real filesystem
        rows.append((mount, int(m.group(1)), ln))
    return rows


def observe(rows: list[tuple[str, int, str]] | None, max_name: str, full_name: str) -> Observations:
    if not rows:
        return {}
    top = max(rows, key=lambda r: r[1])
    full = [r for r in rows if r[1] >= FULL_PCT]
    return {
        max_name: obs(top[1], top[2]),
        full_name: obs([r[0] for r in full], full[0][2] if full else ""),
    }


def parse(text: str) -> Observations:
    return observe(read_table(text, r"\b(?:Use%|Capacity)"), "disk_max_use_pct", "disk_full_mounts")
