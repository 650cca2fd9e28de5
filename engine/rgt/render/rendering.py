"""Rendering the box scripts: the Jinja environment, the values each template gets, and writing
the files all or nothing.

The scripts run on the rented box with bash and coreutils alone. Every value reaches a template
through the shell-quoting filter `q` (quoting.py); profile values come from section 8 of the
profile (an empty value stays empty) and job values from the spec (spec.py).
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ..errors import UsageError
from ..kb import schema
from ..kb.model import Profile
from ..kb.paths import bundled_kb, cache_dir
from ..platform import choose_variant, require_profile
from .quoting import q_filter, shell_word, yaml_scalar
from .spec import RCLONE, JobSpec, load_job

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

# Path-like override keys whose `$VAR` references expand on the box (`"$HOME/rgt/data"`).
EXPANDING_OVERRIDES = ("DATA_DIR", "DURABLE_DIR", "HF_HOME", "CRED_FILE", "PY")


def render(index, platform: str, variant: str | None, job: JobSpec) -> dict[str, str]:
    """The files for `platform` / `variant` and `job`, as {file name: text}."""
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
        # 20, not 20.0, as the spec wrote it
        "disk_floor_gb": int(job.disk_floor_gb) if float(job.disk_floor_gb).is_integer() else job.disk_floor_gb,
        "disk_floor_kb": round(job.disk_floor_gb * 1024 * 1024),
        "onstart_limit": onstart_limit,
    }

    loader = jinja2.FileSystemLoader(str(_kb_dir(kb_root, "templates")))
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True,
        comment_start_string="{##", comment_end_string="##}",  # bash has `${#array[@]}`
        bytecode_cache=_bytecode_cache(),
    )
    env.filters["q"] = q_filter
    env.filters["yq"] = yaml_scalar
    # Plain bash under templates/ goes in as it is, untouched by Jinja, so it is shellchecked alone.
    env.globals["verbatim"] = lambda name: loader.get_source(env, name)[0]

    files: dict[str, str] = {}
    files["run_one.sh"] = env.get_template("run_one.sh.j2").render(ctx)
    files["run_queue.sh"] = env.get_template("run_queue.sh.j2").render(ctx)
    files["watchdog.sh"] = env.get_template("watchdog.sh.j2").render(ctx)  # `rgt watch` for unreachable boxes
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
        missing = [key for key in ("image", "pvc") if not getattr(k, key)]
        if missing:
            raise UsageError(f"`kubernetes.{missing[0]}` is required to render for {profile.slug}", where=job.source,
                             hint="see docs/job-spec.md, section kubernetes")
        mount = _k8s_mount(k.mount_path, ov, job.source)
        k8s_name = re.sub(r"[^a-z0-9-]+", "-", job.slug.lower()).strip("-")[:50].strip("-") or "job"
        files["k8s-job.yaml"] = env.get_template("k8s-job.yaml.j2").render(
            {**ctx, "k8s": k, "k8s_name": k8s_name, "mount_path": mount,
             "secret_name": k.secret_name or f"{k8s_name}-secrets",
             "scripts": {"run_one.sh": files["run_one.sh"], "run_queue.sh": files["run_queue.sh"]}})
    files["verify_local.py"] = (_kb_dir(kb_root, "scripts") / "verify_local.py").read_text(encoding="utf-8")
    return files



def _bytecode_cache():
    """Compiled templates kept beside the index: compiling them is most of a render. Jinja keys
    each by its source's checksum, so an edited template is compiled afresh."""
    import jinja2
    try:
        path = cache_dir() / "jinja"
        path.mkdir(exist_ok=True)
    except (UsageError, OSError):
        return None  # an unusable cache costs speed, never the render
    return jinja2.FileSystemBytecodeCache(str(path))

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
    from ..overwrite import refuse_overwrite
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
    """The whole command: load, render, write; returns the body of the `--json` shape (api adds its
    kind and version)."""
    job = load_job(job_path)
    profile = require_profile(index, platform, variant)
    variant = choose_variant(profile, variant)
    from .summary import summary
    files = render_profile(profile, variant, job, kb_root=Path(index.root))
    return {"platform": platform, "variant": variant, "files": write(files, out_dir, force=force),
            **summary(profile, variant, job, set(files))}


