"""`rgt render`: every bundled platform renders clean scripts; the job spec fails with one line;
the --json shape; the Slurm and Kubernetes files; verify_local.py. Behaviour (running the scripts)
is in test_render_behaviour.py."""
from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
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


def _matrix() -> list:
    """(platform, variant) pairs from `rgt platforms --json`, so a new profile is covered at once."""
    with tempfile.TemporaryDirectory() as cache:
        proc = subprocess.run([sys.executable, "-m", "rgt", "platforms", "--json"], capture_output=True, text=True,
                              env={**os.environ, "RGT_CACHE": cache}, timeout=120)
    if proc.returncode != 0:  # a broken knowledge base: one failing case that says why
        return [pytest.param(None, None, proc.stderr.strip(), id="platforms-json-failed")]
    return [pytest.param(p["platform"], v["name"], p, id=f"{p['platform']}-{v['name']}")
            for p in json.loads(proc.stdout)["platforms"] for v in p["variants"]]


MATRIX = _matrix()


@pytest.fixture(scope="module")
def index():
    from rgt import api
    return api.open_index()


@pytest.fixture(scope="module")
def shellchecked(index, tmp_path_factory) -> dict:
    """shellcheck over every platform x variant at once (it is the slow part), in parallel."""
    from rgt.render import load_job, render_profile, write
    if not SHELLCHECK:  # pragma: no cover - tests/run.sh installs it
        pytest.fail("shellcheck is not installed (tests/run.sh installs it)")
    job, procs = load_job(EXAMPLE), {}
    for param in MATRIX:
        platform, variant, _ = param.values
        if platform is None:
            continue
        out = tmp_path_factory.mktemp(f"sc-{platform}-{variant}")
        write(render_profile(index.profile(platform), variant, job, kb_root=REPO), out)
        shell = sorted(str(p) for p in out.iterdir() if p.suffix in (".sh", ".sbatch"))
        procs[(platform, variant)] = subprocess.Popen([SHELLCHECK, "-S", "style", "-s", "bash", *shell],
                                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    results = {}
    for key, proc in procs.items():
        report, _ = proc.communicate(timeout=120)
        results[key] = (proc.returncode, report)
    return results


@pytest.mark.parametrize("platform,variant,info", MATRIX)
def test_every_platform_variant_renders_clean_scripts(capsys, tmp_path, index, shellchecked, platform, variant, info):
    assert platform is not None, f"`rgt platforms --json` failed: {info}"
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
    assert set(data) == {"version", "kind", "platform", "variant", "files"}
    assert (data["version"], data["kind"], data["platform"], data["variant"]) == (1, "render", "vastai", "default")
    for f in data["files"]:
        assert set(f) == {"path", "bytes", "sha256"}
        body = Path(f["path"]).read_bytes()
        assert len(body) == f["bytes"] and hashlib.sha256(body).hexdigest() == f["sha256"]
        if f["path"].endswith((".sh", ".py")):
            assert os.access(f["path"], os.X_OK)
    assert not list(out.glob(".*rgt-tmp"))


def test_several_variants_need_variant(capsys, tmp_path):
    r = run(capsys, "render", "--platform", "paperspace", "--job", str(EXAMPLE), "--out", str(tmp_path / "o"))
    assert r.code == 2 and r.out == ""
    assert r.err.strip() == ("rgt: platform `paperspace` has several variants; pick one with --variant "
                             "(variants: gradient, core)")
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
    Path("job.yaml").write_text(json.dumps(data))
    r = run(capsys, "render", "--platform", "vastai", "--job", "job.yaml", "--out", "o")
    assert r.code == 2 and r.out == ""
    err = r.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    key = next(iter(change))
    assert err.startswith("rgt: job.yaml: `" + key)
    if line:
        assert err == line
    assert not Path("o").exists()


def test_yaml_syntax_error_names_file_and_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("job.yaml").write_text("name: x\ncommand: run\nqueue: [a, b\ndisk_floor_gb: 3\n")
    r = run(capsys, "render", "--platform", "vastai", "--job", "job.yaml", "--out", "o")
    assert r.code == 2
    assert r.err.startswith("rgt: job.yaml:4: not valid YAML: ") and len(r.err.strip().splitlines()) == 1
    r = run(capsys, "render", "--platform", "vastai", "--job", "missing.yaml", "--out", "o")
    assert r.code == 2 and r.err.strip() == "rgt: job spec missing.yaml not found (pass --job with the path of your job.yaml)"


def test_example_spec_documents_every_key():
    doc = (REPO / "docs" / "job-spec.md").read_text()
    from rgt.render import JOB_KEYS, K8S_KEYS, SLURM_KEYS
    for key in JOB_KEYS + SLURM_KEYS + K8S_KEYS:
        assert f"`{key}`" in doc, key
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
    assert imported <= {"__future__", "argparse", "hashlib", "os", "sys", "torch"}


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
    assert any("torch is not importable" in line for line in lines)  # says it checked bytes only

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


def test_verify_local_loads_checkpoints_with_torch_when_importable(tmp_path):
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "def load(path, map_location=None, weights_only=None):\n"
        "    if open(path, 'rb').read().startswith(b'BAD'):\n"
        "        raise RuntimeError('PytorchStreamReader failed reading zip archive')\n")
    _manifest(tmp_path / "d", {"good.pt": b"GOOD", "bad.pt": b"BAD!", "notes.txt": b"BAD but not a checkpoint"})
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "verify_local.py"), str(tmp_path / "d")],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert r.returncode == 1
    assert "torch.load works" in r.stdout and "LOAD FAILED" in r.stdout and "bad.pt: RuntimeError" in r.stdout
    assert "not importable" not in r.stdout


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
    assert len(r.err.strip().splitlines()) == 1 and r.err.startswith(f"rgt: job.yaml: `{section}.gpus` must be ")
