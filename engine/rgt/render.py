"""`rgt render`: read a job spec and render the box scripts for one platform and variant.

The scripts run on the rented box with bash and coreutils alone. Every value reaches a template
through the shell-quoting filter `q`; profile values come from section 8 of the profile (an empty
value stays empty) and job values from the spec (`docs/job-spec.md` documents it).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError
from .kb import schema
from .kb.model import Profile
from .kb.paths import bundled_kb

# What run_one.sh tells run_queue.sh (and the user) through its exit status; one table for the
# templates, the docs and the tests.
EXIT: dict[str, tuple[int, str]] = {
    "ok": (0, "the run finished and its durable copy is verified"),
    "usage": (2, "unknown cell, empty DATA_DIR, a directory that cannot be made, or no flock/setsid (util-linux)"),
    "disk_floor": (3, "DISK_GATE_ABORT: fewer free GB than disk_floor_gb, run not started (U6)"),
    "inode_floor": (4, "INODE_GATE_ABORT: fewer free inodes than inode_floor, run not started (U7)"),
    "secret_missing": (5, "a secret the spec names is in neither the environment nor CRED_FILE"),
    "command_failed": (6, "the command exited non-zero; its checkpoints stay for the resume"),
    "durable_failed": (7, "durable copy not verified; the local checkpoint is kept (U33)"),
    "copyout_required": (8, "COPY-OUT REQUIRED: the only copy is on a box the meter stop deletes"),
    "busy": (9, "another run_one.sh, or the command a killed one left running, holds this cell"),
    "stopped": (10, "stopped on request (STOP file, Slurm USR1, TERM/INT/HUP); a rerun resumes, once a STOP you wrote is removed"),
}
EXIT_CODES: dict[str, int] = {name: code for name, (code, _) in EXIT.items()}

# `durable: rclone:REMOTE:PATH` copies to an rclone remote (S3, R2, B2, GCS, …) instead of a mount.
RCLONE = "rclone:"
_RCLONE_REMOTE = re.compile(r"^(?::[a-z0-9]+|[A-Za-z0-9_.-]+(?: [A-Za-z0-9_.-]+)*):")

JOB_KEYS = ("name", "command", "workdir", "checkpoint_dir", "checkpoint_pattern", "durable", "queue",
            "disk_floor_gb", "inode_floor", "secrets", "detach", "slurm", "kubernetes")
CELL_KEYS = ("name", "args", "env")
SLURM_KEYS = ("time", "signal_before_s", "partition", "account", "gpus", "cpus_per_task", "mem")
K8S_KEYS = ("image", "pvc", "mount_path", "gpus", "cpu", "memory", "backoff_limit", "restart_policy",
            "namespace", "secret_name", "grace_period_s")
DETACH_PREFS = ("auto", "tmux", "nohup", "none")
PLACEHOLDERS = {"resume": '"$RGT_RESUME"', "ckpt_dir": '"$RGT_CKPT_DIR"', "cell": '"$RGT_CELL"', "py": '"$PY"'}

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CELL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PLACEHOLDER = re.compile(r"\{(resume|ckpt_dir|cell|py|args)\}")
# `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:?word}`: the only expansions a path value may hold.
_REF = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^$`\"\\{}]*)?\})")
_SLURM_TIME = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$")
_SAFE_WORD = re.compile(r"^[A-Za-z0-9_.,:=+/-]+$")
_K8S_QTY = re.compile(r"^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

# Path-like override keys whose `$VAR` references expand on the box (`"$HOME/rgt/data"`).
EXPANDING_OVERRIDES = ("DATA_DIR", "DURABLE_DIR", "HF_HOME", "CRED_FILE", "PY")


# ---------------------------------------------------------------- quoting

def shell_word(value: Any, expand: bool = False) -> str:
    """One shell word that the shell reads back as `value`.

    Plain (`expand=False`): `shlex.quote`, so nothing in the value ever runs or expands. With
    `expand=True` (path values only), `$NAME` / `${NAME}` / `${NAME:-x}` / `${NAME:?x}` and a
    leading `~/` stay live and everything else is literal; command substitution and backticks are
    refused, so even an expanding value cannot run anything.
    """
    text = "" if value is None else str(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    if not expand or ("$" not in text and not text.startswith("~")):
        quoted = shlex.quote(text)
        # Always quoted, even a safe word, so `DETACH='nohup'` reads as data to people and shellcheck.
        return quoted if quoted.startswith("'") else f"'{quoted}'"
    if text == "~" or text.startswith("~/"):
        text = "${HOME}" + text[1:]
    out, pos = ['"'], 0
    for m in _REF.finditer(text):
        out.append(_dq_literal(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_dq_literal(text[pos:]))
    out.append('"')
    return "".join(out)


def _dq_literal(part: str) -> str:
    if "$" in part:
        raise ValueError("may expand only $NAME or ${NAME} (no $(…), $((…)) or other `$` forms)")
    if "`" in part:
        raise ValueError("must not contain backticks")
    return part.replace("\\", "\\\\").replace('"', '\\"')


def yaml_scalar(value: Any) -> str:
    """A double-quoted YAML scalar (JSON string syntax is valid YAML)."""
    return json.dumps("" if value is None else str(value), ensure_ascii=False)


def _q_filter(value: Any, expand: bool = False) -> str:
    try:
        return shell_word(value, expand)
    except ValueError as e:  # values are checked before rendering; this is a last guard
        raise UsageError(f"value {value!r} {e}") from None


# ---------------------------------------------------------------- job spec

@dataclass
class Cell:
    name: str
    args: str = ""
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class JobSpec:
    name: str
    command: str
    checkpoint_pattern: str
    workdir: str = ""
    checkpoint_dir: str = "checkpoints"
    durable: str = ""
    queue: list[Cell] = field(default_factory=lambda: [Cell("main")])
    disk_floor_gb: float = 10
    inode_floor: int = 10000
    secrets: list[str] = field(default_factory=list)
    detach: str = "auto"
    slurm: dict[str, Any] = field(default_factory=dict)
    kubernetes: dict[str, Any] = field(default_factory=dict)
    source: str = "job.yaml"

    @property
    def slug(self) -> str:
        """The job name as a file-system-safe word: directories, tmux session, Slurm job name."""
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", self.name).strip("-.")[:60].strip("-.")
        return slug or "job"

    def cell_command(self, cell: Cell) -> str:
        """The job's command for one cell: `{args}` becomes the cell's args (shell text the user
        wrote), the other placeholders become quoted references to variables run_one.sh exports."""
        def sub(m: re.Match) -> str:
            return cell.args if m.group(1) == "args" else PLACEHOLDERS[m.group(1)]
        return _PLACEHOLDER.sub(sub, self.command)


def _got(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return type(v).__name__


class _Checker:
    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, what: str, got: Any = ..., hint: str = "") -> UsageError:
        msg = f"`{key}` {what}" + ("" if got is ... else f" (got {_got(got)})")
        return UsageError(msg, where=self.where, hint=hint)

    def string(self, data: dict, key: str, label: str, *, required: bool = False, default: str = "",
               expand: bool = False, nonempty: bool = False) -> str:
        if key not in data or data[key] is None:
            if required:
                raise self.fail(label, "is required")
            return default
        v = data[key]
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise self.fail(label, "must be a string", v)
        v = str(v)
        if (required or nonempty) and not v.strip():
            raise self.fail(label, "must not be empty")
        if "\0" in v:
            raise self.fail(label, "must not contain a NUL byte")
        if expand:
            try:
                shell_word(v, expand=True)
            except ValueError as e:
                raise self.fail(label, str(e), v) from None
        return v

    def number(self, data: dict, key: str, label: str, default: float, *, integer: bool = False,
               minimum: float = 0, maximum: float = 10**15) -> Any:
        if key not in data or data[key] is None:
            return default
        v = data[key]
        kind = "a whole number" if integer else "a number"
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
            raise self.fail(label, f"must be {kind}", v)
        if v != v or v in (float("inf"), float("-inf")):
            raise self.fail(label, f"must be {kind}", v)
        if v < minimum:
            raise self.fail(label, f"must be at least {minimum:g}", v)
        if v > maximum:
            raise self.fail(label, f"must be at most {maximum:g}", v)
        return v

    def mapping(self, data: dict, key: str, label: str, allowed: tuple[str, ...]) -> dict:
        v = data.get(key)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self.fail(label, "must be a mapping", v)
        self.known(v, allowed, prefix=f"{label}.")
        return dict(v)

    def known(self, data: dict, allowed: tuple[str, ...], prefix: str = "") -> None:
        for k in data:
            if k not in allowed:
                raise self.fail(f"{prefix}{k}", "is not a job spec key",
                                hint=f"keys: {', '.join(prefix + a for a in allowed)}; see docs/job-spec.md")


def load_job(path: str | Path) -> JobSpec:
    """Read and check a job spec; every mistake is one UsageError naming the file and the key."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"job spec {where} not found", hint="pass --job with the path of your job.yaml") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read job spec {where}: {e}") from None
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    try:
        data = YAML(typ="rt", pure=True).load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = e.problem or e.context or "YAML syntax error"
        raise UsageError(f"not valid YAML: {problem}", where=f"{where}{line}") from None
    except YAMLError as e:
        raise UsageError(f"not valid YAML: {e}", where=where) from None
    return parse_job(data, where)


def parse_job(data: Any, where: str = "job.yaml") -> JobSpec:
    c = _Checker(where)
    if not isinstance(data, dict):
        raise UsageError("a job spec is a YAML mapping with at least `name`, `command` and `checkpoint_pattern`",
                         where=where, hint="see docs/job-spec.md")
    data = {str(k): v for k, v in data.items()}
    c.known(data, JOB_KEYS)
    name = c.string(data, "name", "name", required=True)
    command = c.string(data, "command", "command", required=True)
    workdir = c.string(data, "workdir", "workdir", expand=True)
    ckpt_dir = c.string(data, "checkpoint_dir", "checkpoint_dir", default="checkpoints", expand=True, nonempty=True)
    pattern = c.string(data, "checkpoint_pattern", "checkpoint_pattern", required=True)
    if "/" in pattern:
        raise c.fail("checkpoint_pattern", "is a file-name glob inside checkpoint_dir and must not contain `/`", pattern)
    if pattern.endswith((".tmp", ".sha256", ".complete")):
        raise c.fail("checkpoint_pattern", "must match the checkpoints, not their temp files or sidecars", pattern)
    durable = c.string(data, "durable", "durable", expand=True)
    if durable.startswith(RCLONE):
        if not _RCLONE_REMOTE.match(durable[len(RCLONE):]):
            raise c.fail("durable", "names an rclone remote as rclone:REMOTE:PATH, e.g. rclone:r2:my-bucket/runs", durable)
    elif durable and not durable.startswith(("/", "$", "~")):
        raise c.fail("durable", "must be an absolute path (a mount that survives the box) or rclone:REMOTE:PATH", durable)

    queue = _parse_queue(c, data.get("queue"))
    secrets = data.get("secrets") or []
    if isinstance(secrets, dict):
        raise c.fail("secrets", "lists environment variable names only; never put a secret's value in the job spec",
                      hint="e.g. secrets: [WANDB_API_KEY, HF_TOKEN]")
    if not isinstance(secrets, list):
        raise c.fail("secrets", "must be a list of environment variable names", secrets)
    for s in secrets:
        if not isinstance(s, str) or not _ENV_NAME.match(s):
            raise c.fail("secrets", "must list environment variable names (letters, digits, _), never values",
                         s if not isinstance(s, str) else "a value that is not a variable name")
    if len(set(secrets)) != len(secrets):
        raise c.fail("secrets", "names a variable twice")
    detach = c.string(data, "detach", "detach", default="auto")
    if detach not in DETACH_PREFS:
        raise c.fail("detach", f"must be one of {', '.join(DETACH_PREFS)}", detach)
    for cell in queue:
        clash = sorted(set(cell.env) & set(secrets))
        if clash:
            raise c.fail(f"queue.{cell.name}.env", f"sets {clash[0]}, which is a secret; secrets come from the environment")

    job = JobSpec(
        name=name, command=command, checkpoint_pattern=pattern, workdir=workdir, checkpoint_dir=ckpt_dir,
        durable=durable, queue=queue,
        disk_floor_gb=c.number(data, "disk_floor_gb", "disk_floor_gb", 10, maximum=10**9),
        inode_floor=c.number(data, "inode_floor", "inode_floor", 10000, integer=True),
        secrets=list(secrets), detach=detach,
        slurm=_parse_slurm(c, c.mapping(data, "slurm", "slurm", SLURM_KEYS)),
        kubernetes=_parse_k8s(c, c.mapping(data, "kubernetes", "kubernetes", K8S_KEYS)),
        source=where,
    )
    return job


def _parse_queue(c: _Checker, raw: Any) -> list[Cell]:
    if raw is None:
        return [Cell("main")]
    if not isinstance(raw, list) or not raw:
        raise c.fail("queue", "must be a non-empty list of cells ({name, args, env})", raw)
    cells, seen = [], set()
    for i, item in enumerate(raw, 1):
        label = f"queue[{i}]"
        if not isinstance(item, dict):
            raise c.fail(label, "must be a mapping {name: …, args: …}", item)
        item = {str(k): v for k, v in item.items()}
        c.known(item, CELL_KEYS, prefix=f"{label}.")
        name = c.string(item, "name", f"{label}.name", required=True)
        if not _CELL_NAME.match(name):
            raise c.fail(f"{label}.name", "must be letters, digits, `.`, `_` or `-` (at most 64, not starting with . or -)", name)
        if name in seen:
            raise c.fail(f"{label}.name", "repeats an earlier cell's name", name)
        seen.add(name)
        args = c.string(item, "args", f"{label}.args")
        env = item.get("env") or {}
        if not isinstance(env, dict):
            raise c.fail(f"{label}.env", "must be a mapping NAME: value", env)
        clean = {}
        for k, v in env.items():
            if not isinstance(k, str) or not _ENV_NAME.match(k):
                raise c.fail(f"{label}.env", "keys must be environment variable names", k)
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise c.fail(f"{label}.env.{k}", "must be a string or a number", v)
            clean[k] = str(v)
        cells.append(Cell(name=name, args=args, env=clean))
    return cells


def _parse_slurm(c: _Checker, d: dict) -> dict:
    time = c.string(d, "time", "slurm.time", default="24:00:00")
    if not _SLURM_TIME.match(time):
        raise c.fail("slurm.time", "must be a Slurm time limit such as 24:00:00 or 1-12:00:00", time)
    out = {"time": time, "signal_before_s": c.number(d, "signal_before_s", "slurm.signal_before_s", 600, integer=True, minimum=1)}
    if out["signal_before_s"] > 65535:
        raise c.fail("slurm.signal_before_s", "must be at most 65535 seconds (Slurm's limit)", out["signal_before_s"])
    if out["signal_before_s"] >= _slurm_seconds(time):
        raise c.fail("slurm.signal_before_s", f"must be shorter than slurm.time ({time})", out["signal_before_s"])
    for key in ("partition", "account", "mem"):
        v = c.string(d, key, f"slurm.{key}")
        if v and not _SAFE_WORD.match(v):
            raise c.fail(f"slurm.{key}", "must be one word of letters, digits and .,:=+/_-", v)
        out[key] = v
    # No GPUs unless asked: a cluster without a gpu gres refuses the whole job at submit.
    out["gpus"] = c.number(d, "gpus", "slurm.gpus", 0, integer=True)
    out["cpus_per_task"] = c.number(d, "cpus_per_task", "slurm.cpus_per_task", 0, integer=True)
    return out


def _slurm_seconds(t: str) -> int:
    days, _, rest = t.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:  # days-hours[:minutes[:seconds]]
        parts += [0] * (3 - len(parts))
        h, m, s = parts
    elif len(parts) == 1:
        h, m, s = 0, parts[0], 0          # minutes
    elif len(parts) == 2:
        h, m, s = 0, parts[0], parts[1]   # minutes:seconds
    else:
        h, m, s = parts
    return (int(days or 0) * 24 + h) * 3600 + m * 60 + s


def _parse_k8s(c: _Checker, d: dict) -> dict:
    out: dict[str, Any] = {}
    for key in ("image", "pvc", "namespace", "secret_name"):
        out[key] = c.string(d, key, f"kubernetes.{key}")
    for key in ("pvc", "namespace", "secret_name"):
        if out[key] and not _DNS_LABEL.match(out[key]):
            raise c.fail(f"kubernetes.{key}", "must be a Kubernetes name (lower-case letters, digits, -)", out[key])
    out["mount_path"] = c.string(d, "mount_path", "kubernetes.mount_path")
    if out["mount_path"] and not out["mount_path"].startswith("/"):
        raise c.fail("kubernetes.mount_path", "must be an absolute path", out["mount_path"])
    for key in ("cpu", "memory"):
        v = d.get(key)
        if v is not None and (isinstance(v, bool) or not _K8S_QTY.match(str(v))):
            raise c.fail(f"kubernetes.{key}", "must be a Kubernetes quantity such as 8, 500m or 64Gi", v)
        out[key] = "" if v is None else str(v)
    out["gpus"] = c.number(d, "gpus", "kubernetes.gpus", 0, integer=True)  # none unless asked
    out["backoff_limit"] = c.number(d, "backoff_limit", "kubernetes.backoff_limit", 6, integer=True)
    out["grace_period_s"] = c.number(d, "grace_period_s", "kubernetes.grace_period_s", 600, integer=True)
    policy = c.string(d, "restart_policy", "kubernetes.restart_policy", default="OnFailure")
    if policy not in ("OnFailure", "Never"):
        raise c.fail("kubernetes.restart_policy", "must be OnFailure or Never", policy)
    out["restart_policy"] = policy
    return out


# ---------------------------------------------------------------- render

def choose_variant(profile: Profile, variant: str | None) -> str:
    names = profile.variant_names()
    if variant:
        if variant not in names:
            raise UsageError(f"platform `{profile.slug}` has no variant `{variant}`", hint=f"variants: {', '.join(names)}")
        return variant
    if len(names) > 1:
        raise UsageError(f"platform `{profile.slug}` has several variants; pick one with --variant",
                         hint=f"variants: {', '.join(names)}")
    return names[0]


def render(index, platform: str, variant: str | None, job: JobSpec) -> dict[str, str]:
    """The files for `platform` / `variant` and `job`, as {file name: text}."""
    from .api import require_profile
    profile = require_profile(index, platform, variant)
    root = Path(index.root)
    return render_profile(profile, variant, job, kb_root=root)


def _kb_dir(kb_root: Path | None, name: str) -> Path:
    for root in ([kb_root] if kb_root else []) + [bundled_kb()]:
        if (root / name).is_dir():
            return root / name
    raise UsageError(f"no {name}/ directory in the knowledge base", hint="reinstall rgt or pass --kb with templates/ and scripts/")


def render_profile(profile: Profile, variant: str | None, job: JobSpec, kb_root: Path | None = None) -> dict[str, str]:
    import jinja2

    variant = choose_variant(profile, variant)
    facts = profile.facts_for(variant if variant in profile.variants else None)
    overrides = profile.overrides.get(variant)
    if overrides is None:
        raise UsageError(f"profile `{profile.slug}` has no `sh variant={variant}` block in section 8",
                         where=profile.file, hint="run `rgt lint`")
    ov: dict[str, str] = {}
    for key in schema.OVERRIDE_KEYS:
        o = overrides.get(key)
        if o is None:
            raise UsageError(f"variant `{variant}` does not set `{key}`", where=profile.file,
                             hint=f"write `{key}=` for an empty value; run `rgt lint`")
        try:
            shell_word(o.value, expand=key in EXPANDING_OVERRIDES)
        except ValueError as e:
            raise UsageError(f"`{key}` {e}", where=f"{profile.file}:{o.line}") from None
        ov[key] = o.value

    detach = ov["DETACH"] if job.detach == "auto" else job.detach
    verb = str(facts.get("meter_stop_verb") or "")
    irreversible = facts.get("meter_stop_irreversible") is True
    copyout_gate = irreversible and not job.durable and not ov["DURABLE_DIR"]
    onstart_limit = facts.get("onstart_limit_bytes")
    kind_detach = facts.get("detach_primitive")
    is_slurm = profile.slug == "slurm" or kind_detach == "sbatch"
    is_k8s = profile.slug == "kubernetes" or kind_detach == "k8s-job"

    ckpt_abs = job.checkpoint_dir.startswith(("/", "$", "~"))
    remote_word = "''"
    if job.durable.startswith(RCLONE):
        durable_word, remote_word = "''", shell_word(job.durable[len(RCLONE):], expand=True)
    elif job.durable:
        durable_word = shell_word(job.durable, expand=True)
    elif ov["DURABLE_DIR"]:
        durable_word = '"$DURABLE_DIR"/' + shell_word(job.slug) + "/durable"
    else:
        durable_word = "''"

    cells = [{"name": c.name, "command": job.cell_command(c), "env": sorted(c.env.items())} for c in job.queue]
    ctx = {
        "platform": profile.slug, "variant": variant, "profile_file": profile.file,
        "ov": ov, "job": job, "slug": job.slug, "cells": cells, "exit": EXIT_CODES,
        "detach": detach, "verb": verb, "irreversible": irreversible, "copyout_gate": copyout_gate,
        "exit_help": {code: text for code, text in EXIT.values()},
        "ckpt_abs": ckpt_abs, "durable_word": durable_word, "remote_word": remote_word,
        "disk_floor_kb": int(round(job.disk_floor_gb * 1024 * 1024)),
        "onstart_limit": onstart_limit,
    }

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_kb_dir(kb_root, "templates"))),
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True,
        comment_start_string="{##", comment_end_string="##}",  # bash has `${#array[@]}`
    )
    env.filters["q"] = _q_filter
    env.filters["yq"] = yaml_scalar

    files: dict[str, str] = {}
    files["run_one.sh"] = env.get_template("run_one.sh.j2").render(ctx)
    files["run_queue.sh"] = env.get_template("run_queue.sh.j2").render(ctx)
    if onstart_limit is not None:
        text = env.get_template("onstart.sh.j2").render(ctx)
        if isinstance(onstart_limit, int) and not isinstance(onstart_limit, bool) and len(text.encode()) > onstart_limit:
            raise UsageError(f"rendered onstart.sh is {len(text.encode())} bytes, over the platform's "
                             f"onstart_limit_bytes {onstart_limit}", where=profile.file)
        files["onstart.sh"] = text
    if is_slurm:
        files["job.sbatch"] = env.get_template("job.sbatch.j2").render(ctx)
    if is_k8s:
        k = job.kubernetes
        missing = [key for key in ("image", "pvc") if not k.get(key)]
        if missing:
            raise UsageError(f"`kubernetes.{missing[0]}` is required to render for {profile.slug}", where=job.source,
                             hint="see docs/job-spec.md, section kubernetes")
        mount = _k8s_mount(k.get("mount_path") or "", ov, job.source)
        k8s_name = re.sub(r"[^a-z0-9-]+", "-", job.slug.lower()).strip("-")[:50].strip("-") or "job"
        files["k8s-job.yaml"] = env.get_template("k8s-job.yaml.j2").render(
            {**ctx, "k8s": k, "k8s_name": k8s_name, "mount_path": mount,
             "secret_name": k.get("secret_name") or f"{k8s_name}-secrets",
             "scripts": {"run_one.sh": files["run_one.sh"], "run_queue.sh": files["run_queue.sh"]}})
    files["verify_local.py"] = (_kb_dir(kb_root, "scripts") / "verify_local.py").read_text(encoding="utf-8")
    return files


def _plain_abs(path: str) -> bool:
    return path.startswith("/") and "$" not in path


def _k8s_mount(given: str, ov: dict[str, str], source: str) -> str:
    """Where the PersistentVolumeClaim goes: a directory holding DATA_DIR (and DURABLE_DIR when it
    is set), so the checkpoints are on the volume and a retried pod finds them."""
    data, durable = ov["DATA_DIR"], ov["DURABLE_DIR"]
    if not _plain_abs(data):
        raise UsageError(f"DATA_DIR `{data}` is not a plain absolute path a volume can be mounted at",
                         where=source, hint="set kubernetes.mount_path and a literal DATA_DIR")
    if not given:
        paths = [data] + ([durable] if _plain_abs(durable) else [])
        common = os.path.commonpath(paths)
        return common if common != "/" else data
    inside = os.path.commonpath([given, data]) == os.path.normpath(given)
    if not inside:
        raise UsageError(f"`kubernetes.mount_path` {given} does not contain the profile's DATA_DIR {data}; "
                         "the checkpoints would not be on the volume", where=source,
                         hint="leave mount_path out to mount the volume above DATA_DIR")
    return given


def write(files: dict[str, str], out_dir: str | Path, *, force: bool = False) -> list[dict]:
    """Write every file or none. A file the user has that would change is refused unless FORCE
    (an edited run_one.sh is not lost); each file goes in by tmp, then rename (a running bash keeps
    the old inode, U2), and the renames start only once every tmp is written."""
    from .overwrite import refuse_overwrite
    out = Path(out_dir)
    data = {name: text.encode("utf-8") for name, text in files.items()}
    for name, blob in data.items():
        refuse_overwrite(out / name, blob, force=force)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create output directory {out}: {e.strerror or e}") from None
    tmps = {name: out / f".{name}.rgt-tmp" for name in data}
    try:
        for name, blob in data.items():
            target = out / name
            tmps[name].write_bytes(blob)
            os.chmod(tmps[name], 0o755 if name.endswith((".sh", ".py", ".sbatch")) else 0o644)
        for name in data:
            target = out / name
            os.replace(tmps[name], target)
    except OSError as e:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {target}: {e.strerror or e}") from None
    return [{"path": str(out / name), "bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
            for name, blob in data.items()]


def render_job(index, platform: str, variant: str | None, job_path: str | Path, out_dir: str | Path,
               force: bool = False) -> dict:
    """The whole command: load, render, write; returns the `--json` shape."""
    from .api import JSON_VERSION, require_profile
    job = load_job(job_path)
    profile = require_profile(index, platform, variant)
    variant = choose_variant(profile, variant)
    files = render_profile(profile, variant, job, kb_root=Path(index.root))
    return {"version": JSON_VERSION, "kind": "render", "platform": platform, "variant": variant,
            "files": write(files, out_dir, force=force)}


__all__ = ["EXIT_CODES", "Cell", "JobSpec", "load_job", "parse_job", "render", "render_profile", "render_job",
           "shell_word", "write", "choose_variant"]
