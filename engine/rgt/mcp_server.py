"""`rgt mcp`: the same functions as the CLI, as MCP tools over stdio, returning the same JSON.

A user's mistake comes back as a tool error (`isError: true`) whose text ends in
`{"error": "...", "exit_code": n}` with the next step, so an agent can act on it.
`rgt mcp --kb DIR` sets the knowledge base a call uses when it names none.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import api
from .errors import RgtError

READ_ONLY = {"read_only_hint": True, "destructive_hint": False, "idempotent_hint": True, "open_world_hint": False}


DEFAULT_KB: str | None = None  # from `rgt mcp --kb`


def _call(fn: Callable[[], dict]) -> dict[str, Any]:
    from mcp.server.mcpserver.exceptions import ToolError
    try:
        return fn()
    except RgtError as e:
        raise ToolError(json.dumps({"error": e.line(), "exit_code": int(e.exit_code)}, ensure_ascii=False)) from None


def _index(kb: str | None):
    return api.open_index(kb or DEFAULT_KB)


def rgt_platforms(kb: str | None = None) -> dict[str, Any]:
    """List the platforms rgt knows, with their variants."""
    return _call(lambda: api.platforms(_index(kb)))


def rgt_show(node_id: str, brief: bool = False, kb: str | None = None) -> dict[str, Any]:
    """Show one gotcha (e.g. PS2, U3), probe (kernel_log) or platform (paperspace) in full; brief: a
    gotcha's symptom, cause, fix, related IDs and the probes that decide it, nothing more."""
    return _call(lambda: api.show(_index(kb), node_id, brief))


def rgt_search(text: str, limit: int = 10, kb: str | None = None) -> dict[str, Any]:
    """Full-text search of the gotchas (titles, how users say it, symptoms, causes)."""
    return _call(lambda: api.search(_index(kb), text, limit))


def rgt_facts(platform: str, variant: str | None = None, kb: str | None = None) -> dict[str, Any]:
    """Typed facts of one platform: stop verb, what a stop still bills, clocks, prices."""
    return _call(lambda: api.facts(_index(kb), platform, variant))


def rgt_compare(platforms: list[str], kb: str | None = None) -> dict[str, Any]:
    """Facts of several platforms side by side (name a variant as platform:variant)."""
    return _call(lambda: api.compare(_index(kb), platforms))


def rgt_plan(platform: str, hours: float, variant: str | None = None, spot: bool = False,
             checkpoint_cost_s: float | None = None, mtbf_h: float | None = None, disk_gb: float | None = None,
             rental_left_h: float | None = None, kb: str | None = None) -> dict[str, Any]:
    """Preflight before renting: which clock ends the job, what the stop verb destroys and bills, checkpoint cadence.
    A platform with several variants needs variant. rental_left_h: hours until the rental's host-set end date."""
    return _call(lambda: api.plan(_index(kb), platform, hours, variant, spot, checkpoint_cost_s, mtbf_h, disk_gb,
                                  rental_left_h))


def rgt_render(platform: str, job: str, out: str, variant: str | None = None, kb: str | None = None) -> dict[str, Any]:
    """Write the box scripts for a job (job: path of a job.yaml, docs/job-spec.md) into the directory out:
    run_one.sh, run_queue.sh and the platform's boot hook, sbatch or Job. Answers with the resolved
    data_dir, durable_dir and durable target, the launch command, warnings (a durable copy on the data
    volume, a copy-out the run will stop for), and each file's size and sha256.
    A file in out that differs from what rgt writes is refused, never replaced."""
    return _call(lambda: api.render(_index(kb), platform, job, out, variant))


def rgt_diagnose(text: str, platform: str | None = None, variant: str | None = None,
                 hosts: list[str] | None = None, capture: str | None = None, workdir: str | None = None,
                 pid: int | None = None, match: str | None = None, limit: int = 8,
                 logs: list[str] | None = None, kb: str | None = None) -> dict[str, Any]:
    """Rank the causes that fit a failure description (pasted log lines count as evidence); with
    hosts (ssh aliases, user@host[:port], or host lists such as gpu[01-08]) or a capture file, run
    read-only probes and mark each cause confirmed (the box proved it), ruled_out or possible, with
    evidence lines; a possible cause lists in `missing` what would decide it. The run is the process
    holding the GPU, or name it with pid, match (text in its command line) or workdir.
    logs: training log paths whose tails are read on each box (local files when no host or capture).
    A host that cannot be reached is reported in hosts[].error."""
    return _call(lambda: api.diagnose(_index(kb), text, platform=platform, variant=variant, hosts=hosts or (),
                                      captures=[capture] if capture else (), workdir=workdir, pid=pid, match=match,
                                      limit=limit, logs=logs or ()))


def rgt_watch(hosts: list[str] | None = None, capture: str | None = None, pid: int | None = None,
              match: str | None = None, workdir: str | None = None, log: str | None = None,
              checkpoints: str | None = None, platform: str | None = None, variant: str | None = None,
              log_silent_s: float = 900.0, checkpoint_stale_s: float = 10800.0, kb: str | None = None) -> dict[str, Any]:
    """Is the training run running, stalled (log silent, GPU idle or no new checkpoint; `reasons` says
    which), finished (run_one.sh's DURABLE OK / exit status), dead (gone without a completion marker;
    `next` holds the rgt diagnose to run) or unknown (pass pid, match or workdir)? One read-only check
    per host, with evidence lines, the last step/loss in log, the newest complete checkpoint and its
    age, and the platform's nearest danger clock. Call again to poll; compare `state`."""
    return _call(lambda: api.watch(_index(kb), hosts=hosts or (), captures=[capture] if capture else (), pid=pid,
                                   match=match, workdir=workdir, log=log, checkpoints=checkpoints, platform=platform,
                                   variant=variant, log_silent_s=log_silent_s, checkpoint_stale_s=checkpoint_stale_s))


def rgt_pull(remote_dir: str, local_dir: str, hosts: list[str] | None = None, local: bool = False,
             platform: str | None = None, variant: str | None = None, kb: str | None = None) -> dict[str, Any]:
    """Copy remote_dir off each host (ssh alias, user@host[:port] or a host list; several hosts go to
    local_dir/HOST) resumably, verify every file's sha256 against the box's own listing, and say
    whether a destroy is safe: safe_to_destroy is true only when every file matched, nothing was
    being written and platform is given; reasons lists what is missing, destroy names what the
    platform's destroy verb deletes. The box is only read; rgt never destroys anything."""
    return _call(lambda: api.pull(_index(kb), remote_dir, local_dir, hosts=hosts or (), local=local,
                                  platform=platform, variant=variant))


def rgt_lint(kb: str | None = None) -> dict[str, Any]:
    """Check a knowledge base; findings as file, line, code, message."""
    return _call(lambda: api.lint(kb or DEFAULT_KB)[0])


# name -> (function, annotations); diagnose reaches out to hosts, so it is open-world.
TOOLS: dict[str, tuple[Callable[..., dict], dict]] = {
    "rgt_platforms": (rgt_platforms, READ_ONLY),
    "rgt_show": (rgt_show, READ_ONLY),
    "rgt_search": (rgt_search, READ_ONLY),
    "rgt_facts": (rgt_facts, READ_ONLY),
    "rgt_compare": (rgt_compare, READ_ONLY),
    "rgt_plan": (rgt_plan, READ_ONLY),
    # it writes files, but only new ones or identical ones: nothing the user had is lost
    "rgt_render": (rgt_render, {**READ_ONLY, "read_only_hint": False}),
    "rgt_diagnose": (rgt_diagnose, {**READ_ONLY, "idempotent_hint": False, "open_world_hint": True}),
    "rgt_watch": (rgt_watch, {**READ_ONLY, "idempotent_hint": False, "open_world_hint": True}),
    "rgt_lint": (rgt_lint, READ_ONLY),
    # writes the local copy (never the box), and reaches out to hosts
    "rgt_pull": (rgt_pull, {"read_only_hint": False, "destructive_hint": False, "idempotent_hint": True,
                            "open_world_hint": True}),
}


def server(kb: str | None = None):
    global DEFAULT_KB
    DEFAULT_KB = kb
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    srv = MCPServer("rgt", instructions="Operating knowledge for long GPU jobs on rented machines: "
                    "diagnose lost runs, preflight a job, look up what a platform's stop verb still bills.")
    for name, (fn, hints) in TOOLS.items():
        srv.add_tool(fn, name=name, annotations=ToolAnnotations(**hints))
    return srv
