"""Every rendered Kubernetes manifest (ConfigMap and Job) validates against the Kubernetes 1.37
schemas in strict mode, offline: `kubernetes-validate` bundles the schemas (1.37.0 is its newest
and its default). Strict mode rejects any property the schema does not know."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parent.parent
K8S_VERSION = "1.37.0"
VALIDATE = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent)) or shutil.which("kubernetes-validate")

# The branches of k8s-job.yaml.j2: no resources / GPUs only / GPUs, cpu and memory; namespace;
# absolute workdir; secrets or none; each restart policy.
SPECS = {
    "example": None,  # examples/job.yaml as it is
    "minimal": {"kubernetes": {"image": "busybox:1.36", "pvc": "ckpts"}, "secrets": []},
    "cpu-only": {"kubernetes": {"image": "busybox:1.36", "pvc": "ckpts", "cpu": "500m", "memory": "2Gi",
                                "restart_policy": "Never", "namespace": "ml", "secret_name": "keys"},
                 "workdir": "/workspace/app", "secrets": ["WANDB_API_KEY", "HF_TOKEN"]},
    "gpus-only": {"kubernetes": {"image": "nvcr.io/nvidia/pytorch:24.05-py3", "pvc": "ckpts", "gpus": 8,
                                 "backoff_limit": 0, "grace_period_s": 0, "mount_path": "/"}},
}


def _k8s_platforms() -> list[tuple[str, str]]:
    from rgt import api
    index = api.open_index()
    out = []
    for p in json.loads(_rgt("platforms", "--json").stdout)["platforms"]:
        profile = api.require_profile(index, p["platform"], None)
        for v in p["variants"]:
            facts = profile.facts_for(v["name"] if v["name"] in profile.variants else None)
            if p["platform"] == "kubernetes" or facts.get("detach_primitive") == "k8s-job":
                out.append((p["platform"], v["name"]))
    return out


def _rgt(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rgt", *args], capture_output=True, text=True, cwd=cwd,
                          env=os.environ.copy(), timeout=120)


def _validate(*files: Path) -> subprocess.CompletedProcess:
    if not VALIDATE:  # pragma: no cover - the test extra installs it
        pytest.fail("kubernetes-validate is not installed: pip install -e '.[test]'")
    return subprocess.run([VALIDATE, "--strict", "-k", K8S_VERSION, "--quiet", *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def _render_all(tmp_path: Path) -> list[Path]:
    example = YAML(typ="safe", pure=True).load((REPO / "examples" / "job.yaml").read_text())
    manifests = []
    for platform, variant in _k8s_platforms():
        for name, change in SPECS.items():
            spec = example if change is None else {**example, **change}
            job = tmp_path / f"{platform}-{variant}-{name}.json"
            job.write_text(json.dumps(spec))
            out = tmp_path / f"{platform}-{variant}-{name}"
            r = _rgt("render", "--platform", platform, "--variant", variant, "--job", str(job), "--out", str(out))
            assert r.returncode == 0, r.stderr
            manifests.append(out / "k8s-job.yaml")
    return manifests


def test_every_rendered_manifest_validates_strictly_against_kubernetes_1_37(tmp_path):
    manifests = _render_all(tmp_path)
    assert len(manifests) >= len(SPECS)
    kinds = [[d["kind"] for d in YAML(typ="safe", pure=True).load_all(m.read_text())] for m in manifests]
    assert all(k == ["ConfigMap", "Job"] for k in kinds)
    r = _validate(*manifests)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_validator_refuses_an_unknown_property_and_a_wrong_type(tmp_path):
    # The guard above is worth something only if a wrong manifest fails: an unknown property (a
    # typo of the kind a template edit makes) and a wrong type must both be refused.
    good = _render_all(tmp_path)[0]
    text = good.read_text()
    typo = tmp_path / "typo.yaml"
    typo.write_text(text.replace("      restartPolicy:", "      restartPolicyy:", 1))
    wrong_type = tmp_path / "wrong-type.yaml"
    wrong_type.write_text(text.replace("backoffLimit: 6", 'backoffLimit: "six"', 1))
    assert wrong_type.read_text() != text
    for bad in (typo, wrong_type):
        r = _validate(bad)
        assert r.returncode != 0, f"{bad.name} passed:\n{r.stdout}{r.stderr}"
