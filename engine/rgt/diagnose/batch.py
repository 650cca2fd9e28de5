"""All chosen probes as ONE read-only bash script, each under its own timeout, and the way back:
splitting the script's output into each probe's text and exit code.

The batch never observes itself: it exports its own session id as RGT_SID, and probes that list
processes print it (`rgt-self sid=N`) so their parsers drop every process of that session (the
script, its lanes, the `timeout` wrappers, the torch import). Probes that open the GPU devices
share one lane, so none of them holds /dev/nvidia* while another lists who holds it."""
from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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


LANES = 4  # probes running at once on the box: wall time near the slowest probe, load stays small

_PROBE_FN = """rgt_probe() {  # id, timeout, command: one probe between its markers, never reading stdin
  printf '\\n@@RGT BEGIN %s@@\\n' "$1"
  timeout -k 2 "$2" bash -c "$3" 2>&1 </dev/null
  printf '\\n@@RGT END %s rc=%s@@\\n' "$1" "$?"
}"""


def lanes(probes: list[Probe], count: int = LANES) -> list[list[Probe]]:
    """The probes that open the GPU devices in one lane, `gpu_holders` first (it lists who holds
    them, and rgt must not be among the holders); the rest dealt longest timeout first onto the
    lightest lane, so two slow probes do not queue behind each other."""
    gpu = sorted((p for p in probes if p.gpu), key=lambda p: (p.parser != "gpu_holders", -p.timeout))
    rest = [p for p in probes if not p.gpu]
    out: list[list[Probe]] = [gpu] if gpu else []
    out += [[] for _ in range(min(count - len(out), len(rest)))]
    for p in sorted(rest, key=lambda p: -p.timeout):
        min(out, key=_lane_cost).append(p)
    return out


def _lane_cost(lane: list[Probe]) -> float:
    return sum(p.timeout + 2 for p in lane)  # + the kill grace of `timeout -k 2`


def _client() -> str:
    """`<boot id>:<pid>` of this rgt process: a box with the same boot id is this machine."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = "unknown"
    return f"{boot}:{os.getpid()}"


def script(probes: list[Probe], workdir: str | None = None, lane_count: int = LANES,
           marks: Sequence[str] = (), logs: Sequence[str] = (), env: Mapping[str, str] | None = None) -> str:
    """Each lane runs in a process substitution, so its output waits in a pipe of its own and is
    copied out whole, lane after lane: no interleaving and no temporary file on the box (whose
    disk may be the very thing that is full). `env` exports more values the probes read (watch's
    log and checkpoint paths), quoted here so no value is ever spliced into a probe's command."""
    lines = ["export LC_ALL=C LANG=C  # parsers read C-locale output",
             # field 6 of /proc/PID/stat is the session; bash's own comm has no space to shift it
             "RGT_SID=$(cut -d' ' -f6 /proc/$$/stat 2>/dev/null); export RGT_SID",
             # rgt's own command line holds the user's --match text; on this very machine it is not the run
             f"export RGT_CLIENT={_client()}",
             "export RGT_WORKDIR=" + shlex.quote(workdir) if workdir else "unset RGT_WORKDIR",
             "export RGT_MARKS=" + shlex.quote(" ".join(marks)),  # paths that name a platform
             "export RGT_LOGS=" + shlex.quote("\n".join(logs)),  # training logs to read, one a line
             *(f"export {k}={shlex.quote(v)}" for k, v in (env or {}).items()),
             _PROBE_FN]
    chosen = lanes(probes, lane_count)
    for fd, lane in enumerate(chosen, start=3):
        lines.append(f"exec {fd}< <(")
        lines += [f"  rgt_probe {p.id} {p.timeout:g} {shlex.quote(p.command)}" for p in lane]
        lines.append(")")
    lines += [f"cat <&{fd}" for fd in range(3, 3 + len(chosen))]
    return "\n".join(lines) + "\n"


def budget(probes: list[Probe], lane_count: int = LANES) -> float:
    """Seconds the whole batch may take: the slowest lane's timeouts and kill graces, plus slack."""
    return max((_lane_cost(lane) for lane in lanes(probes, lane_count)), default=0) + 10


def split(stdout: str) -> dict[str, ProbeOutput]:
    outputs: dict[str, ProbeOutput] = {}
    current, buf = None, []  # type: tuple[str | None, list[str]]
    for line in stdout.splitlines():
        m = _MARK.match(line)
        if m and m.group(1) == "BEGIN":
            current, buf = m.group(2), []
        elif m and current is not None and m.group(1) == "END" and m.group(2) == current:
            text = "\n".join(buf[:-1] if buf and buf[-1] == "" else buf)
            outputs[current] = ProbeOutput(current, text.strip("\n"), int(m.group(3)))
            current = None
        elif current is not None:
            buf.append(line)
    if current is not None:  # cut off mid-probe
        outputs[current] = ProbeOutput(current, "\n".join(buf).strip("\n"), None)
    return outputs
