"""All chosen probes as ONE read-only bash script, each under its own timeout, and the way back:
splitting the script's output into each probe's text and exit code."""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from ..kb.model import Probe

_MARK = re.compile(r"^@@RGT (BEGIN|END) ([a-z0-9_]+)(?: rc=(\d+))?@@$")


@dataclass
class ProbeOutput:
    probe: str
    text: str
    rc: int | None  # None: the probe never finished (the batch was cut short)

    @property
    def timed_out(self) -> bool:
        return self.rc == 124


def script(probes: list[Probe], workdir: str | None = None) -> str:
    lines = ["export LC_ALL=C LANG=C  # parsers read C-locale output",
             "export RGT_WORKDIR=" + shlex.quote(workdir) if workdir else "unset RGT_WORKDIR"]
    for p in probes:
        lines += [
            f"printf '\\n@@RGT BEGIN {p.id}@@\\n'",
            f"timeout -k 2 {p.timeout:g} bash -c {shlex.quote(p.command)} 2>&1 </dev/null",
            f"printf '\\n@@RGT END {p.id} rc=%s@@\\n' \"$?\"",
        ]
    return "\n".join(lines) + "\n"


def budget(probes: list[Probe]) -> float:
    """Seconds the whole batch may take: every probe's timeout and its kill grace, plus slack."""
    return sum(p.timeout + 2 for p in probes) + 10


def split(stdout: str) -> dict[str, ProbeOutput]:
    outputs: dict[str, ProbeOutput] = {}
    current, buf = None, []
    for line in stdout.splitlines():
        m = _MARK.match(line)
        if m and m.group(1) == "BEGIN":
            current, buf = m.group(2), []
        elif m and m.group(1) == "END" and m.group(2) == current:
            text = "\n".join(buf[:-1] if buf and buf[-1] == "" else buf)
            outputs[current] = ProbeOutput(current, text.strip("\n"), int(m.group(3)))
            current = None
        elif current is not None:
            buf.append(line)
    if current is not None:  # cut off mid-probe
        outputs[current] = ProbeOutput(current, "\n".join(buf).strip("\n"), None)
    return outputs
