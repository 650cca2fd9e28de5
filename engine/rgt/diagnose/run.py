"""Which process is the user's training run: decided here and nowhere else.

The run is the process named by `--pid`, or the processes whose command line holds `--match`, or
the processes holding the GPU, or Python processes working under `--workdir`, in that order of
trust. rgt's own probes never appear (the ps parser drops its session); shells, multiplexers,
pagers, notebook servers, GPU daemons and system daemons are never the run. When two unrelated
process trees qualify, nothing is chosen and the note says what to pass.

From the chosen processes come the `run_*` observations that rules about "the run" read: whether
it is alive, its age, where its stdout goes and whether it is buffered, its environment. With no
run identified they stay absent, so those rules stay undecided.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .observation import Observation, Observations

OBSERVES: dict[str, str] = {
    "run_identified": "bool",          # one run was found (False: looked, found none or several)
    "run_alive": "bool",               # True when identified; False when --pid/--match names no process,
                                       # or when no Python program runs and nothing holds the GPU
    "run_age_s": "int",                # seconds since the oldest process of the run started
    "run_stdout_redirected": "bool",   # its stdout is a file, pipe or socket, not a terminal
    "run_unbuffered": "bool",          # PYTHONUNBUFFERED set or `python -u`
    "run_proxy_set": "bool",           # http(s)_proxy / all_proxy set in its environment
    "run_threads": "int",              # threads of its busiest process
}
PROBES = ("ps",)  # the probes these observations come from; gpu_holders sharpens them


@dataclass(frozen=True)
class Selector:
    pid: int | None = None
    match: str | None = None
    workdir: str | None = None

    def __bool__(self) -> bool:
        return bool(self.pid or self.match or self.workdir)


_PYTHON = re.compile(r"^python[0-9.]*$")
# argv[0] basenames that are never the run, whatever their arguments say
_NEVER = re.compile(
    r"^(?:-?(?:ba|z|da|fi|k|c|tc)?sh|tmux.*|screen|nohup|timeout|setsid|sudo|su|env|xargs|watch|"
    r"grep|egrep|pgrep|pkill|ps|top|htop|nvtop|tail|less|more|cat|vim?|nano|ssh|sshd.*|sftp-server|"
    r"nvidia-smi|nvidia-persistenced|nv-hostengine|dcgm.*|fuser|systemd.*|dbus-.*|cron|rsyslogd|"
    r"jupyter.*|tensorboard|code-server|node|init|tini|dumb-init|supervisord|containerd.*|dockerd|"
    r"networkd-dispatcher|unattended-upgrade.*|snapd|packagekitd|polkitd|"
    # desktops: the display server and compositors hold the GPU on every workstation
    r"Xorg|X|Xwayland|gnome-shell|kwin.*|plasmashell|mutter|sway|weston|gdm.*|sddm.*|firefox.*|chrome|chromium.*)$")
# Python programs that are services, not training: notebook and tensorboard servers, distro daemons
_PY_SERVICE = re.compile(r"(?:^|/)(?:jupyter[-\w]*|tensorboard|networkd-dispatcher|unattended-upgrade\w*|"
                         r"supervisord|gunicorn|uvicorn|streamlit|gradio)\b"
                         r"|-m (?:jupyter\w*|notebook|jupyterlab|tensorboard\w*|http\.server)\b")


def _argv0(p: dict) -> str:
    args = p["args"].strip()
    return args.split(None, 1)[0].rsplit("/", 1)[-1] if args else ""


def _is_python(p: dict) -> bool:
    return bool(_PYTHON.match(_argv0(p)))


def _kernel_thread(p: dict) -> bool:
    return p["args"].startswith("[") and p["args"].endswith("]")


def _never(p: dict) -> bool:
    """Wrappers, tools and services: not the run even when they name it or hold the GPU."""
    if _kernel_thread(p) or p["stat"].startswith("Z"):
        return True
    if _is_python(p):
        script = p["args"].split(None, 2)[1:2]  # `python3 /usr/bin/networkd-dispatcher`
        return bool(_PY_SERVICE.search(p["args"]) or (script and _NEVER.match(script[0].rsplit("/", 1)[-1])))
    return bool(_NEVER.match(_argv0(p)))


def _under(path: str | None, workdir: str) -> bool:
    root = workdir.rstrip("/") or "/"
    return path is not None and (path == root or path.startswith(root + "/"))


def candidates(procs: list[dict], gpu_pids: set[int], sel: Selector) -> tuple[list[dict], str]:
    """The run's processes and how they were found ("" when nothing qualified)."""
    if sel.pid:
        return [p for p in procs if p["pid"] == sel.pid], f"--pid {sel.pid}"
    if sel.match:
        return [p for p in procs if sel.match in p["args"] and not _never(p)], f"--match {sel.match!r}"
    held = [p for p in procs if p["pid"] in gpu_pids and not _never(p)]
    if held:
        return held, "holds the GPU"
    if sel.workdir:
        return [p for p in procs if _is_python(p) and not _never(p) and _under(p.get("cwd"), sel.workdir)], \
            f"python under --workdir {sel.workdir}"
    return [], ""


# Launchers whose children are one run's workers: torchrun's workers lead to torchrun.
_LAUNCHER = re.compile(r"torchrun|torch\.distributed\.(?:run|launch)|accelerate|deepspeed|horovodrun|mpirun|mpiexec")


def roots(chosen: list[dict], procs: list[dict]) -> list[dict]:
    """The top of each chosen process's tree: climb through parents that were chosen too, or that
    launch workers (torchrun, accelerate, deepspeed); any other parent (a shell, a notebook, the
    test runner that started it) belongs to something else."""
    by_pid = {p["pid"]: p for p in procs}
    picked = {p["pid"] for p in chosen}
    tops: dict[int, dict] = {}
    for p in chosen:
        top = p
        while (parent := by_pid.get(top["ppid"])) and parent["pid"] != 1 and not _never(parent) and \
                (parent["pid"] in picked or _LAUNCHER.search(parent["args"])):
            top = parent
        tops[top["pid"]] = top
    return list(tops.values())


def identify(observations: dict[str, tuple[str, Observation]], sel: Selector) -> tuple[Observations, str]:
    """The run_* observations and a one-line note on how the run was identified, or why not."""
    if "processes" not in observations:
        return {}, "no process table was read, so no run could be identified"
    procs = observations["processes"][1].value
    complete = observations.get("processes_complete", ("", Observation(False)))[1].value
    gpu = observations.get("gpu_holder_pids", ("", Observation([])))[1].value or []
    chosen, how = candidates(procs, set(gpu), sel)
    if not chosen:
        if (sel.pid or sel.match) and complete:  # the user said what the run is, and it is not there
            line = f"no process matches {how}"
            return {"run_identified": Observation(False, line, True), "run_alive": Observation(False, line, True)}, line
        if not sel and complete and not gpu and not any(_is_python(p) and not _never(p) for p in procs):
            # nothing that could be a training run is left: no Python program, nothing on the GPU
            line = "no Python process (services aside) and no process holding the GPU"
            return {"run_identified": Observation(False, line, True), "run_alive": Observation(False, line, True)}, line
        hint = "pass --pid N, --match TEXT or --workdir DIR to name the run"
        return {}, ("no process holds the GPU and no run was named; " + hint) if not sel else f"no run found by {how}"
    tops = roots(chosen, procs)
    if len(tops) > 1 and not (sel.pid or sel.match):
        listed = "; ".join(f"pid {t['pid']} ({t['args'][:60]})" for t in tops[:4])
        return {"run_identified": Observation(False, f"several runs: {listed}", True)}, \
            f"several runs qualify ({listed}); pass --pid N or --match TEXT to choose"
    group = {p["pid"]: p for p in chosen + tops}.values()
    top = min(tops, key=lambda t: t["pid"]) if len(tops) > 1 else tops[0]
    oldest = max(group, key=lambda p: p["age_s"])
    busiest = max(group, key=lambda p: p["threads"])
    out: Observations = {
        "run_identified": Observation(True, top["line"]),
        "run_alive": Observation(True, top["line"]),
        "run_age_s": Observation(oldest["age_s"], oldest["line"]),
        "run_threads": Observation(busiest["threads"], busiest["line"]),
    }
    out.update(_stdout(top))
    out.update(_environment(top))
    return out, f"the run is pid {top['pid']} ({top['args'][:80]}), found by {how}"


_TTY = re.compile(r"^/dev/(?:pts/\d+|tty\S*|console)$")
_ARG_OPTS = set("WXcmQ")  # interpreter options whose argument follows in the same token


def _has_u_flag(args: str) -> bool:
    """`python -u`, `python -Bu`, `python -W ignore -u x.py`: -u among the interpreter's options."""
    tokens = iter(args.split()[1:])
    for token in tokens:
        if not token.startswith("-") or token in ("-", "--") or token.startswith("--"):
            return False
        if token in ("-W", "-X"):
            next(tokens, None)
            continue
        for ch in token[1:]:
            if ch == "u":
                return True
            if ch in _ARG_OPTS:
                return False
    return False


def _stdout(p: dict) -> Observations:
    """Where the run's stdout goes, quoting the /proc line that shows it, and whether it is
    buffered, quoting the variable's own line or the ps row that shows no `-u`."""
    out = p.get("out")
    if not out:
        return {}  # its fds are not ours to read: say nothing
    result = {"run_stdout_redirected": Observation(not _TTY.match(out), p.get("out_line") or p["line"])}
    env = p.get("env")
    if _has_u_flag(p["args"]):
        result["run_unbuffered"] = Observation(True, p["line"])
    elif env and env.get("PYTHONUNBUFFERED"):
        result["run_unbuffered"] = Observation(True, p.get("env_lines", {}).get("PYTHONUNBUFFERED", p["line"]))
    elif env is not None and _is_python(p):  # environ was read (PATH shows it) and holds no such variable
        result["run_unbuffered"] = Observation(False, p["line"])
    return result


def _environment(p: dict) -> Observations:
    env = p.get("env")
    if env is None:
        return {}
    proxies = {k: v for k, v in env.items() if k.lower() in ("http_proxy", "https_proxy", "all_proxy") and v}
    if proxies:
        return {"run_proxy_set": Observation(True, p.get("env_lines", {}).get(next(iter(proxies)), p["line"]))}
    line = f"pid {p['pid']} environment has no http_proxy, https_proxy or all_proxy"
    return {"run_proxy_set": Observation(False, line, True)}
