"""The job spec (`rgt render --job job.yaml`), declared once.

The pydantic models below are the only statement of the keys, their types, defaults and checks:
`load_job` validates with them, `docs/job.schema.json` is generated from them (`python -m
rgt.render` rewrites it; a test fails when it drifts), and docs/job-spec.md explains them.
A mistake becomes one UsageError naming `file:line` and the key; the line comes from ruamel's
round-trip marks, looked up along pydantic's error location.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from ..errors import UsageError
from .quoting import shell_word

DOCS = "docs/job-spec.md"

# `durable: rclone:REMOTE:PATH` copies to an rclone remote (S3, R2, B2, GCS, …) instead of a mount.
RCLONE = "rclone:"
_RCLONE_REMOTE = re.compile(r"^(?::[a-z0-9]+|[A-Za-z0-9_.-]+(?: [A-Za-z0-9_.-]+)*):")
PLACEHOLDERS = {"resume": '"$RGT_RESUME"', "ckpt_dir": '"$RGT_CKPT_DIR"', "cell": '"$RGT_CELL"', "py": '"$PY"'}
_PLACEHOLDER = re.compile(r"\{(resume|ckpt_dir|cell|py|args)\}")
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
CELL_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SLURM_TIME = r"^(\d+-)?\d+(:\d{1,2}){0,2}$"
SAFE_WORD = r"^[A-Za-z0-9_.,:=+/-]+$"
K8S_QTY = r"^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_NO_GOT = object()


def bad(msg: str, got: Any = _NO_GOT, *, hint: str = "", at: tuple = ()) -> PydanticCustomError:
    """A check's failure in rgt's words. AT continues the location from where the check runs."""
    return PydanticCustomError("rgt", "{msg}", {"msg": msg, "got": got, "hint": hint, "at": at})


# ---------------------------------------------------------------- value types

def _number_as_text(v: Any) -> Any:
    # YAML authors write `time: 24` or `mem: 64`; a number where text is wanted is taken as written.
    return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _writable(v: str) -> str:
    if "\0" in v:
        raise bad("must not contain a NUL byte", _NO_GOT)
    try:  # JSON-style escapes of an emoji ("\ud83d\ude80") arrive as a surrogate pair: join it
        return v.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeError:
        raise bad("holds a lone surrogate escape (\\ud800-\\udfff), which is no character; write the "
                  "character itself", _NO_GOT) from None


def _nonempty(v: str) -> str:
    if not v.strip():
        raise bad("must not be empty", _NO_GOT)
    return v


def _expanding(v: str) -> str:
    try:
        shell_word(v, expand=True)
    except ValueError as e:
        raise bad(str(e), v) from None
    return v


@dataclass(frozen=True)
class Matching:
    """A string that, when not empty, matches PATTERN; else WHAT is the message. The pattern is
    published in the JSON schema for editors, the check runs with Python's `re`."""

    pattern: str
    what: str

    def check(self, v: str) -> str:
        if v and not re.match(self.pattern, v):
            raise bad(self.what, v)
        return v

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "pattern": self.pattern}


Text = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(_writable),
                 Field(json_schema_extra={"type": ["string", "number"]})]
Required = Annotated[Text, AfterValidator(_nonempty)]
PathText = Annotated[Text, AfterValidator(_expanding)]
Count = Annotated[int, Field(ge=0, le=10**15)]
EnvName = Annotated[str, Matching(ENV_NAME, "must be an environment variable name (letters, digits, _)")]
_ONE_WORD = Matching(SAFE_WORD, "must be one word of letters, digits and .,:=+/_-")
_K8S_NAME = Matching(DNS_LABEL, "must be a Kubernetes name (lower-case letters, digits, -)")
_K8S_QUANTITY = Matching(K8S_QTY, "must be a Kubernetes quantity such as 8, 500m or 64Gi")


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        # `key:` with no value (YAML null) means the default, as leaving the key out does.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None or k not in cls.model_fields}
        return data


# ---------------------------------------------------------------- the spec

class Cell(_Model):
    """One run of the command, in queue order."""

    name: Annotated[Required, Matching(
        CELL_NAME, "must be letters, digits, `.`, `_` or `-` (at most 64, not starting with . or -)")]
    """letters, digits, `.`, `_`, `-`; names the cell's checkpoint directory and log"""
    args: Text = ""
    """shell text for `{args}` in the command, as written"""
    env: dict[Annotated[str, Matching(ENV_NAME, "keys must be environment variable names")], Text] = {}
    """extra environment for this cell, `NAME: value`"""


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


class Slurm(_Model):
    """Used when rendering for Slurm (job.sbatch)."""

    time: Annotated[Required, Matching(SLURM_TIME, "must be a Slurm time limit such as 24:00:00 or 1-12:00:00")
                    ] = "24:00:00"
    """the job's time limit in Slurm's formats (`1-12:00:00` included)"""
    signal_before_s: Annotated[int, Field(ge=1, json_schema_extra={"maximum": 65535})] = 600
    """USR1 this many seconds before the limit; longer than one checkpoint save (SLURM2)"""
    partition: Annotated[Text, _ONE_WORD] = ""
    """`--partition`"""
    account: Annotated[Text, _ONE_WORD] = ""
    """`--account`"""
    gpus: Count = 0
    """`--gres=gpu:N`; 0 or omitted asks for none (a cluster without a gpu gres refuses the request)"""
    cpus_per_task: Count = 0
    """`--cpus-per-task` (0: not set)"""
    mem: Annotated[Text, _ONE_WORD] = ""
    """`--mem`"""

    @field_validator("signal_before_s")
    @classmethod
    def _signal_fits_slurm(cls, v: int) -> int:
        if v > 65535:
            raise bad("must be at most 65535 seconds (Slurm's limit)", v)
        return v

    @model_validator(mode="after")
    def _signal_inside_time(self) -> Slurm:
        if self.signal_before_s >= _slurm_seconds(self.time):
            raise bad(f"must be shorter than slurm.time ({self.time})", self.signal_before_s, at=("signal_before_s",))
        return self


def _absolute(v: str) -> str:
    if v and not v.startswith("/"):
        raise bad("must be an absolute path", v)
    return v


class Kubernetes(_Model):
    """Used when rendering for Kubernetes (k8s-job.yaml)."""

    image: Text = ""
    """the container image (required to render for Kubernetes)"""
    pvc: Annotated[Text, _K8S_NAME] = ""
    """the PersistentVolumeClaim holding the checkpoints (required to render for Kubernetes)"""
    mount_path: Annotated[Text, AfterValidator(_absolute)] = ""
    """where the claim is mounted; must contain the profile's DATA_DIR (default: the directory holding DATA_DIR and DURABLE_DIR)"""
    gpus: Count = 0
    """`nvidia.com/gpu` limit; 0 or omitted asks for none"""
    cpu: Annotated[Text, _K8S_QUANTITY] = ""
    """CPU limit, a Kubernetes quantity"""
    memory: Annotated[Text, _K8S_QUANTITY] = ""
    """memory limit, a Kubernetes quantity"""
    backoff_limit: Count = 6
    """`backoffLimit`"""
    restart_policy: Literal["OnFailure", "Never"] = "OnFailure"
    """`restartPolicy`"""
    namespace: Annotated[Text, _K8S_NAME] = ""
    """the Job's namespace"""
    secret_name: Annotated[Text, _K8S_NAME] = ""
    """the Secret holding `secrets` (default `<name>-secrets`)"""
    grace_period_s: Count = 600
    """time to checkpoint after SIGTERM"""


Detach = Literal["auto", "tmux", "nohup", "none"]
DETACH_PREFS: tuple[str, ...] = get_args(Detach)


class JobSpec(_Model):
    """A job for `rgt render`: what to run, where its checkpoints live, and how to keep them."""

    model_config = ConfigDict(title="rgt job spec")

    name: Required
    """the job's name, any text; its file-system-safe form names directories, the tmux session and the Slurm job"""
    command: Required
    """shell text run with `bash -c` from `workdir`; placeholders {resume}, {ckpt_dir}, {cell}, {py}, {args}"""
    workdir: PathText = ""
    """where the command runs (default: the scripts' directory); `$VAR`, `${VAR}` and a leading `~/` expand on the box"""
    checkpoint_dir: Annotated[Required, AfterValidator(_expanding)] = "checkpoints"
    """where the command writes checkpoints; relative paths are under DATA_DIR/<name>/"""
    checkpoint_pattern: Required
    """file-name glob of the checkpoints inside checkpoint_dir, e.g. `step_*.pt`"""
    durable: PathText = ""
    """absolute path of a mount that survives the meter stop, or rclone:REMOTE:PATH (default: the profile's DURABLE_DIR/<name>/durable)"""
    queue: Annotated[list[Cell], Field(min_length=1)] = [Cell(name="main")]
    """the cells, run in order (default: one cell named `main`)"""
    disk_floor_gb: Annotated[float, Field(ge=0, le=10**9, allow_inf_nan=False)] = 10.0
    """free GB the checkpoint disk must have before each run (U6); 0 turns the gate off"""
    inode_floor: Count = 10000
    """free inodes the checkpoint disk must have before each run (U7)"""
    secrets: list[EnvName] = []
    """names of environment variables the job needs; never values"""
    detach: Detach = "auto"
    """how `run_queue.sh --detach` keeps the queue alive; `auto` is the profile's DETACH"""
    slurm: Slurm = Slurm()
    kubernetes: Kubernetes = Kubernetes()

    _source: str = PrivateAttr(default="job.yaml")

    @property
    def source(self) -> str:
        """The file the spec was read from, for errors found while rendering."""
        return self._source

    @field_validator("checkpoint_pattern")
    @classmethod
    def _pattern_names_checkpoints(cls, v: str) -> str:
        if "/" in v:
            raise bad("is a file-name glob inside checkpoint_dir and must not contain `/`", v)
        if v.endswith((".tmp", ".sha256", ".complete")):
            raise bad("must match the checkpoints, not their temp files or sidecars", v)
        return v

    @field_validator("durable")
    @classmethod
    def _durable_target(cls, v: str) -> str:
        if v.startswith(RCLONE):
            if not _RCLONE_REMOTE.match(v[len(RCLONE):]):
                raise bad("names an rclone remote as rclone:REMOTE:PATH, e.g. rclone:r2:my-bucket/runs", v)
        elif v and not v.startswith(("/", "$", "~")):
            raise bad("must be an absolute path (a mount that survives the box) or rclone:REMOTE:PATH", v)
        return v

    @field_validator("queue", mode="before")
    @classmethod
    def _queue_is_cells(cls, v: Any) -> Any:
        if not isinstance(v, list) or not v:
            raise bad("must be a non-empty list of cells ({name, args, env})", v)
        for i, item in enumerate(v):
            if not isinstance(item, dict):
                raise bad("must be a mapping {name: …, args: …}", item, at=(i,))
        return v

    @field_validator("queue")
    @classmethod
    def _cell_names_unique(cls, v: list[Cell]) -> list[Cell]:
        seen: set[str] = set()
        for i, cell in enumerate(v):
            if cell.name in seen:
                raise bad("repeats an earlier cell's name", cell.name, at=(i, "name"))
            seen.add(cell.name)
        return v

    @field_validator("secrets", mode="before")
    @classmethod
    def _secrets_are_names(cls, v: Any) -> Any:
        if isinstance(v, dict):
            raise bad("lists environment variable names only; never put a secret's value in the job spec",
                      hint="e.g. secrets: [WANDB_API_KEY, HF_TOKEN]")
        if not isinstance(v, list):
            raise bad("must be a list of environment variable names", v)
        for i, s in enumerate(v):
            if not isinstance(s, str) or not re.match(ENV_NAME, s):
                # never echo the value: it may be the secret itself
                raise bad("must list environment variable names (letters, digits, _), never values",
                          s if not isinstance(s, str) else "a value that is not a variable name", at=(i,))
        if len(set(v)) != len(v):
            raise bad("names a variable twice")
        return v

    @model_validator(mode="after")
    def _secrets_not_in_cell_env(self) -> JobSpec:
        for i, cell in enumerate(self.queue):
            clash = sorted(set(cell.env) & set(self.secrets))
            if clash:
                raise bad(f"sets {clash[0]}, which is a secret; secrets come from the environment",
                          at=("queue", i, "env", clash[0]))
        return self

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


# ---------------------------------------------------------------- loading

def load_job(path: str | Path) -> JobSpec:
    """Read and check a job spec; every mistake is one UsageError naming the file, line and key."""
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
        tree = YAML(typ="rt", pure=True).load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = e.problem or e.context or "YAML syntax error"
        raise UsageError(f"not valid YAML: {problem}", where=f"{where}{line}") from None
    except YAMLError as e:
        raise UsageError(f"not valid YAML: {e}", where=where) from None
    return parse_job(tree, where)


def parse_job(data: Any, where: str = "job.yaml") -> JobSpec:
    """Check DATA (a ruamel round-trip tree gives line numbers; plain data gives none)."""
    if not isinstance(data, dict):
        raise UsageError("a job spec is a YAML mapping with at least `name`, `command` and `checkpoint_pattern`",
                         where=where, hint=f"see {DOCS}")
    try:
        job = JobSpec.model_validate(_plain(data))
    except ValidationError as e:
        raise _usage_error(e, data, where) from None
    job._source = where
    return job


def _printable_key(k: str) -> str:
    # a key written as JSON escapes ("\ud800\udc00") is a surrogate pair: joined, it can be named in
    # an error (pydantic cannot encode it otherwise); a lone surrogate becomes U+FFFD
    return k.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _plain(node: Any) -> Any:
    """Plain Python from ruamel's round-trip types (str keys, so `1: x` is an unknown key `1`)."""
    if isinstance(node, dict):
        return {_printable_key(str(k)): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    for kind in (bool, int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def _usage_error(e: ValidationError, tree: Any, where: str) -> UsageError:
    # An unknown key first: a misspelt `nmae` explains the `name is required` that follows it.
    err = min(e.errors(), key=lambda d: d["type"] != "extra_forbidden")
    ctx = err.get("ctx") or {}
    loc = tuple(err["loc"]) + tuple(ctx.get("at", ()))
    kind, hint = err["type"], ctx.get("hint", "")
    got: Any = err.get("input", _NO_GOT)
    if kind == "rgt":
        what, got = ctx["msg"], ctx["got"]
    elif kind == "missing":
        what, got = "is required", _NO_GOT
    elif kind == "extra_forbidden":
        allowed = _model_at(loc[:-1]).model_fields
        what, got = "is not a job spec key", _NO_GOT
        prefix = _label(loc[:-1]) + "." if loc[:-1] else ""
        hint = f"keys: {', '.join(prefix + k for k in allowed)}; see {DOCS}"
    else:
        what = _MESSAGES.get(kind, lambda c: err["msg"][:1].lower() + err["msg"][1:])(ctx)
    if loc and loc[-1] == "[key]":  # a bad key inside a mapping such as `env`
        loc = loc[:-2]
    line = _line(tree, tuple(err["loc"]) + tuple(ctx.get("at", ())))
    msg = f"`{_label(loc)}` {what}" + ("" if got is _NO_GOT else f" (got {_got(got)})")
    return UsageError(msg, where=f"{where}:{line}" if line else where, hint=hint)


def _choices(ctx: dict) -> str:
    options = re.findall(r"'([^']*)'", ctx.get("expected", ""))
    return " or ".join(options) if len(options) == 2 else "one of " + ", ".join(options)


_MESSAGES: dict[str, Callable[[dict], str]] = {
    "string_type": lambda c: "must be a string",
    "int_type": lambda c: "must be a whole number",
    "float_type": lambda c: "must be a number",
    "finite_number": lambda c: "must be a number",
    "greater_than_equal": lambda c: f"must be at least {c['ge']:g}",
    "less_than_equal": lambda c: f"must be at most {c['le']:g}",
    "literal_error": lambda c: "must be " + _choices(c),
    "model_type": lambda c: "must be a mapping",
    "dict_type": lambda c: "must be a mapping",
    "list_type": lambda c: "must be a list",
}


def _label(loc: tuple) -> str:
    """`queue[1].env`: dotted keys, list positions counted from 1 as people count cells."""
    out = ""
    for part in loc:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(loc: tuple) -> type[BaseModel]:
    model: type[BaseModel] = JobSpec
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        args = get_args(annotation)
        model = args[0] if get_origin(annotation) is list else annotation  # type: ignore[assignment]
    return model


def _line(tree: Any, loc: tuple) -> int | None:
    """The 1-based line of the deepest part of LOC that exists in the round-trip TREE."""
    line, node = None, tree
    for part in loc:
        lc = getattr(node, "lc", None)
        if lc is None:
            break
        if isinstance(node, dict):
            key = next((k for k in node if str(k) == part), None)
            if key is None:
                break
            line, node = lc.key(key)[0] + 1, node[key]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            line, node = lc.item(part)[0] + 1, node[part]
        else:
            break
    if line is None and getattr(tree, "lc", None) is not None:
        line = tree.lc.line + 1
    return line


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


# ---------------------------------------------------------------- the published schema

def json_schema() -> str:
    """docs/job.schema.json: what editors validate job.yaml with."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **JobSpec.model_json_schema()}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"

