"""What the box holds under one directory, listed by ONE read-only bash batch: each file's size,
modification time and sha256, computed on the box, and which files are still being written.

A file is still being written when a process holds it open for writing (its /proc/PID/fdinfo
flags) or when its size or mtime moved while it was hashed. The batch writes nothing: sha256sum
reads from stdin, and no temporary file is made on a box whose disk may be full."""
from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field

from ..errors import RemoteError, UsageError

# sha256sum reads at least this fast on any disk worth renting: the box gives the whole listing
# 60 s plus the total size at this rate, so a hung network mount ends the batch instead of
# holding it forever. While it hashes, it says so every TICK_S seconds: a silence of SILENCE_S
# means the connection is dead.
HASH_FLOOR_BYTES_PER_S = 20_000_000
FILE_GRACE_S = 60
TICK_S = 10
SILENCE_S = 60

_SCRIPT = r"""export LC_ALL=C LANG=C
dir=%(dir)s
if ! cd -- "$dir" 2>/dev/null; then
  if [ -e "$dir" ]; then echo "@NOTDIR"; else echo "@NODIR"; fi
  exit 0
fi
abs=$(pwd -P)
printf '@ROOT\t%%s\n' "$abs"
if command -v rsync >/dev/null 2>&1; then echo "@RSYNC yes"; else echo "@RSYNC no"; fi
writers() {  # files under the directory that some process holds open for writing
  find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -lname "$abs/*" -printf '%%h %%f %%l\n' 2>/dev/null |
  while read -r fddir fd target; do
    pid=${fddir#/proc/}; pid=${pid%%/fd}
    flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$pid/fdinfo/$fd" 2>/dev/null)
    [ -n "$flags" ] || continue
    if [ $(( 8#$flags & 3 )) -ne 0 ]; then
      printf '@WRITER\t%%s\t%%s\t%%s\n' "$pid" "$(cat /proc/$pid/comm 2>/dev/null)" "${target#"$abs"/}"
    fi
  done
}
writers
find . -type l -printf '@LINK\t%%P\n'
total=$(find . -type f -printf '%%s\n' | awk '{t += $1} END {printf "%%d", t}')
deadline=$(( SECONDS + %(grace)d + total / %(rate)d ))
printf '@BUDGET\t%%s\t%%s\n' "$total" "$(( deadline - SECONDS ))"
main=$BASHPID
# a line every few seconds, so a long hash is told apart from a dead connection; it ends with the batch
( n=0; while kill -0 "$main" 2>/dev/null; do sleep 0.2; n=$((n + 1)); [ $((n %% (%(tick)d * 5))) -eq 0 ] && echo "@TICK"; done ) &
ticker=$!
find . -type f -print0 | while IFS= read -r -d '' f; do
  name=${f#./}
  case $name in *$'\n'*|*$'\t'*) printf '@ODDNAME\t%%q\n' "$name"; continue;; esac
  a=$(stat -c '%%s %%.9Y' -- "$f" 2>/dev/null) || { printf '@GONE\t%%s\n' "$name"; continue; }
  limit=$(( deadline - SECONDS )); [ "$limit" -gt 0 ] || limit=1
  h=$(timeout -k 2 "$limit" sha256sum < "$f" 2>&1); rc=$?
  b=$(stat -c '%%s %%.9Y' -- "$f" 2>/dev/null) || b="gone"
  if [ $rc -ne 0 ]; then printf '@ERROR\t%%s\t%%s\t%%s\n' "$rc" "${h//$'\n'/ }" "$name"; continue; fi
  printf '@FILE\t%%s\t%%s\t%%s\t%%s\n' "$a" "$b" "${h%%%% *}" "$name"
done
kill "$ticker" 2>/dev/null
writers
echo "@DONE"
"""


@dataclass
class Entry:
    path: str          # relative to the pulled directory, with `/`
    size: int
    mtime: float
    sha256: str
    changing: bool = False   # size or mtime moved while the box hashed it


@dataclass
class Manifest:
    root: str                          # the directory on the box, resolved
    rsync: bool                        # the box has rsync
    files: list[Entry] = field(default_factory=list)
    writers: dict[str, list[str]] = field(default_factory=dict)  # path -> ["pid 42 (python3)", ...]
    problems: list[str] = field(default_factory=list)            # files the box could not hash
    links: list[str] = field(default_factory=list)               # symlinks, not followed
    budget_s: int = 0                                            # what the box allowed for hashing

    @property
    def total(self) -> int:
        return sum(e.size for e in self.files)

    def to_json(self) -> dict:
        return {"root": self.root, "files": [asdict(e) for e in self.files], "writers": self.writers,
                "problems": self.problems, "links": self.links, "bytes": self.total}


def local_budget(remote_dir: str) -> float:
    """For --local, where the batch's timeout is its whole run: the box's own rule, plus slack."""
    import os

    total = 0
    for top, _, files in os.walk(remote_dir):
        for f in files:
            try:
                total += os.lstat(os.path.join(top, f)).st_size
            except OSError:
                pass
    return FILE_GRACE_S + total / HASH_FLOOR_BYTES_PER_S + 30


def script(remote_dir: str) -> str:
    return _SCRIPT % {"dir": shlex.quote(remote_dir), "grace": FILE_GRACE_S, "rate": HASH_FLOOR_BYTES_PER_S,
                      "tick": TICK_S}


def parse(text: str, remote_dir: str, where: str) -> Manifest:
    lines = text.splitlines()
    if "@NODIR" in lines:
        raise UsageError(f"{remote_dir} does not exist on the box", where=where, hint="check REMOTE_DIR")
    if "@NOTDIR" in lines:
        raise UsageError(f"{remote_dir} is not a directory on the box (or cannot be entered)", where=where,
                         hint="name the directory that holds the checkpoints")
    if "@DONE" not in lines:
        raise RemoteError(f"the listing of {remote_dir} was cut short", where=where,
                          hint="the connection dropped or the box is overloaded; run rgt pull again")
    m = Manifest(root=remote_dir, rsync="@RSYNC yes" in lines)
    for line in lines:
        tag, _, rest = line.partition("\t")
        if tag == "@ROOT":
            m.root = rest
        elif tag == "@BUDGET":
            m.budget_s = int(rest.split("\t")[1])
        elif tag == "@WRITER":
            pid, comm, path = rest.split("\t", 2)
            who = f"pid {pid} ({comm})"
            if who not in m.writers.setdefault(path, []):
                m.writers[path].append(who)
        elif tag == "@LINK":
            m.links.append(rest)
        elif tag == "@ODDNAME":
            m.problems.append(f"{rest}: a tab or newline in the name; rename it on the box to pull it")
        elif tag == "@GONE":
            m.problems.append(f"{rest}: vanished while the box listed it")
        elif tag == "@ERROR":
            rc, why, path = rest.split("\t", 2)
            reason = "hashing timed out" if rc == "124" else why.strip() or f"sha256sum exited {rc}"
            m.problems.append(f"{path}: {reason}")
        elif tag == "@FILE":
            before, after, digest, path = rest.split("\t", 3)
            size, mtime = before.split(" ")
            m.files.append(Entry(path, int(size), float(mtime), digest, changing=after != before))
    m.files.sort(key=lambda e: e.path)
    return m
