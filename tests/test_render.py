"""`rgt render`: every bundled platform renders clean scripts; the job spec fails with one line;
the --json shape; the Slurm and Kubernetes files; verify_local.py. Behaviour (running the scripts)
is in test_render_behaviour.py."""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from rgt.errors import UsageError
from rgt.render import EXIT_CODES, load_job, parse_job, render_profile, shell_word

from boxkit import box_profile
from helpers import run

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "job.yaml"
SHELLCHECK = shutil.which("shellcheck")


# Platforms by their profile files: a glob at collection, no subprocess; `platforms` below checks
# that `rgt platforms --json` lists the same ones, so a new profile is covered at once.
PROFILES = sorted(p.stem for p in (REPO / "profiles").glob("*.md") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def platforms(tmp_path_factory) -> dict[str, list[str]]:
    """{platform: [variant, …]} as `rgt platforms --json` lists them for a user."""
    proc = subprocess.run([sys.executable, "-m", "rgt", "platforms", "--json"], capture_output=True, text=True,
                          env={**os.environ, "RGT_CACHE": str(tmp_path_factory.mktemp("cache"))}, timeout=120)
    assert proc.returncode == 0, f"`rgt platforms --json` failed: {proc.stderr.strip()}"
    listed = {p["platform"]: [v["name"] for v in p["variants"]] for p in json.loads(proc.stdout)["platforms"]}
    assert sorted(listed) == PROFILES
    return listed


@pytest.fixture(scope="module")
def index():
    from rgt import api
    return api.open_index()


@pytest.fixture(scope="module")
def shellchecked(index, platforms, tmp_path_factory) -> dict:
    """shellcheck over every platform x variant at once (it is the slow part), in parallel."""
    from rgt.render import load_job, render_profile, write
    if not SHELLCHECK:  # pragma: no cover - tests/run.sh installs it
        pytest.fail("shellcheck is not installed (tests/run.sh installs it)")
    job, procs = load_job(EXAMPLE), {}
    for platform, variants in platforms.items():
        for variant in variants:
            out = tmp_path_factory.mktemp(f"sc-{platform}-{variant}")
            write(render_profile(index.profile(platform), variant, job, kb_root=REPO), out)
            shell = sorted(str(p) for p in out.iterdir() if p.suffix in (".sh", ".sbatch"))
            procs[(platform, variant)] = subprocess.Popen([SHELLCHECK, "-S", "style", "-s", "bash", *shell],
                                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                          text=True)
    results = {}
    for key, proc in procs.items():
        report, _ = proc.communicate(timeout=120)
        results[key] = (proc.returncode, report)
    return results


@pytest.mark.parametrize("platform", PROFILES)
def test_every_platform_variant_renders_clean_scripts(capsys, tmp_path, index, platforms, shellchecked, platform):
    for variant in platforms[platform]:
        _renders_clean(capsys, tmp_path / variant, index, shellchecked, platform, variant)


def _renders_clean(capsys, tmp_path, index, shellchecked, platform, variant):
    out = tmp_path / "out"
    r = run(capsys, "render", "--platform", platform, "--variant", variant, "--job", str(EXAMPLE),
            "--out", str(out), "--json")
    assert r.code == 0, r.err
    names = {Path(f["path"]).name for f in r.json()["files"]}
    assert {"run_one.sh", "run_queue.sh", "verify_local.py"} <= names

    shell = sorted(p for p in out.iterdir() if p.suffix in (".sh", ".sbatch"))
    for script in shell:
        syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert syntax.returncode == 0, f"{script.name}: {syntax.stderr}"
    code, report = shellchecked[(platform, variant)]  # `shellcheck -S style`: not even a style note
    assert code == 0, report

    profile = index.profile(platform)
    facts = profile.facts_for(variant)
    # Every section 8 value is written as the profile has it; an empty one stays empty.
    text = (out / "run_one.sh").read_text()
    for key, o in profile.overrides[variant].items():
        if key == "DETACH":
            continue
        assert f"\n{key}={shell_word(o.value, expand=key in ('DATA_DIR', 'DURABLE_DIR', 'HF_HOME', 'CRED_FILE', 'PY'))}\n" in text
        if o.value == "":
            assert f"\n{key}=''\n" in text
    # The boot hook exists exactly when the platform has one, and fits its limit.
    limit = facts.get("onstart_limit_bytes")
    assert ("onstart.sh" in names) == (limit is not None)
    if isinstance(limit, int):
        assert (out / "onstart.sh").stat().st_size <= limit
    assert ("job.sbatch" in names) == (platform == "slurm" or facts.get("detach_primitive") == "sbatch")
    assert ("k8s-job.yaml" in names) == (platform == "kubernetes" or facts.get("detach_primitive") == "k8s-job")
    if "k8s-job.yaml" in names:  # the volume holds DATA_DIR, where the checkpoints are
        docs = list(YAML(typ="safe", pure=True).load_all((out / "k8s-job.yaml").read_text()))
        mount = docs[1]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"]
        data_dir = profile.overrides[variant]["DATA_DIR"].value
        assert data_dir == mount or data_dir.startswith(mount.rstrip("/") + "/")
    # The copy-out gate follows the meter-stop fact and the durable target.
    gate = facts["meter_stop_irreversible"] is True and not profile.overrides[variant]["DURABLE_DIR"].value
    assert f"\nCOPYOUT_GATE='{int(gate)}'\n" in text
    assert f"\nMETER_STOP_VERB={shell_word(facts['meter_stop_verb'])}\n" in text


STATIC_BASH = sorted((REPO / "templates").rglob("*.sh"))


def test_run_one_template_holds_only_what_varies():
    """The plain bash of run_one.sh lives in files of its own, included verbatim; the template keeps
    the rendered header and the per-cell parts."""
    template = (REPO / "templates" / "run_one.sh.j2").read_text()
    assert len(template.splitlines()) < 150
    included = set(re.findall(r'verbatim\("([^"]+)"\)', "".join(
        p.read_text() for p in (REPO / "templates").glob("*.j2"))))
    assert {"run_one/checkpoints.sh", "run_one/main.sh"} <= included
    assert included == {p.relative_to(REPO / "templates").as_posix() for p in STATIC_BASH}  # none orphaned


@pytest.mark.parametrize("path", STATIC_BASH, ids=lambda p: p.relative_to(REPO / "templates").as_posix())
def test_static_bash_include_passes_shellcheck_by_itself(path):
    text = path.read_text()
    assert "{{" not in text and "{%" not in text  # included verbatim: a Jinja tag would reach the box as is
    report = subprocess.run([SHELLCHECK, "-S", "style", "-s", "bash", str(path)], capture_output=True, text=True)
    assert report.returncode == 0, report.stdout
    syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


def test_checkpoint_functions_run_on_their_own(tmp_path):
    """checkpoints.sh sourced alone: the newest checkpoint without a valid sidecar is skipped."""
    d = tmp_path / "ckpt"
    d.mkdir()
    for n, sidecar in ((1, "sha"), (2, "complete"), (3, "bad-sha"), (4, None)):
        f = d / f"step_{n}.pt"
        f.write_text(f"weights {n}\n")
        os.utime(f, (1000 + n, 1000 + n))
        if sidecar == "sha":
            (d / f"{f.name}.sha256").write_text(hashlib.sha256(f.read_bytes()).hexdigest() + f"  {f}\n")
        elif sidecar == "complete":
            (d / f"{f.name}.complete").touch()
        elif sidecar == "bad-sha":
            (d / f"{f.name}.sha256").write_text("0" * 64 + "\n")
    (d / "step_9.pt.tmp").write_text("partial")
    script = ('set -u; shopt -s nullglob; log() { printf "%s\\n" "$*"; }; source "$1"; CKPT_PATTERN="step_*.pt"; '
              'CKPT_DIR="$2"; newest_complete')
    r = subprocess.run(["bash", "-c", script, "bash", str(REPO / "templates" / "run_one" / "checkpoints.sh"), str(d)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(d / "step_2.pt")
    assert "skipping incomplete checkpoint step_4.pt" in r.stderr and "skipping incomplete checkpoint step_3.pt" in r.stderr


@pytest.mark.parametrize("names, newest", [
    (["checkpoint-2", "checkpoint-3"], "checkpoint-3"),
    (["step_9.pt", "step_10.pt"], "step_10.pt"),      # by number, not by glob order
    (["step_10.pt", "step_9.pt"], "step_10.pt"),
])
def test_two_saves_in_one_clock_tick_resume_from_the_later_step(tmp_path, names, newest):
    """File times tick coarsely (a few ms): two checkpoints saved within one tick carry the same
    mtime, and the later step must still win, or a resume repeats steps and a copy-out ships the
    older one. Seen as a flaky test on a fast machine."""
    d = tmp_path / "ckpt"
    d.mkdir()
    for name in names:
        f = d / name
        f.mkdir() if name.startswith("checkpoint-") else f.write_text(name)
        (d / f"{name}.complete").touch()
        os.utime(f, ns=(10**18, 10**18))  # the same instant for both
    pattern = "checkpoint-*" if names[0].startswith("checkpoint-") else "step_*.pt"
    script = ('set -u; shopt -s nullglob; log() { printf "%s\\n" "$*"; }; source "$1"; CKPT_PATTERN="$3"; '
              'CKPT_DIR="$2"; newest_complete')
    r = subprocess.run(["bash", "-c", script, "bash", str(REPO / "templates" / "run_one" / "checkpoints.sh"), str(d),
                        pattern], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(d / newest)


def test_secret_values_never_reach_a_rendered_file(capsys, tmp_path, monkeypatch):
    value = "wandb-s3cr3t-0123456789abcdef"
    monkeypatch.setenv("WANDB_API_KEY", value)
    spec = tmp_path / "job.yaml"
    spec.write_text(EXAMPLE.read_text())
    for platform in ("vastai", "autodl", "slurm", "generic"):
        out = tmp_path / platform
        assert run(capsys, "render", "--platform", platform, "--job", str(spec), "--out", str(out)).code == 0
        for f in out.iterdir():
            assert value not in f.read_text(), f
        assert '[ -n "${WANDB_API_KEY:-}" ]' in (out / "run_one.sh").read_text()
    profile = box_profile(tmp_path, slug="kubernetes")
    files = render_profile(profile, None, parse_job({**_example(), "secrets": ["WANDB_API_KEY"]}))
    assert all(value not in text for text in files.values())


def test_render_json_shape_and_file_hashes(capsys, tmp_path):
    out = tmp_path / "o"
    r = run(capsys, "render", "--platform", "vastai", "--job", str(EXAMPLE), "--out", str(out), "--json")
    assert r.code == 0
    data = r.json()
    assert set(data) == {"version", "kind", "platform", "variant", "files", "data_dir", "durable_dir", "durable",
                         "launch", "next_steps", "warnings"}
    assert (data["version"], data["kind"], data["platform"], data["variant"]) == (1, "render", "vastai", "default")
    for f in data["files"]:
        assert set(f) == {"path", "bytes", "sha256"}
        body = Path(f["path"]).read_bytes()
        assert len(body) == f["bytes"] and hashlib.sha256(body).hexdigest() == f["sha256"]
        if f["path"].endswith((".sh", ".py")):
            assert os.access(f["path"], os.X_OK)
    assert not list(out.glob(".*rgt-tmp"))


def _render_json(capsys, tmp_path, platform, *args):
    r = run(capsys, "render", "--platform", platform, *args, "--job", str(EXAMPLE), "--out", str(tmp_path / platform),
            "--json")
    assert r.code == 0, r.err
    return r.json()


def test_render_json_says_where_data_and_durable_copies_go_and_how_to_launch(capsys, tmp_path):
    job = load_job(EXAMPLE)
    autodl = _render_json(capsys, tmp_path, "autodl")
    assert (autodl["data_dir"], autodl["durable_dir"]) == ("/root/autodl-tmp", "/root/autodl-fs")
    assert autodl["durable"] == f"/root/autodl-fs/{job.slug}/durable"
    assert autodl["launch"] == "bash run_queue.sh --detach" and autodl["warnings"] == []
    slurm = _render_json(capsys, tmp_path, "slurm")
    assert slurm["launch"] == "sbatch job.sbatch" and slurm["data_dir"] == "/scratch/<USER>/rgt"
    # vast.ai: nothing on the box outlives destroy, so without durable: the run stops for a copy-out
    vast = _render_json(capsys, tmp_path, "vastai")
    assert vast["durable"] is None and any("COPY-OUT REQUIRED" in w for w in vast["warnings"])
    # Lambda: the durable directory names a filesystem the box must have in its environment
    lam = _render_json(capsys, tmp_path, "lambda")
    assert lam["durable_dir"] == "/home/ubuntu/<LAMBDA_FS>/rgt" and any("LAMBDA_FS" in w for w in lam["warnings"])


def test_a_durable_copy_on_the_data_volume_is_said_to_survive_only_what_that_volume_survives(capsys, tmp_path):
    """RunPod secure renders DURABLE_DIR=/workspace/rgt, the data directory itself: the copy
    outlives the Pod only if a Network Volume is mounted at /workspace."""
    rp = _render_json(capsys, tmp_path, "runpod", "--variant", "secure")
    same = [w for w in rp["warnings"] if "same volume" in w]
    assert len(same) == 1 and "/workspace/rgt" in same[0] and "Network Volume" in same[0], rp["warnings"]
    # a durable target elsewhere (an rclone remote) is not on the data volume: no such warning
    spec = tmp_path / "job.yaml"
    spec.write_text(EXAMPLE.read_text().replace("durable: ''", "durable: rclone:r2:bucket/runs"))
    r = run(capsys, "render", "--platform", "runpod", "--variant", "secure", "--job", str(spec),
            "--out", str(tmp_path / "rc"), "--json")
    assert r.json()["durable"] == "rclone:r2:bucket/runs"
    assert not [w for w in r.json()["warnings"] if "same volume" in w]


def test_several_variants_need_variant(capsys, tmp_path):
    r = run(capsys, "render", "--platform", "paperspace", "--job", str(EXAMPLE), "--out", str(tmp_path / "o"))
    assert r.code == 2 and r.out == ""
    assert r.err.strip() == ("rgt: platform `paperspace` has several variants; pick one with --variant "
                             "(variants: gradient, gradient-free, core)")
    r = run(capsys, "render", "--platform", "nowhere", "--job", str(EXAMPLE), "--out", str(tmp_path / "o"))
    assert r.code == 2 and r.err.startswith("rgt: unknown platform `nowhere`")


def _example() -> dict:
    data = YAML(typ="safe", pure=True).load(EXAMPLE.read_text())
    return json.loads(json.dumps(data))


@pytest.mark.parametrize("change,line", [
    ({"disk_floor_gb": "lots"}, 'rgt: job.yaml: `disk_floor_gb` must be a number (got "lots")'),
    ({"inode_floor": 1.5}, "rgt: job.yaml: `inode_floor` must be a whole number (got 1.5)"),
    ({"name": None}, "rgt: job.yaml: `name` is required"),
    ({"command": ""}, "rgt: job.yaml: `command` must not be empty"),
    ({"checkpoint_pattern": "ckpt/step_*.pt"},
     'rgt: job.yaml: `checkpoint_pattern` is a file-name glob inside checkpoint_dir and must not contain `/` (got "ckpt/step_*.pt")'),
    ({"durable": "relative/dir"}, 'rgt: job.yaml: `durable` must be an absolute path (a mount that survives the box) or rclone:REMOTE:PATH (got "relative/dir")'),
    ({"durable": "rclone:no-remote-name"}, 'rgt: job.yaml: `durable` names an rclone remote as rclone:REMOTE:PATH, e.g. rclone:r2:my-bucket/runs (got "rclone:no-remote-name")'),
    ({"durable": "/mnt/$(reboot)"}, None),
    ({"secrets": {"WANDB_API_KEY": "abc"}}, "rgt: job.yaml: `secrets` lists environment variable names only; never put a secret's value in the job spec (e.g. secrets: [WANDB_API_KEY, HF_TOKEN])"),
    ({"secrets": ["sk-live-123"]}, None),
    ({"detach": "screen"}, 'rgt: job.yaml: `detach` must be one of auto, tmux, nohup, none (got "screen")'),
    ({"queue": [{"name": "a b"}]}, 'rgt: job.yaml: `queue[1].name` must be letters, digits, `.`, `_` or `-` (at most 64, not starting with . or -) (got "a b")'),
    ({"queue": [{"name": "a"}, {"name": "a"}]}, 'rgt: job.yaml: `queue[2].name` repeats an earlier cell\'s name (got "a")'),
    ({"colour": "blue"}, None),
    ({"slurm": {"signal_before_s": 70000}}, "rgt: job.yaml: `slurm.signal_before_s` must be at most 65535 seconds (Slurm's limit) (got 70000)"),
    ({"slurm": {"time": "forever"}}, 'rgt: job.yaml: `slurm.time` must be a Slurm time limit such as 24:00:00 or 1-12:00:00 (got "forever")'),
    ({"slurm": {"time": "00:05:00", "signal_before_s": 600}}, "rgt: job.yaml: `slurm.signal_before_s` must be shorter than slurm.time (00:05:00) (got 600)"),
    ({"kubernetes": {"restart_policy": "Always"}}, 'rgt: job.yaml: `kubernetes.restart_policy` must be OnFailure or Never (got "Always")'),
])
def test_bad_job_spec_is_one_line_naming_the_key(capsys, tmp_path, monkeypatch, change, line):
    monkeypatch.chdir(tmp_path)
    data = _example()
    for k, v in change.items():
        if v is None:
            data.pop(k)
        else:
            data[k] = v
    yaml = YAML(typ="rt", pure=True)
    yaml.default_flow_style = False
    with open("job.yaml", "w") as f:
        yaml.dump(data, f)
    r = run(capsys, "render", "--platform", "vastai", "--job", "job.yaml", "--out", "o")
    assert r.code == 2 and r.out == ""
    err = r.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    # `rgt: job.yaml:N: `key` …`: N is the line that holds the key (the mapping's first for a missing one)
    where, _, message = err.partition(": `")
    assert where.startswith("rgt: job.yaml:"), err
    number = int(where.rsplit(":", 1)[1])
    key = next(iter(change))
    assert message.startswith(key), err
    leaf = message.split("`")[0].rsplit(".", 1)[-1]
    text = Path("job.yaml").read_text().splitlines()
    if change[key] is None:
        assert number == 1
    elif leaf.endswith("]"):  # a list item: its own line
        assert text[number - 1].lstrip().startswith("- "), (err, text[number - 1])
    else:
        assert f"{leaf}:" in text[number - 1], (err, text[number - 1])
    if line:
        assert err == line.replace("rgt: job.yaml: ", f"rgt: job.yaml:{number}: ")
    assert not Path("o").exists()


def test_key_errors_name_the_line_of_the_key(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("job.yaml").write_text("name: x\ncommand: run\ncheckpoint_pattern: 'step_*'\nqueue:\n  - name: a\n"
                                "  - name: b\n    env:\n      SEED: [1]\nslurm:\n  tmie: 1\n")
    r = run(capsys, "render", "--platform", "vastai", "--job", "job.yaml", "--out", "o")
    assert r.code == 2
    assert r.err.startswith("rgt: job.yaml:10: `slurm.tmie` is not a job spec key (keys: slurm.time, "), r.err
    Path("job.yaml").write_text(Path("job.yaml").read_text().replace("tmie", "time"))
    r = run(capsys, "render", "--platform", "vastai", "--job", "job.yaml", "--out", "o")
    assert r.err.strip() == "rgt: job.yaml:8: `queue[2].env.SEED` must be a string (got a list)"


def test_minimal_spec_renders_with_the_declared_defaults(capsys, tmp_path):
    """Only the required keys: every default comes from the model and reaches the scripts."""
    spec = tmp_path / "job.yaml"
    spec.write_text("name: tiny\ncommand: python train.py\ncheckpoint_pattern: 'step_*.pt'\n")
    r = run(capsys, "render", "--platform", "slurm", "--job", str(spec), "--out", str(tmp_path / "o"))
    assert r.code == 0, r.err
    text = (tmp_path / "o" / "run_one.sh").read_text()
    for line in ("DISK_FLOOR_GB='10'", "DISK_FLOOR_KB='10485760'", "INODE_FLOOR='10000'", "CELLS=('main')",
                 'CKPT_ROOT="$RUN_ROOT"/\'checkpoints\''):
        assert f"\n{line}\n" in text, line
    sbatch = (tmp_path / "o" / "job.sbatch").read_text()
    assert "#SBATCH --time=24:00:00" in sbatch and "#SBATCH --signal=B:USR1@600" in sbatch


def test_escaped_emoji_is_joined_and_a_lone_surrogate_refused(capsys, tmp_path):
    """A job.yaml written by json.dumps escapes an emoji as a surrogate pair; a lone one is no text."""
    spec = tmp_path / "job.yaml"
    spec.write_text(json.dumps({**_example(), "name": "\U0001f680 launch"}))  # ensure_ascii: "\ud83d\ude80"
    assert "\\ud83d\\ude80" in spec.read_text()
    r = run(capsys, "render", "--platform", "vastai", "--job", str(spec), "--out", str(tmp_path / "o"))
    assert r.code == 0, r.err
    assert "\nJOB_NAME='\U0001f680 launch'\n" in (tmp_path / "o" / "run_one.sh").read_text(encoding="utf-8")
    spec.write_text('name: "\\ud800 x"\ncommand: run\ncheckpoint_pattern: "s_*"\n')
    r = run(capsys, "render", "--platform", "vastai", "--job", str(spec), "--out", str(tmp_path / "p"))
    assert r.code == 2 and r.err.strip() == (f"rgt: {spec}:1: `name` holds a lone surrogate escape (\\ud800-\\udfff), "
                                             "which is no character; write the character itself"), r.err


def test_yaml_syntax_error_names_file_and_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("job.yaml").write_text("name: x\ncommand: run\nqueue: [a, b\ndisk_floor_gb: 3\n")
    r = run(capsys, "render", "--platform", "vastai", "--job", "job.yaml", "--out", "o")
    assert r.code == 2
    assert r.err.startswith("rgt: job.yaml:4: not valid YAML: ") and len(r.err.strip().splitlines()) == 1
    r = run(capsys, "render", "--platform", "vastai", "--job", "missing.yaml", "--out", "o")
    assert r.code == 2 and r.err.strip() == "rgt: job spec missing.yaml not found (pass --job with the path of your job.yaml)"


def test_docs_describe_every_key_with_the_model_default():
    """docs/job-spec.md explains the keys the model declares, and states the same defaults."""
    from rgt.render.spec import JobSpec, Kubernetes, Slurm
    doc = (REPO / "docs" / "job-spec.md").read_text()
    for model in (JobSpec, Slurm, Kubernetes):
        for key, field in model.model_fields.items():
            assert f"`{key}`" in doc, key
            default = field.default
            if isinstance(default, (str, int, float)) and default != "":
                written = re.findall(rf"^\| `{key}` \| `([^`]*)` \||`{key}` \(`([^`]*)`", doc, re.M)
                shown = f"{default:g}" if isinstance(default, float) else str(default)
                for cell in written:
                    assert shown in cell, (key, default, cell)
    assert "| `disk_floor_gb` | `10` |" in doc and "`signal_before_s`\n(`600`" in doc
    for name, code in EXIT_CODES.items():
        assert f"| {code} |" in doc, name
    job = load_job(EXAMPLE)
    assert job.slurm and job.kubernetes and job.secrets and len(job.queue) >= 2


def test_shell_word_quotes_and_expands_only_references():
    assert shell_word("a b'c") == "'a b'\"'\"'c'"
    assert shell_word("$(rm -rf /)") == "'$(rm -rf /)'"
    assert shell_word("nohup") == "'nohup'" and shell_word("") == "''"
    assert shell_word("/x/`id`", expand=True) == "'/x/`id`'"  # no `$`: plain quoting, inert
    assert shell_word("$HOME/rgt/data", expand=True) == '"$HOME/rgt/data"'
    assert shell_word("~/x y", expand=True) == '"${HOME}/x y"'
    assert shell_word('/a/"b"/${FS:?export FS=<name>}', expand=True) == '"/a/\\"b\\"/${FS:?export FS=<name>}"'
    for bad in ("$(id)", "$HOME/`id`", "$((1+1))", "${X/a/b}"):
        with pytest.raises(ValueError):
            shell_word(f"/x/{bad}", expand=True)


def test_copyout_gate_only_without_a_durable_target(tmp_path):
    job = parse_job({**_example(), "durable": ""})
    gated = render_profile(box_profile(tmp_path, irreversible=True), None, job)["run_one.sh"]
    assert "\nCOPYOUT_GATE='1'\n" in gated and "COPY-OUT REQUIRED before $METER_STOP_VERB" in gated
    assert "\nMETER_STOP_VERB='destroy'\n" in gated
    for profile, spec in ((box_profile(tmp_path, irreversible=False), job),
                          (box_profile(tmp_path, durable_dir="/mnt/keep"), job),
                          (box_profile(tmp_path), parse_job({**_example(), "durable": "/mnt/bucket"}))):
        assert "\nCOPYOUT_GATE='0'\n" in render_profile(profile, None, spec)["run_one.sh"]


def test_onstart_fits_the_limit_or_render_refuses(tmp_path):
    job = parse_job(_example())
    files = render_profile(box_profile(tmp_path, onstart_limit=16384), None, job)
    assert len(files["onstart.sh"].encode()) <= 16384
    assert "onstart.sh" not in render_profile(box_profile(tmp_path), None, job)
    with pytest.raises(UsageError, match="over the platform's onstart_limit_bytes 200"):
        render_profile(box_profile(tmp_path, onstart_limit=200), None, job)


def test_sbatch_has_time_signal_requeue_and_a_flag_trap(tmp_path):
    data = {**_example(), "slurm": {"time": "2-00:00:00", "signal_before_s": 900, "partition": "gpu", "gpus": 2}}
    files = render_profile(box_profile(tmp_path, slug="slurm"), None, parse_job(data))
    sb = files["job.sbatch"]
    head = sb.split("\n# job.sbatch")[0].splitlines()
    assert head[0] == "#!/bin/bash" and all(line.startswith("#SBATCH ") for line in head[1:])
    for want in ("--time=2-00:00:00", "--signal=B:USR1@900", "--requeue", "--open-mode=append",
                 "--partition=gpu", "--gres=gpu:2"):
        assert f"#SBATCH {want}" in head
    assert "trap on_usr1 USR1" in sb and 'scontrol requeue "$SLURM_JOB_ID"' in sb
    assert 'bash "$here/run_queue.sh" &' in sb  # in the background, so the trap fires (SLURM8)


def test_kubernetes_job_manifest(tmp_path):
    profile = box_profile(tmp_path, slug="kubernetes", detach="k8s-job", detach_primitive="k8s-job")
    data = {**_example(), "secrets": ["WANDB_API_KEY", "HF_TOKEN"]}
    data["kubernetes"] = {"image": "nvcr.io/nvidia/pytorch:24.05-py3", "pvc": "ckpts", "gpus": 4,
                          "cpu": "16", "memory": "128Gi", "backoff_limit": 3, "restart_policy": "Never"}
    files = render_profile(profile, None, parse_job(data))
    docs = list(YAML(typ="safe", pure=True).load_all(files["k8s-job.yaml"]))
    cm, jobdoc = docs
    assert cm["kind"] == "ConfigMap" and jobdoc["kind"] == "Job"
    assert cm["data"] == {"run_one.sh": files["run_one.sh"], "run_queue.sh": files["run_queue.sh"]}
    spec = jobdoc["spec"]
    assert spec["backoffLimit"] == 3
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    c = pod["containers"][0]
    assert c["image"] == "nvcr.io/nvidia/pytorch:24.05-py3"
    assert c["command"] == ["bash", "/opt/rgt/run_queue.sh"]
    assert c["resources"]["limits"] == {"nvidia.com/gpu": 4, "cpu": "16", "memory": "128Gi"}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["checkpoints"] == str(tmp_path / "data")  # the PVC holds DATA_DIR
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["checkpoints"]["persistentVolumeClaim"]["claimName"] == "ckpts"
    secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"] if "valueFrom" in e}
    assert set(secret_env) == {"WANDB_API_KEY", "HF_TOKEN"} and all("value" not in e or e["name"] == "PYTHONUNBUFFERED" for e in c["env"])
    with pytest.raises(UsageError, match="does not contain the profile's DATA_DIR"):
        render_profile(profile, None, parse_job({**data, "kubernetes": {**data["kubernetes"], "mount_path": "/elsewhere"}}))
    with pytest.raises(UsageError, match="`kubernetes.image` is required"):
        render_profile(profile, None, parse_job({**_example(), "kubernetes": {"pvc": "x"}}))


def test_verify_local_is_python38_stdlib(tmp_path):
    src = (REPO / "scripts" / "verify_local.py").read_text()
    tree = ast.parse(src, feature_version=(3, 8))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "argparse", "hashlib", "json", "os", "struct", "sys", "torch", "zipfile"}


def _manifest(d: Path, files: dict[str, bytes]) -> None:
    d.mkdir(parents=True)
    for name, body in files.items():
        (d / name).write_bytes(body)
    (d / "MANIFEST.sha256").write_text("".join(f"{hashlib.sha256(b).hexdigest()}  {n}\n" for n, b in files.items()))
    (d / "MANIFEST.sizes").write_text("".join(f"{len(b)}  {n}\n" for n, b in files.items()))


def test_verify_local_one_line_per_file_and_exit_status(tmp_path):
    script = REPO / "scripts" / "verify_local.py"
    _manifest(tmp_path / "pulled" / "a", {"step_3.pt": b"weights", "best.pth": b"best", "my file.txt": b"x"})
    ok = subprocess.run([sys.executable, str(script), str(tmp_path / "pulled")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    lines = ok.stdout.splitlines()
    assert sum(line.startswith("OK ") for line in lines) == 3 and lines[-1] == "VERIFIED 3 file(s) in 1 manifest(s)"
    assert any("checkpoints were not opened" in line for line in lines)  # says it checked bytes only

    (tmp_path / "pulled" / "a" / "step_3.pt").write_bytes(b"weightZ")   # same size, other bytes
    (tmp_path / "pulled" / "a" / "best.pth").write_bytes(b"bes")        # truncated
    (tmp_path / "pulled" / "a" / "my file.txt").unlink()
    bad = subprocess.run([sys.executable, str(script), str(tmp_path / "pulled")], capture_output=True, text=True)
    assert bad.returncode == 1
    out = bad.stdout
    assert "SHA256 MISMATCH" in out and "step_3.pt" in out
    assert "SIZE MISMATCH" in out and "best.pth: manifest 4 bytes, here 3 bytes" in out
    assert "MISSING" in out and "my file.txt" in out
    assert out.splitlines()[-1].startswith("NOT VERIFIED: 3 problem(s)")
    nothing = tmp_path / "none"
    nothing.mkdir()
    r = subprocess.run([sys.executable, str(script), str(nothing)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout.startswith("NO MANIFEST")


def _fake_torch(tmp_path: Path) -> dict:
    """A stand-in torch whose load fails on b'BAD' and refuses to run without weights_only=True,
    as a pickle that executes code would have to be refused."""
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "def load(path, map_location=None, weights_only=None):\n"
        "    if weights_only is not True:\n"
        "        raise AssertionError('torch.load without weights_only=True runs pickled code')\n"
        "    if open(path, 'rb').read().startswith(b'BAD'):\n"
        "        raise RuntimeError('PytorchStreamReader failed reading zip archive')\n")
    return {**os.environ, "PYTHONPATH": str(tmp_path / "site")}


def test_verify_local_loads_checkpoints_only_when_asked_and_never_runs_pickles(tmp_path):
    env = _fake_torch(tmp_path)
    _manifest(tmp_path / "d", {"good.pt": b"GOOD", "bad.pt": b"BAD!", "notes.txt": b"BAD but not a checkpoint"})
    script = str(REPO / "scripts" / "verify_local.py")
    r = subprocess.run([sys.executable, script, str(tmp_path / "d"), "--load"], capture_output=True, text=True, env=env)
    assert r.returncode == 1
    assert "torch.load(weights_only=True) works" in r.stdout and "bad.pt: RuntimeError" in r.stdout
    assert "AssertionError" not in r.stdout
    bytes_only = subprocess.run([sys.executable, script, str(tmp_path / "d")], capture_output=True, text=True, env=env)
    assert bytes_only.returncode == 0 and "LOAD FAILED" not in bytes_only.stdout, bytes_only.stdout


def test_verify_local_load_check_reads_safetensors_and_torch_zips_without_torch(tmp_path):
    import json as _json
    import struct
    import zipfile

    header = _json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    good_st = struct.pack("<Q", len(header)) + header + b"\0" * 8
    short_st = struct.pack("<Q", len(header)) + header + b"\0" * 4     # cut off inside the tensor data
    zpath = tmp_path / "z.pt"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("archive/data.pkl", b"not unpickled by the check")
        z.writestr("archive/data/0", b"\1" * 64)
    good_zip = zpath.read_bytes()
    broken_zip = good_zip.replace(b"\1" * 64, b"\2" * 64)  # stored uncompressed: its CRC no longer matches
    _manifest(tmp_path / "d", {"m.safetensors": good_st, "cut.safetensors": short_st, "last.pt": good_zip,
                               "rotten.pt": broken_zip})
    no_torch = tmp_path / "no-torch"  # the checks that need no torch, even where torch is installed
    no_torch.mkdir()
    (no_torch / "torch.py").write_text("raise ImportError('hidden by the test')\n")
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "verify_local.py"), str(tmp_path / "d"), "--load"],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(no_torch)})
    out = r.stdout
    assert r.returncode == 1, out
    assert "m.safetensors (" in out and "safetensors header parses" in out
    assert "LOAD FAILED" in out and "cut.safetensors: tensor w lies outside the file" in out
    assert "last.pt (" in out and "zip structure intact" in out
    assert "rotten.pt: damaged zip archive" in out


def test_job_schema_is_generated_from_the_spec_and_validates_the_example():
    """docs/job.schema.json is what editors check job.yaml with: current, and agreeing with rgt."""
    import jsonschema
    from rgt.render.spec import json_schema
    published = (REPO / "docs" / "job.schema.json").read_text()
    assert published == json_schema(), "docs/job.schema.json is stale: run `python -m rgt.render`"
    schema = json.loads(published)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(_example()))
    for bad in ({"colour": "blue"}, {"detach": "screen"}, {"queue": [{"name": "a b"}]}, {"inode_floor": 1.5},
                {"slurm": {"time": "forever"}}, {"kubernetes": {"restart_policy": "Always"}}):
        assert list(validator.iter_errors({**_example(), **bad})), bad
    assert "job.schema.json" in (REPO / "docs" / "job-spec.md").read_text()


def _k8s_limits(files: dict) -> dict:
    jobdoc = list(YAML(typ="safe", pure=True).load_all(files["k8s-job.yaml"]))[1]
    return jobdoc["spec"]["template"]["spec"]["containers"][0].get("resources", {})


@pytest.mark.parametrize("gpus, gres", [(None, None), (0, None), (2, "--gres=gpu:2")])
def test_slurm_gpus_are_what_the_spec_asks(tmp_path, gpus, gres):
    # A cluster without a gpu gres refuses `--gres=gpu:1` at submit ("Invalid generic resource
    # specification"), so a spec that names no GPUs must ask for none.
    slurm = {"time": "01:00:00"} | ({} if gpus is None else {"gpus": gpus})
    sb = render_profile(box_profile(tmp_path, slug="slurm"), None, parse_job({**_example(), "slurm": slurm}))["job.sbatch"]
    asked = [line for line in sb.splitlines() if line.startswith("#SBATCH --gres") or "--gpus" in line]
    assert asked == ([f"#SBATCH {gres}"] if gres else [])


@pytest.mark.parametrize("gpus, want", [(None, {}), (0, {}), (4, {"limits": {"nvidia.com/gpu": 4}})])
def test_kubernetes_gpus_are_what_the_spec_asks(tmp_path, gpus, want):
    profile = box_profile(tmp_path, slug="kubernetes", detach="k8s-job", detach_primitive="k8s-job")
    k8s = {"image": "busybox:1.36", "pvc": "ckpts"} | ({} if gpus is None else {"gpus": gpus})
    assert _k8s_limits(render_profile(profile, None, parse_job({**_example(), "kubernetes": k8s}))) == want


@pytest.mark.parametrize("section", ["slurm", "kubernetes"])
@pytest.mark.parametrize("bad", ["two", -1, True, 1.5])
def test_bad_gpus_is_one_line_naming_the_key(capsys, tmp_path, monkeypatch, section, bad):
    monkeypatch.chdir(tmp_path)
    Path("job.yaml").write_text(json.dumps({**_example(), section: {"gpus": bad}}))
    r = run(capsys, "render", "--platform", section, "--job", "job.yaml", "--out", "o")
    assert r.code == 2 and r.out == "" and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1 and r.err.startswith(f"rgt: job.yaml:1: `{section}.gpus` must be ")


@pytest.mark.parametrize("key", ["\U00010000", "\ud800"])
def test_a_surrogate_escape_in_a_key_is_refused_in_one_line(capsys, tmp_path, key):
    """json.dumps escapes a key outside the BMP as a surrogate pair, and a lone one stays lone: either
    is a key rgt refuses by name, never an internal error while it words the refusal."""
    spec = tmp_path / "job.yaml"
    data = _example()
    data["queue"] = [{"name": "a", "env": {key: "1"}}]
    spec.write_text(json.dumps(data))
    r = run(capsys, "render", "--platform", "vastai", "--job", str(spec), "--out", str(tmp_path / "o"))
    assert r.code == 2 and "internal error" not in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1, r.err
