"""Many hosts at once: Slurm-style host lists (`gpu[01-04,07]`) and a hosts file, so diagnose can
fan out over a cluster's nodes the way `scontrol show hostnames` names them."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

from ..errors import UsageError

_GROUP = re.compile(r"\[([^\[\]:]*)\]")  # a group with `:` in it is an IPv6 address, left as it is
_IPV6 = re.compile(r"\[[^\[\]]*:[^\[\]]*\]")
_TOP_COMMA = re.compile(r",(?![^\[]*\])")  # a comma outside brackets separates host lists
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
MAX_HOSTS = 4096  # a typo such as gpu[1-99999] should be an error, not a hang


def expand(spec: str) -> list[str]:
    """`user@gpu[01-03,07]:22` -> user@gpu01:22, user@gpu02:22, user@gpu03:22, user@gpu07:22;
    `gpu[01-02],cpu7` (Slurm's node list) -> gpu01, gpu02, cpu7. Several bracket groups multiply
    out; zero padding follows the first number of each range; `[::1]:22` stays one host."""
    lists = _TOP_COMMA.split(spec)
    if len(lists) > 1:
        if not all(s.strip() for s in lists):
            raise UsageError(f"bad host list `{spec}`: an empty host between commas", hint="e.g. gpu[01-02],cpu7")
        out = [h for s in lists for h in expand(s.strip())]
        if len(out) > MAX_HOSTS:
            raise UsageError(f"host list `{spec}` names {len(out)} hosts", hint=f"at most {MAX_HOSTS} at once")
        return out
    parts = _GROUP.split(spec)  # text, group, text, group, ..., text
    if re.search(r"[\[\]]", _IPV6.sub("", "".join(parts[::2]))):
        raise UsageError(f"bad host list `{spec}`: unbalanced brackets", hint="e.g. gpu[01-04,07]")
    choices = [[p] if i % 2 == 0 else _members(p, spec) for i, p in enumerate(parts)]
    count = 1
    for c in choices:
        count *= len(c)
    if count > MAX_HOSTS:
        raise UsageError(f"host list `{spec}` names {count} hosts", hint=f"at most {MAX_HOSTS} at once")
    return ["".join(combo) for combo in itertools.product(*choices)]


def _members(group: str, spec: str) -> list[str]:
    out = []
    for item in group.split(","):
        m = _RANGE.match(item.strip())
        if not m:
            raise UsageError(f"bad host list `{spec}`: `{item}` is not a number or a range", hint="e.g. gpu[01-04,07]")
        lo, hi = m.group(1), m.group(2) or m.group(1)
        if int(hi) < int(lo):
            raise UsageError(f"bad host list `{spec}`: range {item} runs backwards", hint="e.g. gpu[01-04]")
        out += [str(n).zfill(len(lo)) for n in range(int(lo), int(hi) + 1)]
    return out


def from_file(path: str) -> list[str]:
    """One host or host list per line; blank lines and `#` comments are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read hosts file {path}: {e.strerror}", hint="one host per line") from None
    except UnicodeDecodeError:
        raise UsageError(f"hosts file {path} is not text", hint="one host per line") from None
    hosts = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            hosts += expand(line)
    if not hosts:  # probing nothing would look like a clean bill of health
        raise UsageError(f"hosts file {path} names no host", hint="one host or host list per line; # starts a comment")
    return hosts


def collect(specs: tuple[str, ...] | list[str], hosts_file: str | None) -> list[str]:
    """Every host named on the command line and in the file, in order, each once."""
    hosts = [h for spec in specs for h in expand(spec)] + (from_file(hosts_file) if hosts_file else [])
    return list(dict.fromkeys(hosts))
