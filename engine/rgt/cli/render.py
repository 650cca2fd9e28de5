"""`rgt render`: the box scripts for one job on one platform."""
from __future__ import annotations

import click

from .. import api
from .common import emit, index, json_option, kb_option


def _next_steps(r: dict) -> list[str]:
    names = {f["path"].rsplit("/", 1)[-1] for f in r["files"]}
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
    return steps


@click.command()
@click.option("--platform", required=True, help="Platform slug (see `rgt platforms`).")
@click.option("--variant", help="Variant whose section 8 block applies (required when there are several).")
@click.option("--job", "job_path", required=True, type=click.Path(dir_okay=False), help="The job spec (docs/job-spec.md).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory to write the scripts to.")
@click.option("--force", is_flag=True, help="Replace files in --out that differ from what rgt writes (e.g. an edited run_one.sh).")
@kb_option
@json_option
def render(platform: str, variant: str | None, job_path: str, out: str, force: bool, kb: str | None,
           as_json: bool) -> None:
    """Box scripts for a job: run_one.sh, run_queue.sh, and the platform's hook, sbatch or Job."""
    def human(r: dict) -> None:
        click.echo(f"rendered for {r['platform']} ({r['variant']}):")
        for f in r["files"]:
            click.echo(f"  {f['path']}  {f['bytes']} bytes")
        for step in _next_steps(r):
            click.echo(f"next: {step}", err=True)

    emit(api.render(index(kb), platform, job_path, out, variant, force), as_json, human)


COMMANDS = [render]
