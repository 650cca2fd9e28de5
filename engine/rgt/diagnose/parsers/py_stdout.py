"""py_stdout: one line per running Python process, from the probe's shell loop over
`pgrep -f '^([^ ]*/)?python[0-9.]*( |$)'` (argv[0] is python, python3, python3.11, with or without
a path), then pgrep's exit status:

    pid=3 out=/tmp/run/train.log unbuffered=0 args=/usr/bin/python3 train.py
    pid=4 out=pipe:[10158] unbuffered=1 args=/usr/bin/python3.11 -u serve.py
    pid=129 out= unbuffered=0 args=
    rgt-done rc=0

`out` is where fd 1 points. A terminal (/dev/pts/N, /dev/ttyN, /dev/console) is not a
redirect; a file, /dev/null, a pipe or a socket is. `unbuffered` counts PYTHONUNBUFFERED=<non-empty>
in the environment; `-u` among the interpreter's options counts too.

A process whose `out` is empty is unknown: its fds are gone (zombie) or not ours to read (another
user's process), and then its environ was unreadable as well (both need the same ptrace access),
so its `unbuffered=0` proves nothing. Such processes are ignored: the observations speak of the
processes this user can inspect, and nothing is reported when there is none. Arguments containing newlines
continue on the next lines; a shell complaint such as "cannot open /proc/129/environ" is skipped.

python_stdout_redirected: True when some known process writes stdout to a file or pipe. False
needs the whole list (`rgt-done rc=0` after it) with no known process redirected; or no Python
process at all (`rgt-done rc=1`, pgrep matched nothing), since then none redirects.

python_unbuffered: whether the processes that matter are all unbuffered: the redirected ones
when there are any (a terminal is line-buffered anyway), else every known one. A buffered one
makes it False from any output; True needs the marker, as the list must be complete. With no
Python process it is not reported: there is no buffering to speak of, and "True" would be
vacuous. Any other pgrep status (2, 3, 127: bad pattern, failure, pgrep missing) and output cut
before the marker report only what the lines shown prove.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, done, obs

OBSERVES: dict[str, str] = {
    "python_stdout_redirected": "bool",  # some running python writes stdout to a file or pipe
    "python_unbuffered": "bool",         # the redirected ones (else all) have PYTHONUNBUFFERED or -u
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
        elif records and ln and not _SHELL_NOISE.search(ln) and not done([ln]):
            records[-1][3] += "\n" + ln
    closing = done(content_lines(text))
    complete = closing is not None and closing[0] in (0, 1)
    if complete and closing[0] == 1 and not records:  # pgrep found no Python process
        return {"python_stdout_redirected": obs(False, closing[1])}
    known = [r for r in records if r[1].strip()]
    if not known:
        return {}
    out: Observations = {}
    redirected = [r for r in known if not _TTY.match(r[1].strip())]
    if redirected:
        out["python_stdout_redirected"] = obs(True, redirected[0][0])
    elif complete:
        out["python_stdout_redirected"] = obs(False, known[0][0])
    judged = redirected or known
    buffered = [r for r in judged if r[2] == 0 and not _has_u_flag(r[3])]
    if buffered:
        out["python_unbuffered"] = obs(False, buffered[0][0])
    elif complete:
        out["python_unbuffered"] = obs(True, judged[0][0])
    return out
