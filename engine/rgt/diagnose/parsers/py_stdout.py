"""py_stdout: one line per running python/python3 process, from the probe's shell loop:

    pid=3 out=/tmp/run/train.log unbuffered=0 args=/usr/bin/python3 train.py
    pid=4 out=pipe:[10158] unbuffered=1 args=/usr/bin/python3 -u serve.py
    pid=129 out= unbuffered=0 args=

`out` is where fd 1 points. A terminal (/dev/pts/N, /dev/ttyN, /dev/console) is not a
redirect; a file, /dev/null, a pipe or a socket is. `unbuffered` counts PYTHONUNBUFFERED=<non-empty>
in the environment; `-u` among the interpreter's options counts too.

A process whose `out` is empty is unknown: its fds are gone (zombie) or not ours to read, and
then its environ was unreadable as well (both need the same ptrace access), so its
`unbuffered=0` proves nothing. Such processes are ignored. Arguments containing newlines
continue on the next lines; a shell complaint such as "cannot open /proc/129/environ" is skipped.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import obs

OBSERVES: dict[str, str] = {
    "python_stdout_redirected": "bool",  # some running python writes stdout to a file or pipe
    "python_unbuffered": "bool",         # every one of them has PYTHONUNBUFFERED or -u
}

_REC = re.compile(r"^pid=(\d+) out=(.*?) unbuffered=(\d+) args=(.*)$")
_TTY = re.compile(r"^/dev/(?:pts/\d+|tty\S*|console)$")
_SHELL_NOISE = re.compile(r"cannot open /proc/\d+/|: No such process$|Permission denied$")
_ARG_OPTS = set("WXcmQ")  # options whose argument follows in the same token (-Wignore, -X dev)


def _has_u_flag(args: str) -> bool:
    tokens = iter(args.split()[1:])
    for token in tokens:
        if not token.startswith("-") or token in ("-", "--") or token.startswith("--"):
            return False
        if token in ("-W", "-X"):
            next(tokens, None)  # the option's argument is the next token
            continue
        for ch in token[1:]:
            if ch == "u":
                return True
            if ch in _ARG_OPTS:
                break
        if token in ("-c", "-m"):
            return False
    return False


def parse(text: str) -> Observations:
    records: list[list] = []  # [first line, out, unbuffered count, args]
    for ln in text.splitlines():
        m = _REC.match(ln)
        if m:
            records.append([ln, m.group(2), int(m.group(3)), m.group(4)])
        elif records and ln and not _SHELL_NOISE.search(ln):
            records[-1][3] += "\n" + ln
    known = [r for r in records if r[1].strip()]
    if not known:
        return {}
    redirected = [r for r in known if not _TTY.match(r[1].strip())]
    buffered = [r for r in known if r[2] == 0 and not _has_u_flag(r[3])]
    return {
        "python_stdout_redirected": obs(bool(redirected), redirected[0][0] if redirected else ""),
        "python_unbuffered": obs(not buffered, buffered[0][0] if buffered else known[0][0]),
    }
