"""Diagnose: rank the gotchas that fit what the user said, probe the box once, decide each.

rank (FTS5 bm25 + weighted coverage + entities + platform + log lines pasted into the text) →
pick the probes of the top candidates → run them as one batch through a transport → parse →
identify the run → evaluate `confirm` / `rule_out` → verdicts with evidence.

CONFIRMED is a promise that the box proved the cause, so a confirmation must hold with the box's
own readings (or log lines the user pasted) and on the gotcha's own platform (given, named in the
text, or recognised from a path only that platform's boxes have). A rule that the
user's words alone make true leaves the gotcha `possible` with those words as evidence; a
platform's gotcha is never confirmed on another platform, nor by another platform's facts.
Readings that describe something else than where the job ran (the host under a container, a
login node when sacct says the job ran on gpu07) are shown, never counted. Every `possible`
candidate says what would decide it: the readings it lacks and the readings that bear on it.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import rules
from ..errors import RemoteError, UsageError
from ..kb import index as kb_index
from ..kb import schema
from ..kb.index import Index
from ..kb.model import Gotcha, Probe, Profile
from . import batch, entities, parsers, targets
from . import run as runs
from .observation import Observation
from .transport import Transport

# A candidate fits what the user said when it accounts for most of it (FIT_SHARE of the text's
# weight), or for a fair share (FIT_MIN_SHARE) that holds specific terms: a word used by one gotcha
# weighs about 5, one used by a quarter of them about 1.5 (idf). When no candidate fits, the user
# hears so instead of a guess. Tuned on tests/cases/phrasings*.yaml; 110 of the blind phrasings
# were held out until these values were set, and scored 94% top-3.
FIT_SHARE = 0.5
FIT_MIN_SHARE, FIT_WEIGHT = 0.2, 6.5
# How much a gotcha of the named platform outranks a universal one with the same text match.
PLATFORM_BOOST = 1.5
# When the user speaks of several nodes, the failures that only happen across machines (MN) and
# in distributed launch (DIST) are the likelier ones, before a single node's time limit or OOM.
MULTI_NODE_PREFIXES, MULTI_NODE_BOOST = ("MN", "DIST"), 1.6
# With no platform given or named, one platform's gotcha is less likely to be the user's than a
# universal one saying the same (GEN4 is U26 on a bare box).
UNKNOWN_PLATFORM_FACTOR = 0.8
# Added (times the best score) to gotchas the user's own words decide: a duration that hits a
# clock their rules read, or a pasted log line that makes their `confirm` true.
EVIDENCE_BONUS = 0.6
CANDIDATES = 8
PROBED_NEIGHBOURS = 20  # ranked gotchas whose probes join the batch, shown only if the box confirms them
# What a log excerpt pasted into the text can show, read by the probe's own parser: these
# observations when present. An excerpt never shows an absence, nor that the whole log was read.
PASTE_EVIDENCE = {"kernel_log": ("oom_kills", "cgroup_oom_kills_log", "oom_victims", "python_oom_kills",
                                 "dataloader_oom_kills", "xid_codes", "gpu_fell_off_bus", "hung_tasks"),
                  "free": ("mem_total_mib", "mem_available_mib")}
# A pasted training log is read by every log parser: each recognises its own part of the text.
LOG_PARSERS = ("py_traceback", "cuda_oom", "nccl", "loss_series", "dataloader", "torchrun", "loss_scale")
PASTE_EVIDENCE.update({name: tuple(parsers.get(name).OBSERVES) for name in LOG_PARSERS})
PASTED = "your text"
# The probe that reads the logs named with --log: it runs only when some were named.
LOG_PROBE = "train_log"


@dataclass
class HostResult:
    host: str
    observations: dict[str, tuple[str, Observation]] = field(default_factory=dict)  # name -> (probe, obs)
    probe_errors: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    run_note: str = ""                                   # how the run was identified, or why not
    pasted: set[str] = field(default_factory=set)       # names read from the user's text, not the box
    set_aside: dict[str, str] = field(default_factory=dict)  # name -> why it does not decide here
    notes: list[str] = field(default_factory=list)

    def deciding(self) -> dict[str, object]:
        """Observation values that may decide a rule on this host."""
        return {n: o.value for n, (_, o) in self.observations.items() if n not in self.set_aside}


# Every probed box gets these: rgt's own processes, the run and the box's age come from ps, and
# the run is found by who holds the GPU (fuser), whichever gotchas were ranked.
PROCESS_PROBE = "ps"
ALWAYS = (PROCESS_PROBE, "gpu_holders")


def clocks(profile: Profile | None, variant: str | None) -> list[float]:
    if profile is None:
        return []
    sets = [profile.facts_for(variant)] if variant else [profile.facts_for(v) for v in profile.variant_names()] + [profile.facts]
    return sorted({f[k] for f in sets for k in schema.CLOCK_KEYS if isinstance(f.get(k), (int, float))})


def in_scope_of(g: Gotcha, profile: Profile | None) -> bool:
    """A gotcha that could be confirmed here: its platform is the one in effect, or it has none."""
    return g.platform is None or (profile is not None and g.platform == profile.slug)


def in_scope(g: Gotcha, profile: Profile) -> bool:
    """A platform's own gotchas, the universal ones, and shared family ones (CN) it claims."""
    if g.platform is not None:
        return g.platform == profile.slug
    prefix = schema.prefix_of(g.id)
    return prefix in schema.UNIVERSAL_PREFIXES or prefix in profile.prefixes


@dataclass
class Ranked:
    gotcha: Gotcha
    score: float
    fits: bool  # accounts for enough of what the user said to be named


def fits(share: float, held: float) -> bool:
    return share >= FIT_SHARE or (held >= FIT_WEIGHT and share >= FIT_MIN_SHARE)


def named_platform(text: str, profiles: list[Profile]) -> Profile | None:
    """The one platform the text names by one of its `called` names ("on runpod", "矩池云上"), or
    None when it names none or several."""
    pattern, owner = _names_pattern(tuple((p.slug, tuple(p.called)) for p in profiles))
    named = {slug for m in pattern.finditer(text) for slug in owner[m.group().lower()]}
    return next(p for p in profiles if p.slug in named) if len(named) == 1 else None


@functools.cache  # one alternation compiles in well under a millisecond; a pattern per name took 32
def _names_pattern(called: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[re.Pattern, dict[str, set[str]]]:
    """Every platform name in one pattern, longest first, and which platforms go by each name."""
    owner: dict[str, set[str]] = {}
    for slug, aliases in called:
        for name in aliases:
            owner.setdefault(name.lower(), set()).add(slug)
    longest_first = sorted(owner, key=len, reverse=True)
    chinese = [re.escape(n) for n in longest_first if any("\u3400" <= ch <= "\u9fff" for ch in n)]
    latin = [re.escape(n) for n in longest_first if not any("\u3400" <= ch <= "\u9fff" for ch in n)]
    # Chinese has no spaces to bound a word; a Latin name must not be part of a longer word
    parts = [rf"(?<![a-z0-9_])(?:{'|'.join(latin)})(?![a-z0-9_])"] if latin else []
    parts += [f"(?:{'|'.join(chinese)})"] if chinese else []
    return re.compile("|".join(parts) or r"(?!)", re.I), owner


def without_names(text: str, profiles: list[Profile]) -> str:
    """The text with every platform's names blanked: a name says where, not what went wrong. The
    platform counts through its profile, and its name in an aka must not decide which of its
    gotchas fits, nor make a question about prices look like a failure."""
    pattern, _ = _names_pattern(tuple((p.slug, tuple(p.called)) for p in profiles))
    return pattern.sub(" ", text)


def pasted_evidence(text: str, logs: Sequence[str] = ()) -> HostResult:
    """Observations read out of log lines the user pasted (`dmesg | tail`), and out of local log
    files' tails, each read on its own; kept only where present, the text first."""
    result = HostResult(PASTED)
    for part in (text, *logs):
        for parser, names in PASTE_EVIDENCE.items():
            parsed = parsers.get(parser).parse(part)
            for name in names:
                obs = parsed.get(name)
                if obs is not None and obs.line and obs.value and name not in result.observations:
                    result.observations[name] = (parser, obs)
    return result


def rank(index: Index, text: str, profile: Profile | None, said: dict[str, Any],
         scoped: bool = True, pasted: HostResult | None = None) -> list[Ranked]:
    """Best first. With `scoped`, only the profile's own, family and universal gotchas compete;
    without it (a platform only named in the text) its gotchas are favoured, not the rest dropped."""
    query = f"{text} {entities.expansion(said)}"
    scored = []
    hits = index.search(query, limit=60)
    terms = index.query_terms(text, [gid for gid, _ in hits])
    scale = index.weight_scale()
    for gid, score in hits:
        g = index.gotcha(gid)
        if g is None or (profile and scoped and not in_scope(g, profile)):
            continue
        share, held = kb_index.coverage(terms, gid)
        score *= 0.25 + share  # bm25 rewards one rare word; weigh by how much of the text fits
        if profile and g.platform == profile.slug:
            score *= PLATFORM_BOOST
        elif profile is None and g.platform is not None:
            score *= UNKNOWN_PLATFORM_FACTOR
        if said.get("said_multinode") and schema.prefix_of(g.id) in MULTI_NODE_PREFIXES:
            score *= MULTI_NODE_BOOST  # several machines: the cross-node failures come first
        scored.append(Ranked(g, score, fits(share, held / scale)))
    top = max((r.score for r in scored), default=0.0)
    shown = {name: obs.value for name, (_, obs) in (pasted.observations if pasted else {}).items()}
    told = {**(profile.facts if profile else {}), **said, **shown}  # "3 weeks" against the release clock
    for r in scored:
        if r.gotcha.platform is not None and (profile is None or r.gotcha.platform != profile.slug):
            continue  # another platform's rule proves nothing here, so it earns no bonus
        read = rules.names_read(r.gotcha.confirm, r.gotcha.rule_out) | set(r.gotcha.readings)
        clock = said.get("said_hours_near_clock") and "said_hours_near_clock" in read
        holds = rules.evaluate(r.gotcha.confirm, told)
        if clock or holds:  # their duration is its clock, or proves it
            r.score += EVIDENCE_BONUS * top
            r.fits = True
        elif holds is None and read & shown.keys():
            # the pasted log holds what its rules examine and has not already answered them: a
            # traceback of one error does not make every gotcha that reads exception_message fit
            r.score += EVIDENCE_BONUS / 2 * top
            r.fits = True
    return sorted(scored, key=lambda r: -r.score)


def capture_path(target: str, host: str, hosts: int) -> Path:
    """Where a host's capture goes: the file itself for one host, `DIR/HOST.json` for several."""
    if hosts == 1:
        return Path(target)
    try:
        Path(target).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot make the capture directory {target}: {e.strerror}",
                         hint="with several hosts, --save-capture names a directory") from None
    return Path(target) / (re.sub(r"[^A-Za-z0-9_.@-]", "_", host) + ".json")


def probe_hosts(transports: Sequence[Transport], probes: list[Probe], workdir: str | None,
                save_capture: str | None = None, selector: runs.Selector | None = None,
                marks: Sequence[str] = (), logs: Sequence[str] = (),
                env: dict[str, str] | None = None) -> list[HostResult]:
    selector = selector or runs.Selector(workdir=workdir)
    script, budget = batch.script(probes, workdir, marks=marks, logs=logs, env=env), batch.budget(probes)
    by_id = {p.id: p for p in probes}

    def one(transport: Transport) -> HostResult:
        result = HostResult(transport.host)
        try:
            done = transport.run(script, budget)
            if done.rc == 127 and "@@RGT BEGIN" not in done.stdout:  # the login shell found no bash
                raise RemoteError("bash is not on the box's PATH, and every probe needs it", where=transport.host,
                                  hint="install bash on the box (Alpine: apk add bash coreutils)")
        except RemoteError as e:
            if len(transports) == 1:
                raise  # one dead host is the whole answer: exit 3
            result.error = e.line()  # one dead node of many must not hide the others' evidence
            return result
        if save_capture:
            from .transport import save_capture as save
            save(capture_path(save_capture, transport.host, len(transports)), transport.host, done)
        for pid, out in batch.split(done.stdout).items():
            probe = by_id.get(pid)
            if probe is None:
                continue
            if out.rc is None or out.timed_out:
                result.probe_errors[pid] = "timed out" if out.timed_out else "cut off"
                continue
            try:
                parsed = parsers.get(probe.parser).parse(out.text)
            except Exception as e:  # noqa: BLE001 - a parser bug must not hide the other probes' evidence
                result.probe_errors[pid] = f"parser {probe.parser} failed: {type(e).__name__}"
                continue
            for name, obs in parsed.items():
                result.observations[name] = (pid, obs)
        found, result.run_note = runs.identify(result.observations, selector)
        result.observations.update({name: (PROCESS_PROBE, obs) for name, obs in found.items()})
        set_aside(result, by_id)
        return result

    if len(transports) == 1:
        return [one(transports[0])]
    # every host at once: waiting on the network, not the CPU, bounds a fan-out
    from concurrent.futures import ThreadPoolExecutor  # only a diagnose with a host needs threads
    with ThreadPoolExecutor(max_workers=min(targets.FAN_OUT, len(transports))) as pool:
        return list(pool.map(one, transports))


def recognise(hosts: list[HostResult], profiles: list[Profile]) -> Profile | None:
    """The one platform whose `marks` every probed box shows (AutoDL's /root/autodl-tmp), if any."""
    found = set()
    for h in hosts:
        shown = set(h.observations["platform_marks"][1].value) if "platform_marks" in h.observations else set()
        owners = {p.slug for p in profiles if shown & set(p.marks)}
        if len(owners) != 1:
            return None
        found |= owners
    if len(found) != 1:
        return None
    slug = found.pop()
    for h in hosts:
        h.notes.append(f"recognised as {slug} from {h.observations['platform_marks'][1].line.split()[-1]}")
    return next(p for p in profiles if p.slug == slug)


def in_container(h: HostResult) -> bool | None:
    """A runtime's marker file, or PID 1 younger than the host's boot: the box is a container."""
    obs = {n: o.value for n, (_, o) in h.observations.items()}
    if obs.get("container_marker"):
        return True
    pid1, up = obs.get("pid1_age_h"), obs.get("uptime_h")
    if pid1 is None or up is None:
        return None
    return pid1 < up - 0.05  # three minutes: PID 1 of a machine starts with its boot


def set_aside(h: HostResult, by_id: dict[str, Probe]) -> None:
    """Readings that describe something else than where the job ran are shown, never counted."""
    reads = {name: by_id[pid].reads for name, (pid, _) in h.observations.items() if pid in by_id}
    if in_container(h):
        up = h.observations.get("uptime_h")
        pid1 = h.observations.get("pid1_age_h")
        if up and pid1:
            h.notes.append(f"a container: it started {pid1[1].value:g} h ago on a host up {up[1].value:g} h")
        for name, what in reads.items():
            if what == "host":
                h.set_aside[name] = "describes the host under this container, not the container"
    nodes = h.observations.get("slurm_last_nodes")
    me = h.observations.get("slurm_host")
    if nodes and me and me[1].value not in _nodelist(nodes[1].value):
        where = nodes[1].value
        h.notes.append(f"the last Slurm job ran on {where}, not on {me[1].value}: "
                       f"probe that node with --host {_nodelist(where)[0]}")
        for name, what in reads.items():
            if what != "cluster":
                h.set_aside[name] = f"read on {me[1].value}; the job ran on {where}"
        for name in runs.OBSERVES:
            h.set_aside.setdefault(name, f"read on {me[1].value}; the job ran on {where}")


def _nodelist(text: str) -> list[str]:
    """sacct's NodeList (`gpu[01-02],cpu7`) as host names; one sacct did not write in Slurm's
    form is taken as it stands."""
    from .hosts import expand
    try:
        return expand(text)
    except UsageError:
        return [text.strip()]


@dataclass
class Context:
    """What a verdict may rest on besides the box: the platform in effect and what the user said."""
    profile: Profile | None      # given with --platform or named in the text
    variant: str | None
    said: dict[str, Any]
    index: Index

    @functools.cached_property
    def probe_of(self) -> dict[str, str]:
        """Observation name -> the probe that reads it. Built only when a `possible` candidate on a
        probed box asks what is missing: importing every parser is not for every diagnose."""
        out: dict[str, str] = {}
        for p in self.index.probes():
            if p.parser in parsers.names():
                for name in parsers.get(p.parser).OBSERVES:
                    out.setdefault(name, p.id)
        return out

    @functools.cached_property
    def fallbacks(self) -> dict[str, str]:
        """Probe id -> what the user can run and paste instead."""
        return {p.id: p.fallback for p in self.index.probes()}

    def facts(self, g: Gotcha) -> dict[str, Any] | None:
        """Platform facts and the user's words, as this gotcha may read them; None when the gotcha
        belongs to another platform than the one in effect (it can then only stay possible)."""
        owner = self.profile
        if g.platform is not None:
            if self.profile is None or g.platform != self.profile.slug:
                return None
        facts = dict(owner.facts_for(self.variant)) if owner else {}
        said = dict(self.said)
        said["said_hours_near_clock"] = entities.near_clock(said.get("said_hours"), clocks(owner, self.variant))
        return {**facts, **said}


def decide(g: Gotcha, ctx: Context, host: HostResult | None) -> dict[str, Any]:
    """One gotcha on one host (or on the user's words and pasted lines alone)."""
    own = ctx.facts(g)
    told = own if own is not None else dict(ctx.said)
    seen = host.deciding() if host else {}
    facts = {**told, **seen}
    verdict = rules.verdict(g.confirm, g.rule_out, told, seen)
    out: dict[str, Any] = {"verdict": verdict, "evidence": [], "missing": [], "why": ""}
    if verdict == rules.CONFIRMED and own is None:  # one platform's gotcha, proven on an unknown one
        verdict = out["verdict"] = rules.POSSIBLE
        out["why"] = f"its rule holds, but it is a {g.platform} gotcha and the platform is not known to be {g.platform}"
    elif verdict == rules.POSSIBLE and rules.evaluate(g.confirm, facts):
        out["why"] = ("what you said fits its rule; the box has not shown it" if rules.evaluate(g.confirm, told)
                      else "the readings both prove it and rule it out")
    if verdict == rules.CONFIRMED:
        out["evidence"] = _evidence(g.confirm, facts, host)
    elif verdict == rules.RULED_OUT:
        out["evidence"] = _evidence(g.rule_out, facts, host)
    else:
        said = _evidence(g.confirm, told, None) if out["why"] else []
        out["evidence"] = _dedup(said + _bearing(g, host))
        out["missing"] = _missing(g, facts, host, own is None, ctx) or [
            {"name": "readings", "why": "its readings fall between what confirms it and what rules it out"
             if g.confirm else "no probe can prove its cause, and the readings do not rule it out",
             "next": "check it by hand with its Verify step (rgt show " + g.id + ")"}]
    return out


def _line(name: str, host: HostResult | None) -> dict | None:
    if host is None or name not in host.observations:
        return None
    pid, obs = host.observations[name]
    if obs.value is None:
        return None
    entry: dict[str, Any] = {"probe": pid, "line": obs.line or f"{name} = {obs.value}",
             "host": PASTED if name in host.pasted else host.host}
    if obs.derived or not obs.line:
        entry["derived"] = True  # rgt's summary of the output, not a line the box printed
    if name in host.set_aside:
        entry["note"] = host.set_aside[name]
    return entry


def _dedup(entries: list[dict]) -> list[dict]:
    seen, out = set(), []
    for e in entries:
        key = (e.get("host"), e["line"])
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _evidence(expr: str | None, facts: dict, host: HostResult | None) -> list[dict]:
    out = []
    seen = {**facts, **(host.deciding() if host else {})}
    for name in sorted(rules.witnesses(expr, seen) or rules.names_read(expr)):
        if (entry := _line(name, host)) and name not in (host.set_aside if host else {}):
            out.append(entry)
        elif name.startswith("said_") and facts.get(name) is not None:
            out.append({"probe": "query", "line": f"{name} = {facts[name]}"})
        elif name in facts and facts[name] is not None and not (host and name in host.observations):
            out.append({"probe": "platform", "line": f"{name} = {facts[name]}"})
    return _dedup(out)


def _bearing(g: Gotcha, host: HostResult | None) -> list[dict]:
    """Readings already taken that its rules read: the agent sees them even when they decide nothing.
    An absence with no line of its own (`gpu_fell_off_bus = False`) says nothing worth quoting."""
    names = sorted(rules.names_read(g.confirm, g.rule_out)) + [n for n in g.readings]
    quiet = {n for n in names if host and n in host.observations
             and not host.observations[n][1].line and not host.observations[n][1].value}
    return _dedup([e for name in names if name not in quiet and (e := _line(name, host))])


def _missing(g: Gotcha, facts: dict, host: HostResult | None, other_platform: bool, ctx: Context) -> list[dict]:
    """What its rules still lack, each with what would supply it: the next rung of the ladder."""
    out = []
    if other_platform:
        out.append({"name": "platform", "why": f"a {g.platform} gotcha, and the platform was not given",
                    "next": f"rerun with --platform {g.platform} if the box is on {g.platform}"})
    if not (g.confirm or g.rule_out):
        out.append({"name": "rule", "why": "no probe can decide it", "next": "check its Verify step by hand"})
        return out
    for name in sorted(rules.names_read(g.confirm, g.rule_out)):
        if host and name in host.set_aside:
            out.append({"name": name, "why": host.set_aside[name], "next": _next_for_aside(host)})
        elif facts.get(name) is None:
            out.append({"name": name, **_why_absent(name, host, ctx)})
    return out


def _next_for_aside(host: HostResult) -> str:
    note = next((n for n in host.notes if "--host" in n), "")
    if note:
        return note.split(": ", 1)[1]
    return ("only the host shows it for this container: ask the provider, or rely on the container's "
            "own counters (memory.events)")


_SAID_ASK = {
    "said_hours": "say how long the run had been going when it stopped (e.g. '6h', 'three days')",
    "said_exit_code": "give the exit code the run ended with (e.g. 'exit 137')",
    "said_xid": "paste the Xid line from the kernel log",
    "said_no_space": "paste the error line (e.g. 'No space left on device')",
    "said_cuda_oom": "paste the error line",
    "said_killed": "say whether the run printed 'Killed'",
    "said_disk_pct": "give the disk use df printed",
    "said_precision": "say which precision the run trains in: fp16, bf16 or fp32",
    "said_hours_near_clock": "say how long the run had been going when it stopped",
}


def _why_absent(name: str, host: HostResult | None, ctx: Context) -> dict:
    if host is not None and host.host == PASTED:
        host = None  # pasted lines are not a probed box
    if name in _SAID_ASK:
        return {"why": "only you know it", "next": _SAID_ASK[name]}
    if name in schema.FACT_KEYS:
        return {"why": "a platform fact", "next": "give --platform (and --variant)"}
    if name in runs.OBSERVES:
        if host is None:
            return {"why": "no box was probed", "next": "add --host H, --local or --capture F"}
        return {"why": (host.run_note or "the run was not identified").split("; pass ")[0],
                "next": "name the run: --pid N, --match TEXT or --workdir DIR"}
    if host is None:
        return {"why": "no box was probed", "next": "add --host H, --local or --capture F, or paste the output"}
    probe = ctx.probe_of.get(name)
    if probe is None:
        return {"why": "no probe reads it", "next": ""}
    readable = [o.value for n, (pid, o) in host.observations.items() if pid == probe and n.endswith("_readable")]
    if probe in host.probe_errors:
        why = f"the {probe} probe {host.probe_errors[probe]}"
    elif False in readable or not any(pid == probe for pid, _ in host.observations.values()):
        why = f"the {probe} probe could not read it (no permission, or the tool is missing)"
    else:
        why = f"the {probe} probe's output did not show it"
    fallback = ctx.fallbacks.get(probe)
    return {"why": why, "next": f"run `{fallback}` on the box and paste the output" if fallback
            else f"run the command of `rgt show {probe}` on the box and paste the output"}


def batch_probes(index: Index, top: list[Gotcha], ranked: list, scope: Profile | None, *, logs: bool) -> list[Probe]:
    """What one batch runs: the run-finding probes, the fitting candidates' probes, and the cheap
    probes of the nearest gotchas, fitting or not: a cause the box shows is named even when the
    words fell short (an Xid under "NCCL error"). A heavy probe (one that imports torch and opens
    a CUDA context on a GPU the run may be filling) runs only for a candidate that fits."""
    wanted = list(ALWAYS) + ([LOG_PROBE] if logs else [])
    for g in top:
        wanted += [p for p in g.probes if p not in wanted and p != LOG_PROBE]
    fitting = set(wanted)
    for r in ranked[:PROBED_NEIGHBOURS]:
        if in_scope_of(r.gotcha, scope):
            wanted += [p for p in r.gotcha.probes if p not in wanted and p != LOG_PROBE]
    probes = [p for pid in wanted if (p := index.probe(pid))]
    return [p for p in probes if not p.heavy or p.id in fitting]


def diagnose(index: Index, text: str, *, profile: Profile | None = None, variant: str | None = None,
             transports: list[Transport] | None = None, workdir: str | None = None, save_capture: str | None = None,
             limit: int = CANDIDATES, selector: runs.Selector | None = None,
             logs: Sequence[str] = (), log_texts: Sequence[str] = ()) -> dict:
    """`logs`: paths read on every probed box; `log_texts`: tails of local logs, read like pasted text."""
    said = entities.extract(text)
    profiles = index.profiles()
    named = named_platform(text, profiles) if profile is None else None
    said["said_hours_near_clock"] = entities.near_clock(said["said_hours"], clocks(profile or named, variant))
    pasted = pasted_evidence(text, log_texts)
    ranked = rank(index, without_names(text, profiles), profile or named, said,
                  scoped=profile is not None, pasted=pasted)
    advice = entities.asks_for_advice(text) and not pasted.observations
    no_match = advice or not any(r.fits for r in ranked)
    result: dict[str, Any] = {
        "query": text, "platform": profile.slug if profile else None,
        "variant": variant, "platform_named": named.slug if named else None, "platform_recognised": None,
        "entities": {k: v for k, v in said.items() if v not in (None, False)},
        "no_match": no_match, "candidates": [], "hosts": [],
    }
    if no_match:
        result["message"] = ("this reads as a question about how to do something, and rgt diagnoses failures; "
                             "describe what went wrong, with the error line if there is one") if advice else \
            ("nothing in the knowledge base fits this description well enough to name; "
             "add the exact error line, the exit code or how long the run lasted")
        return result
    # the candidates that fit what the user said, not a fixed count: a tail of gotchas that share
    # one word with the text is noise an agent would have to read
    top = [(r.gotcha, r.score) for r in ranked if r.fits][:limit]
    hosts: list[HostResult] = []
    if transports:
        probes = batch_probes(index, [g for g, _ in top], ranked, profile or named, logs=bool(logs))
        marks = [m for p in profiles for m in p.marks] if profile is None and named is None else []
        probed = probe_hosts(transports, probes, workdir, save_capture, selector or runs.Selector(workdir=workdir),
                             marks, logs)
        result["hosts"] = [{"host": h.host, "probes": len({pid for pid, _ in h.observations.values()}),
                            "probe_errors": h.probe_errors, "error": h.error, "run": h.run_note,
                            "notes": h.notes} for h in probed]
        hosts = [h for h in probed if h.error is None]
        if not hosts:
            raise RemoteError(f"no host could be probed; first: {probed[0].error}",
                              hint="check the hosts with `ssh HOST true`")
        for h in hosts:  # what the user pasted holds on every host, under what the host itself shows
            for name, item in pasted.observations.items():
                if name not in h.observations or name in h.set_aside:  # the user may paste the host's own log
                    h.observations[name] = item
                    h.pasted.add(name)
                    h.set_aside.pop(name, None)
    recognised = recognise(hosts, profiles) if profile is None and named is None else None
    if recognised:
        result["platform_recognised"] = recognised.slug
    ctx = Context(profile or named or recognised, variant if profile else None, said, index)
    seen_on = hosts or ([pasted] if pasted.observations else [])
    candidates = [_candidate(g, score, ctx, seen_on) for g, score in top]
    # a cause the box proves is named even when the user's words did not bring it up (an Xid 79
    # under "the job died overnight"): every other gotcha whose rules the readings can decide
    shown = {c["id"] for c in candidates}
    observed = {n for h in seen_on for n in h.observations}
    for g in (index.gotchas() if seen_on else []):
        if g.id in shown or not g.confirm or not rules.names_read(g.confirm) & observed:
            continue
        found = _candidate(g, 0.0, ctx, seen_on)
        if found["verdict"] == rules.CONFIRMED:
            candidates.append({**found, "found_by": "the box: your words did not name it"})
    order = {rules.CONFIRMED: 0, rules.POSSIBLE: 1, rules.RULED_OUT: 2}
    result["candidates"] = sorted(candidates, key=lambda c: (order[c["verdict"]], -c["score"]))
    return result


def _candidate(g: Gotcha, score: float, ctx: Context, seen_on: list[HostResult]) -> dict[str, Any]:
    verdict, detail = _combine([decide(g, ctx, h) for h in seen_on] or [decide(g, ctx, None)])
    return {"id": g.id, "title": g.title, "platform": g.platform, "score": round(score, 3),
            "verdict": verdict, "evidence": detail["evidence"], "missing": detail["missing"],
            "why": detail["why"], "fix": g.fix, "see": g.see, "location": f"{g.file}:{g.line}"}


def _combine(decided: list[dict]) -> tuple[str, dict]:
    """Across hosts: confirmed anywhere wins; ruled out only where every host rules it out."""
    confirmed = [d for d in decided if d["verdict"] == rules.CONFIRMED]
    if confirmed:
        return rules.CONFIRMED, {"evidence": [e for d in confirmed for e in d["evidence"]], "missing": [], "why": ""}
    if all(d["verdict"] == rules.RULED_OUT for d in decided):
        return rules.RULED_OUT, {"evidence": [e for d in decided for e in d["evidence"]], "missing": [], "why": ""}
    possible = [d for d in decided if d["verdict"] == rules.POSSIBLE]
    missing = _dedup_missing([m for d in possible for m in d["missing"]])
    return rules.POSSIBLE, {"evidence": [e for d in possible for e in d["evidence"]], "missing": missing,
                            "why": next((d["why"] for d in possible if d["why"]), "")}


def _dedup_missing(items: list[dict]) -> list[dict]:
    seen, out = set(), []
    for m in items:
        if (m["name"], m["why"]) not in seen:
            seen.add((m["name"], m["why"]))
            out.append(m)
    return out
