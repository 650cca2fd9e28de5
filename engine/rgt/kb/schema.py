"""The knowledge contract in one place: what a profile, a gotcha and a probe may say.

`profiles/_schema.md` explains these tables to authors; lint enforces them; the parser
uses them to type values. Change a key here and in every profile in the same commit.
"""
from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import sources

# Values a fact may take when the platform itself does not fix it.
VARIES = ("host-dependent", "image-dependent", "plan-dependent")

SECTIONS = (
    "LAUNCH",
    "STORAGE MODEL",
    "NETWORK",
    "SPOT / INTERRUPTION + RESUME",
    "TEARDOWN / BILLING",
    "DAEMON TOOL",
    "TOP GOTCHAS",
    "SCRIPT OVERRIDES",
)

# Every gotcha ID prefix and what it covers. IDs are never reused or renumbered.
PREFIXES = {
    "U": "universal",
    "MN": "multi-node",
    "AD": "AutoDL",
    "VAST": "vast.ai",
    "PS": "Paperspace",
    "RP": "RunPod",
    "LAM": "Lambda Cloud",
    "GEN": "bare SSH box",
    "SLURM": "Slurm",
    "K8S": "Kubernetes",
    "NB": "Colab / Kaggle",
    "LOC": "local workstation",
    "CN": "Chinese rental family, shared",
    "GS": "Gpushare (恒源云)",
    "MP": "Matpool (矩池云)",
    "FZ": "Featurize",
    "LR": "LanRui (揽睿星舟)",
    # the training layer (references/training/): failures inside the loop, one prefix per theme
    "MEM": "training: GPU and host memory inside the loop",
    "PREC": "training: numeric precision, NaN and loss scaling",
    "DIST": "training: distributed launch, rendezvous, NCCL, DDP/FSDP/ZeRO",
    "PERF": "training: throughput (data loading, threads, compile, multi-GPU)",
    "CKPT": "training: checkpoints and resume",
    "CONV": "training: data and convergence",
}
# Prefixes whose gotchas hold on every platform (they live under references/, not in a profile).
UNIVERSAL_PREFIXES = ("U", "MN", "MEM", "PREC", "DIST", "PERF", "CKPT", "CONV")
ID_RE = re.compile(r"\b(" + "|".join(sorted(PREFIXES, key=len, reverse=True)) + r")(\d{1,3})\b")


def prefix_of(gid: str) -> str:
    """The prefix of a well-formed ID (`PS` of PS2); empty for anything else."""
    m = ID_RE.fullmatch(gid)
    return m.group(1) if m else ""
GOTCHA_HEADING_RE = re.compile(r"^(?P<id>[A-Z0-9]+?\d+)\s+[—-]\s+(?P<title>\S.*)$")
PATH_LINK_RE = re.compile(r"(?<![\w/.])((?:references|profiles|templates|scripts)/[\w./-]+\.(?:md|j2|sh|py|yaml))(?:#(?P<anchor>[\w-]+))?")
# Pointers in prose besides IDs and paths: a reference named by its topic ("the checkpoint
# reference" is references/training/checkpoint.md) and a principle by number ("principle #8").
REFERENCE_NAME_RE = re.compile(r"\bthe ([a-z][a-z-]*(?: [a-z][a-z-]*)?) reference\b")
# "the X reference" phrases that name something outside the knowledge base (a container image's).
NOT_OUR_REFERENCES = frozenset({"image", "object", "weak", "api", "cli"})
PRINCIPLE_RE = re.compile(r"\b[Pp]rinciples? #\d+(?:(?:,\s*|,?\s+(?:and|or)\s+)#\d+)*")
PRINCIPLES_PAGE = "references/principles.md"

KINDS = ("ssh-rental", "marketplace", "cloud-api", "notebook", "scheduler", "orchestrator", "local")
CURRENCIES = ("USD", "CNY")
DETACH = ("tmux", "nohup", "onstart", "sbatch", "k8s-job", "none")


class SchemaError(ValueError):
    """A value that does not fit its declared type; the message says what would."""


class SourceKindError(SchemaError):
    """A source whose kind is not one rgt knows, or not given where no rule can tell it."""


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise SchemaError("expected true or false")


def _num(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SchemaError("expected a number")
    return v


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise SchemaError("expected a whole number")
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise SchemaError("expected a non-empty string")
    return v


def _str_list(v: Any) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise SchemaError("expected a list of strings")
    return v


def _abs_paths(v: Any) -> list[str]:
    paths = _str_list(v)
    if any(not p.startswith("/") or any(c.isspace() for c in p) for p in paths):
        raise SchemaError("expected absolute paths without spaces")
    return paths


_abs_paths.__doc__ = "list of absolute paths"


def _names(v: Any) -> list[str]:
    names = _str_list(v)
    if any(n != n.lower() or n != n.strip() for n in names):
        raise SchemaError("expected lower-case names without surrounding spaces")
    return names


def _enum(*allowed: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in allowed:
            raise SchemaError("expected one of: " + ", ".join(allowed))
        return v
    check.__doc__ = " | ".join(allowed)
    return check


def _nullable(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        return None if v is None else inner(v)
    check.__doc__ = f"{inner.__doc__ or inner.__name__.strip('_')} | null"
    return check


def _or_varies(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if v in VARIES:
            return v
        try:
            return inner(v)
        except SchemaError as e:
            raise SchemaError(f"{e}, or one of: {', '.join(VARIES)}") from None
    check.__doc__ = f"{inner.__doc__ or inner.__name__.strip('_')} | {' | '.join(VARIES)}"
    return check


def _path_or_false(v: Any) -> Any:
    if v is False or (isinstance(v, str) and v.startswith("/")):
        return v
    raise SchemaError("expected an absolute path or false")


_bool.__doc__, _num.__doc__, _int.__doc__ = "bool", "number", "int"
_str.__doc__, _str_list.__doc__, _path_or_false.__doc__ = "string", "list of strings", "path | false"


def _limit_bytes(v: Any) -> Any:
    if v is None or v == "undocumented":
        return v
    return _int(v)


_limit_bytes.__doc__ = "int | undocumented | null"


def check_source(v: Any) -> dict:
    """A source is `{url: https://… | doc: <name>, checked: YYYY-MM-DD[, kind: <kind>]}`; the kind,
    when not given, is inferred by the rules of kb/sources.py."""
    if not isinstance(v, dict):
        raise SchemaError("a source is a mapping {url: …, checked: YYYY-MM-DD}")
    where = v.get("url") or v.get("doc")
    if not isinstance(where, str) or not where:
        raise SchemaError("a source needs `url:` (or `doc:` for a document without one)")
    if "url" in v and not str(v["url"]).startswith(("https://", "http://")):
        raise SchemaError(f"source url is not a web address: {v['url']}")
    checked = v.get("checked")
    if isinstance(checked, str):
        try:
            checked = _dt.date.fromisoformat(checked)
        except ValueError:
            checked = None
    if not isinstance(checked, _dt.date):
        raise SchemaError("a source needs `checked: YYYY-MM-DD`, the day it was read")
    kind = v.get("kind")
    if kind is None:
        kind = sources.inferred_kind(v)
        if kind is None:
            name = where if len(where) <= 60 else where[:57] + "…"
            raise SourceKindError(f"no rule tells what the document `{name}` is; say its `kind:` "
                                  f"({', '.join(sources.KINDS)})")
    elif not isinstance(kind, str) or kind not in sources.KINDS:
        raise SourceKindError(f"source kind `{kind}` is not one of: {', '.join(sources.KINDS)}")
    return {**v, "checked": checked.isoformat(), "kind": kind}


def _sources(v: Any) -> list[dict]:
    if not isinstance(v, list) or not v:
        raise SchemaError("expected a non-empty list of sources")
    return [check_source(x) for x in v]


_sources.__doc__ = "list of {url, checked, kind}"


def _unverified(v: Any) -> dict[str, str]:
    if not isinstance(v, dict) or not v:
        raise SchemaError("expected a mapping of fact key to why no official page confirms it")
    for key, why in v.items():
        if key not in FACT_KEYS:
            raise SchemaError(f"`{key}` is not a fact key")
        if not isinstance(why, str) or not why.strip():
            raise SchemaError(f"say why `{key}` is unverified")
    return dict(v)


_unverified.__doc__ = "mapping of fact key to why"


@dataclass(frozen=True)
class Key:
    check: Callable[[Any], Any]
    meaning: str
    required: bool = True
    fact: bool = True  # a per-platform fact that rules, plan and compare read; variants may override


# Frontmatter keys. The first thirteen facts come from the seed profiles; the rest are the
# clocks and prices that `rgt plan` and `rgt compare` need.
FRONTMATTER: dict[str, Key] = {
    "platform": Key(_str, "slug, equal to the file name without .md", fact=False),
    "name": Key(_str, "the platform's name as people know it", fact=False),
    "kind": Key(_enum(*KINDS), "how the machine is rented and reached", fact=True),
    "prefixes": Key(_str_list, "gotcha ID prefixes this profile owns", fact=False),
    "called": Key(_names, "names users write for it, lower-case; diagnose spots them in the text", required=False, fact=False),
    "marks": Key(_abs_paths, "paths that exist only on this platform's boxes (AutoDL's /root/autodl-tmp); diagnose "
                 "recognises the platform from them when none was given", required=False, fact=False),
    "variants": Key(lambda v: v, "per-variant descriptions and fact overrides", required=False, fact=False),
    "meter_stop_verb": Key(_str, "the action that stops the GPU meter, as the console names it"),
    "meter_stop_irreversible": Key(_bool, "true when that action deletes the box's disks"),
    "stop_verb_exists": Key(_bool, "false when no reversible stop exists (terminate is the only way out)"),
    "stop_verb": Key(_nullable(_str), "the reversible stop, as the console names it: the meter-stop verb itself "
                     "when that keeps the disks; null when none exists"),
    "stop_verb_bills": Key(_str_list, "what keeps billing while the box is stopped with stop_verb ([] = nothing or no such stop)"),
    "stop_still_bills": Key(_str_list, "what keeps billing after the meter-stop verb ([] = nothing)"),
    "stopped_storage_per_gb_month": Key(_or_varies(_nullable(_num)), "price of a stopped box's storage per GB-month, in `currency`; null = free or no stop"),
    "currency": Key(_enum(*CURRENCIES), "currency of every price in this profile"),
    "detach_primitive": Key(_enum(*DETACH), "what keeps a job alive after the login ends"),
    "spot_available": Key(_bool, "an interruptible / preemptible tier exists"),
    "spot_grace": Key(_nullable(_int), "seconds of notice before a spot interruption (0 = none); null when no spot"),
    "shared_fs": Key(_bool, "a filesystem shared between instances exists"),
    "inode_cap": Key(_or_varies(_nullable(_int)), "hard inode limit on the durable filesystem; null = none documented"),
    "free_egress": Key(_or_varies(_bool), "data leaving the platform costs nothing"),
    "egress_per_gb": Key(_or_varies(_nullable(_num)), "egress price per GB in `currency`; null = free"),
    "china_mirror_needed": Key(_bool, "HF / PyPI / GitHub need a mirror or proxy from this platform"),
    "host_driver_cuda_max": Key(_or_varies(_str), "newest CUDA the host driver supports, e.g. \"12.4\""),
    "local_nvme": Key(_or_varies(_path_or_false), "path of fast instance-local disk, or false"),
    "auto_shutdown_h": Key(_nullable(_num), "hours after which a running box is stopped by default; null = no such timer"),
    "auto_shutdown_max_h": Key(_nullable(_num), "the longest the auto-shutdown can be set to; null = it can be turned off"),
    "session_cap_h": Key(_nullable(_num), "hard cap in hours on one session or job; cannot be raised"),
    "idle_timeout_h": Key(_nullable(_num), "hours of inactivity after which the session is ended"),
    "auto_release_h": Key(_nullable(_num), "hours after which a stopped box and its disks are deleted"),
    "rental_end": Key(_nullable(_enum("host-set")),
                      "`host-set`: every rental has its own end date, set by the host, at which the box stops; null = no such date"),
    "onstart_limit_bytes": Key(_limit_bytes, "size limit of the boot hook script; `undocumented` = a hook with no published limit; null = no boot hook"),
    "sources": Key(_sources, "where the frontmatter facts come from", fact=False),
    "unverified": Key(_unverified, "facts no official page confirms, each with why (the vendor's pages disagree, only "
                      "users report it); rgt marks them wherever it shows them", required=False, fact=False),
}

FACT_KEYS = tuple(k for k, spec in FRONTMATTER.items() if spec.fact)
CLOCK_KEYS = ("session_cap_h", "auto_shutdown_h", "idle_timeout_h", "auto_release_h")

# The `rgt` YAML block under every gotcha.
GOTCHA_BLOCK: dict[str, Key] = {
    "aka": Key(_str_list, "how users say it, in their words (English and Chinese)"),
    "see": Key(_str_list, "related gotcha IDs", required=False),
    "tags": Key(_str_list, "themes, lower-case", required=False),
    "probes": Key(_str_list, "probe IDs from references/probes.md that can decide it", required=False),
    "readings": Key(_str_list, "observations shown with its verdict because they bear on it, though no rule can "
                    "decide on them (a box that booted 38 min ago, for a run that vanished overnight)", required=False),
    "confirm": Key(_str, "rule expression: true means this gotcha happened", required=False),
    "rule_out": Key(_str, "rule expression: true means it did not", required=False),
    "sources": Key(_sources, "public pages or documents behind the facts"),
}
GOTCHA_LABELS = ("Symptom", "Cause", "Fix", "Verify")
GOTCHA_REQUIRED_LABELS = ("Symptom", "Cause", "Fix")

# The `rgt` YAML block under every probe.
PROBE_BLOCK: dict[str, Key] = {
    "command": Key(_str, "read-only shell command run on the box"),
    "timeout": Key(_num, "seconds before the probe is cut off"),
    "parser": Key(_str, "name of the engine parser for its output"),
    "gpu": Key(_bool, "opens the GPU devices (nvidia-smi, torch): runs in the GPU lane, never beside the "
               "probe that lists who holds them", required=False),
    "heavy": Key(_bool, "costs the box seconds of CPU or GPU memory (imports torch, opens a CUDA context): run "
                 "for a candidate that fits, never on speculation for a nearby one", required=False),
    "reads": Key(_enum("box", "host", "cluster"), "what the reading describes: `box` (the container or machine "
                 "the job runs in; the default), `host` (the machine under a container: host-wide even "
                 "inside one), `cluster` (jobs wherever a scheduler ran them: sacct, kubectl)",
                 required=False),
    "fallback": Key(_str, "what the user can run and paste when the probe cannot read its source "
                    "(e.g. `sudo dmesg -T | tail -n 200`)", required=False),
}

# Keys every `sh variant=<name>` block in section 8 sets, explicitly (an empty value is empty).
OVERRIDE_KEYS: dict[str, str] = {
    "DATA_DIR": "fast disk for live checkpoints, logs and caches",
    "DURABLE_DIR": "mount that survives the meter-stop verb; empty when only an off-box copy survives",
    "HF_HOME": "Hugging Face cache, kept off small or ephemeral disks",
    "HF_ENDPOINT": "Hugging Face mirror; empty for the default endpoint",
    "PROXY_HOOK": "shell line run before any network call; empty for none",
    "PY": "the Python interpreter to run",
    "DETACH": "tmux | nohup | onstart | sbatch | k8s-job | none",
    "CRED_FILE": "file the wrapper reads secrets from (never on a shared disk); empty: secrets come from the environment",
    "PRUNE": "space-separated globs of rolling checkpoints that may go once the durable copy is verified",
}

# Entities diagnose pulls out of what the user typed; rule expressions may use them.
ENTITIES: dict[str, str] = {
    "said_hours": "a duration the user named, in hours (\"6h\", \"12 hours\", \"90 min\")",
    "said_exit_code": "an exit code the user named (\"exit 137\")",
    "said_xid": "an NVIDIA Xid number the user named (\"Xid 79\")",
    "said_killed": "the user saw `Killed` or SIGKILL",
    "said_no_space": "the user saw `No space left on device`",
    "said_disk_pct": "a disk usage percentage the user quoted (\"df -h 34%\")",
    "said_cuda_oom": "the user saw `CUDA out of memory`",
    "said_multinode": "the job spans several nodes (\"2-node\", \"multi-node\", \"多机\")",
    "said_precision": "the one training precision the user named: `fp16`, `bf16` or `fp32` (\"loss nan with bf16\")",
    "said_hours_near_clock": "said_hours lies within 10 % of one of the platform's clocks",
}
