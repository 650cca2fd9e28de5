"""The functions behind every command: the only way in. The CLI and the MCP server parse their
arguments, call one of these, and print or return the same JSON-ready dict. Each dict carries
`kind` and `version`, set here and bumped in VERSIONS when that kind's shape changes."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import UsageError
from .kb import schema
from .kb.index import Index
from .kb.model import Gotcha
from .kb.paths import bundled_kb
from .platform import choose_variant, require_profile

JSON_VERSION = 1
VERSIONS = {"diagnose": 2}  # kinds whose shape changed since version 1
# render.py imports JSON_VERSION and require_profile from here until it imports rgt.platform


def open_index(kb: str | Path | None = None) -> Index:
    root = Path(kb) if kb else bundled_kb()
    if not root.is_dir():
        why = ("is a symlink that loops or dangles" if root.is_symlink() else
               "is not a directory" if root.exists() else "does not exist")
        raise UsageError(f"knowledge base directory {root} {why}", hint="pass --kb DIR with profiles/ and references/")
    if not (root / "profiles").is_dir():
        raise UsageError(f"{root} has no profiles/ directory", hint="pass --kb DIR pointing at a knowledge-base root")
    return Index.open(root)


def _shaped(kind: str, body: dict | None = None, **fields: Any) -> dict:
    body = {k: v for k, v in {**(body or {}), **fields}.items() if k not in ("version", "kind")}
    return {"version": VERSIONS.get(kind, JSON_VERSION), "kind": kind, **body}


def observable():
    """What diagnose's parsers and run identification can observe, for lint's rule checks."""
    from .diagnose import parsers, run
    from .kb.lint import Observable

    by_parser = {}
    for name in parsers.names():
        try:
            by_parser[name] = frozenset(parsers.get(name).OBSERVES)
        except (ImportError, AttributeError):
            by_parser[name] = frozenset()  # a parser module not written yet provides nothing
    return Observable(by_parser, frozenset(run.OBSERVES), frozenset(run.PROBES))


def lint(kb: str | Path | None = None) -> tuple[dict, bool]:
    """Lint findings as JSON, and whether there are any (every code is an error)."""
    from .kb import lint as kb_lint  # the parser's imports are paid only by commands that parse
    from .kb.parse import load_kb

    root = Path(kb) if kb else bundled_kb()
    if not (root / "profiles").is_dir():
        raise UsageError(f"{root} has no profiles/ directory", hint="pass --kb DIR pointing at a knowledge-base root")
    # `severity` stays in the shape for readers of version 1; every code is an error
    findings = [{"file": f.file, "line": f.line, "code": f.code, "severity": "error", "message": f.message}
                for f in kb_lint.lint(load_kb(root), observable())]
    return _shaped("lint", root=str(root), findings=findings), bool(findings)


def platforms(index: Index) -> dict:
    rows = []
    for p in index.profiles():
        rows.append({
            "platform": p.slug, "name": p.name, "kind": p.kind, "prefixes": p.prefixes,
            "variants": [{"name": v, "description": p.variants.get(v, {}).get("description", "")}
                         for v in p.variant_names()],
            "gotchas": len(p.gotcha_ids), "file": p.file,
        })
    return _shaped("platforms", platforms=rows)


def gotcha_json(index: Index, g: Gotcha) -> dict:
    data = g.to_json()
    data["probe_commands"] = {pid: pr.command for pid in g.probes if (pr := index.probe(pid))}
    data["location"] = f"{g.file}:{g.line}"
    data["unverified"] = g.unverified()
    return data


def gotcha_brief(index: Index, g: Gotcha) -> dict:
    """What an agent acts on: the symptom, cause and fix, related IDs, and only the probes whose
    observations its confirm or rule_out read (a probe that feeds a mere reading decides nothing)."""
    from . import rules
    read = rules.names_read(g.confirm, g.rule_out)
    seen = observable()
    deciding = [pid for pid in g.probes if read & seen.of_probe(pid, pr.parser if (pr := index.probe(pid)) else "")]
    return {"id": g.id, "title": g.title, "platform": g.platform, "symptom": g.symptom, "cause": g.cause,
            "fix": g.fix, "see": g.see, "probes": deciding, "location": f"{g.file}:{g.line}"}


def show(index: Index, node_id: str, brief: bool = False) -> dict:
    if (g := index.gotcha(node_id)) is not None:
        if brief:
            return _shaped("gotcha_brief", gotcha=gotcha_brief(index, g))
        return _shaped("gotcha", gotcha=gotcha_json(index, g))
    if (pr := index.probe(node_id)) is not None:
        from .diagnose import parsers
        data = pr.to_json()
        data["observes"] = dict(parsers.get(pr.parser).OBSERVES) if pr.parser in parsers.names() else {}
        data["used_by"] = [src for src, kind in index.edges(pr.id, "in") if kind == "probe"]
        return _shaped("probe", probe=data)
    if (p := index.profile(node_id)) is not None:
        return _shaped("platform", platform={**p.to_json(), "unverified": p.unverified_facts()})
    hint = "IDs look like PS2, U3 or a probe such as kernel_log; try `rgt search TEXT`"
    raise UsageError(f"no gotcha, probe or platform `{node_id}`", hint=hint)


def search(index: Index, text: str, limit: int = 10) -> dict:
    if not text.strip():
        raise UsageError("search text is empty", hint='say what happened, e.g. rgt search "run vanished at 6h"')
    hits = []
    for gid, score in index.search(text, limit=limit):
        if (g := index.gotcha(gid)) is None:
            continue
        hits.append({"id": gid, "title": g.title, "platform": g.platform, "score": round(score, 3),
                     "location": f"{g.file}:{g.line}"})
    return _shaped("search", query=text, results=hits)


def facts(index: Index, slug: str, variant: str | None = None) -> dict:
    p = require_profile(index, slug, variant)
    return _shaped("facts", platform=slug, variant=variant, facts=p.facts_for(variant),
                   unverified=p.unverified_facts(), sources=p.sources, file=p.file)


def compare(index: Index, slugs: list[str], keys: list[str] | None = None) -> dict:
    if len(slugs) < 2:
        raise UsageError("compare needs at least two platforms", hint="e.g. rgt compare vastai runpod lambda")
    keys = keys or list(schema.FACT_KEYS)
    unknown = [k for k in keys if k not in schema.FACT_KEYS]
    if unknown:
        raise UsageError(f"unknown fact key(s): {', '.join(unknown)}", hint=f"keys: {', '.join(schema.FACT_KEYS)}")
    from . import compare as behind

    columns, see, hints, unverified = {}, {}, {}, {}
    gotchas = index.gotchas()
    for slug in slugs:
        slug, _, variant = slug.partition(":")
        p = require_profile(index, slug, variant or None)
        label = f"{slug}:{variant}" if variant else slug
        facts_ = p.facts_for(variant or None)
        columns[label] = {k: facts_.get(k) for k in keys}
        columns[label]["ends_a_run"] = run_enders(facts_)
        unverified[label] = {k: why for k, why in p.unverified_facts().items() if k in keys}
        see[label] = behind.see(p, gotchas, keys + ["ends_a_run"])
        hints[label] = {k: v for k, v in behind.hints(facts_, see[label]).items() if k in keys}
    return _shaped("compare", keys=keys + ["ends_a_run"], platforms=columns, clocks=list(schema.CLOCK_KEYS),
                   unverified=unverified, see=see, hints=hints)


def run_enders(f: dict) -> list[str]:
    """The clocks and events that can end a run on this platform, in words."""
    out = []
    if f.get("session_cap_h"):
        out.append(f"session cap {f['session_cap_h']:g} h")
    if f.get("auto_shutdown_h"):
        top = f.get("auto_shutdown_max_h")
        out.append(f"auto-shutdown {f['auto_shutdown_h']:g} h" + (f" (settable to {top:g} h)" if top else " (can be turned off)"))
    if f.get("idle_timeout_h"):
        out.append(f"idle {f['idle_timeout_h']:g} h")
    if f.get("spot_available"):
        grace = f.get("spot_grace")
        out.append("spot interruption" + (f" ({grace} s notice)" if grace is not None else ""))
    if f.get("auto_release_h"):
        out.append(f"stopped box deleted after {f['auto_release_h']:g} h")
    return out


def plan(index: Index, platform: str, hours: float, variant: str | None = None, spot: bool = False,
         checkpoint_cost_s: float | None = None, mtbf_h: float | None = None, disk_gb: float | None = None,
         rental_left_h: float | None = None) -> dict:
    from .plan import JobPlan, preflight, preflight_each

    profile = require_profile(index, platform, variant)
    job = JobPlan(hours, spot, checkpoint_cost_s, mtbf_h, disk_gb, rental_left_h)
    if variant is None and len(profile.variant_names()) > 1:  # say which clock applies to whom
        return _shaped("plan", preflight_each(index, profile, job))
    return _shaped("plan", preflight(index, profile, choose_variant(profile, variant), job))


def render(index: Index, platform: str, job_path: str | Path, out: str | Path, variant: str | None = None,
           force: bool = False) -> dict:
    from .render import render_job  # it chooses the variant with platform.choose_variant's rule

    return _shaped("render", render_job(index, platform, variant, job_path, out, force=force))


def diagnose(index: Index, text: str, *, platform: str | None = None, variant: str | None = None,
             hosts: Sequence[str] = (), hosts_file: str | None = None, local: bool = False,
             captures: Sequence[str] = (), save_capture: str | None = None, force: bool = False,
             workdir: str | None = None, pid: int | None = None, match: str | None = None,
             accept_new_host_key: bool = False, connect_timeout: float = 15.0, ssh_config: str | None = None,
             limit: int = 8, logs: Sequence[str] = ()) -> dict:
    """Everything the request names is checked before a box is reached; a host that cannot be
    probed is reported in hosts[].error, and only when none can is it an error. `logs` are read on
    every probed box; with no box to probe, they are local files, read here like pasted text."""
    from .diagnose import targets

    if variant and not platform:
        raise UsageError("--variant needs --platform", hint="e.g. --platform paperspace --variant core")
    profile = require_profile(index, platform, variant) if platform else None
    transports = targets.transports(hosts, hosts_file, local, captures, accept_new_host_key=accept_new_host_key,
                                    connect_timeout=connect_timeout, ssh_config=ssh_config)
    if save_capture:
        targets.check_capture_target(save_capture, [t.host for t in transports], force)
    if not text.strip():
        raise UsageError("no text to diagnose", hint='describe the failure, e.g. rgt diagnose "run vanished at 6h"')
    for path in logs:
        if not path.strip() or "\n" in path:
            raise UsageError(f"--log {path!r} is not a file path", hint="give one log file per --log")
    log_texts = [] if transports else [_log_tail(path) for path in logs]
    try:
        # the boxes start connecting now (as many as are probed at once; the rest as others finish),
        # and the diagnosis is imported and ranked while they do
        for t in transports[:targets.FAN_OUT]:
            t.start()
        from .diagnose.diagnosis import diagnose as run
        from .diagnose.run import Selector

        result = run(index, text, profile=profile, variant=variant, transports=transports, workdir=workdir,
                     save_capture=save_capture, limit=limit, selector=Selector(pid=pid, match=match, workdir=workdir),
                     logs=logs if transports else (), log_texts=log_texts)
    finally:  # a connection opened for an answer that needed no box (advice, no match) is let go
        for t in transports:
            t.close()
    return _shaped("diagnose", result)


LOG_TAIL_BYTES = 262144  # as much of a log as the train_log probe reads on a box


def _log_tail(path: str) -> str:
    """The last LOG_TAIL_BYTES of a local training log, as text (stray bytes replaced)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - LOG_TAIL_BYTES))
            return f.read().decode("utf-8", "replace")
    except OSError as e:
        raise UsageError(f"{path}: cannot read the log: {e.strerror}",
                         hint="check the path, or add --host/--local to read it on the box") from None


def watch(index: Index, *, hosts: Sequence[str] = (), hosts_file: str | None = None, local: bool = False,
          captures: Sequence[str] = (), pid: int | None = None, match: str | None = None,
          workdir: str | None = None, log: str | None = None, checkpoints: str | None = None,
          platform: str | None = None, variant: str | None = None, log_silent_s: float = 900.0,
          checkpoint_stale_s: float = 3 * 3600.0, gpu_idle_pct: int = 0, accept_new_host_key: bool = False,
          connect_timeout: float = 15.0, ssh_config: str | None = None) -> dict:
    """One check of the run on each host: running, stalled, finished, dead or unknown, with evidence."""
    from . import watch as w
    from .diagnose import targets
    from .diagnose.run import Selector

    if variant and not platform:
        raise UsageError("--variant needs --platform", hint="e.g. --platform paperspace --variant core")
    profile = require_profile(index, platform, variant) if platform else None
    transports = targets.transports(hosts, hosts_file, local, captures, accept_new_host_key=accept_new_host_key,
                                    connect_timeout=connect_timeout, ssh_config=ssh_config)
    if not transports:
        raise UsageError("no box to watch", hint="pass --host H, --local or --capture F")
    limits = w.Thresholds(log_silent_s, checkpoint_stale_s, gpu_idle_pct)
    found = w.check(index, transports, Selector(pid=pid, match=match, workdir=workdir), limits, log=log,
                    checkpoints=checkpoints, profile=profile, variant=variant)
    result: dict[str, Any] = {"platform": platform, "hosts": found}
    result["state"] = w.summary(result)
    result["healthy"] = w.healthy(result)
    return _shaped("watch", result)


def pull(index: Index, remote_dir: str, local_dir: str | Path, *, hosts: Sequence[str] = (),
         hosts_file: str | None = None, local: bool = False, platform: str | None = None,
         variant: str | None = None, accept_new_host_key: bool = False, connect_timeout: float = 15.0,
         ssh_config: str | None = None, show_progress: bool = False) -> dict:
    """Copy REMOTE_DIR off each box, verify it against the box's sha256, and say whether a destroy
    is safe. The platform, the hosts and LOCAL_DIR are checked before a box is reached."""
    from .diagnose import targets
    from .transfer import pull as puller

    if variant and not platform:
        raise UsageError("--variant needs --platform", hint="e.g. --platform paperspace --variant core")
    facts = None
    if platform:
        profile = require_profile(index, platform, variant)
        facts = profile.facts_for(choose_variant(profile, variant))
    if not remote_dir.strip():
        raise UsageError("REMOTE_DIR is empty", hint="name the directory on the box that holds the checkpoints")
    local_path = Path(local_dir)
    puller.check_local(local_path)
    transports = targets.transports(hosts, hosts_file, local, accept_new_host_key=accept_new_host_key,
                                    connect_timeout=connect_timeout, ssh_config=ssh_config)
    if not transports:
        raise UsageError("pull needs --host H (or --local)", hint="e.g. rgt pull --host gpu1 /root/runs ./runs")
    result = puller.run(transports, remote_dir, local_path, facts, show_progress=show_progress)
    return _shaped("pull", result, platform=platform, variant=variant)
