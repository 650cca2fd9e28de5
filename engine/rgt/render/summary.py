"""What a render means for the user, beside the files: where live data and the durable copy go
(section-8 values read as a person reads them), the command that launches the job, and warnings
about a durable copy that may not outlive the box."""
from __future__ import annotations

import posixpath

from ..kb.model import Profile
from ..plan import readable_shell_value
from .spec import RCLONE, JobSpec


def launch_steps(names: set[str]) -> tuple[str, list[str]]:
    """The launch command for the rendered files, and every step from copy-over to teardown."""
    if "job.sbatch" in names:
        launch = "sbatch job.sbatch"
    elif "k8s-job.yaml" in names:
        launch = "kubectl apply -f k8s-job.yaml"
    else:
        launch = "bash run_queue.sh --detach"
    steps = ["copy the directory to the box, then: bash run_queue.sh --detach   (status: bash run_queue.sh --status)"]
    if "onstart.sh" in names:
        steps.append("boot hook: cd <that directory> && bash onstart.sh >> onstart.log 2>&1")
    if "job.sbatch" in names:
        steps.append("on the login node, from that directory: sbatch job.sbatch")
    if "k8s-job.yaml" in names:
        steps.append("kubectl apply -f k8s-job.yaml   (create the secret it names first)")
    if "watchdog.sh" in names:
        steps.append("unattended: nohup bash watchdog.sh >/dev/null 2>&1 &   (states in watchdog.states; or rgt watch)")
    steps.append("before teardown, on your machine: python3 verify_local.py <pulled durable dir>")
    return launch, steps


def _nested(a: str, b: str) -> bool:
    a, b = posixpath.normpath(a), posixpath.normpath(b)
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def summary(profile: Profile, variant: str, job: JobSpec, names: set[str]) -> dict:
    ov = profile.overrides[variant]
    facts = profile.facts_for(variant if variant in profile.variants else None)
    data, data_env = readable_shell_value(ov["DATA_DIR"].value)
    durable_dir, durable_env = readable_shell_value(ov["DURABLE_DIR"].value)
    warnings = [f"{key} needs {v['name']} set on the box" + (f" ({v['default']} otherwise)" if v["default"] else "")
                for key, env in (("DATA_DIR", data_env), ("DURABLE_DIR", durable_env)) for v in env
                if v["required"]]
    if job.durable.startswith(RCLONE):
        durable, why = job.durable, ""
    elif job.durable:
        durable, why = readable_shell_value(job.durable)[0], ov["DATA_DIR"].why
    elif durable_dir:
        durable, why = f"{durable_dir}/{job.slug}/durable", ov["DURABLE_DIR"].why
    else:
        durable, why = None, ""
    if durable and not durable.startswith(RCLONE) and _nested(durable, data):
        # a warning, not a refusal: the renderer cannot see what is mounted there (RunPod's Network Volume)
        warnings.append(f"the durable copy {durable} is on the same volume as DATA_DIR {data}, so it survives only "
                        f"what that volume survives (the profile: {why or 'no note'}); to outlive the box, mount "
                        "storage that does there, or set `durable:` to another mount or rclone:REMOTE:PATH")
    verb = facts.get("meter_stop_verb")
    if durable is None and facts.get("meter_stop_irreversible") is True:
        warnings.append(f"no durable target and nothing on the box survives `{verb}`: as each cell finishes, "
                        "run_one.sh exits 8 (COPY-OUT REQUIRED); pull its checkpoints and verify them before "
                        f"`{verb}`, or set `durable:` to rclone:REMOTE:PATH to copy them off as they are made")
    launch, steps = launch_steps(names)
    return {"data_dir": data, "durable_dir": durable_dir or None, "durable": durable, "launch": launch,
            "next_steps": steps, "warnings": warnings}
