"""`rgt render`: the box scripts for one job on one platform."""
from __future__ import annotations

import click

from .. import api
from .common import emit, index, json_option, kb_option


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
        click.echo(f"data: {r['data_dir']}   durable copy: {r['durable'] or 'none on the box'}")
        for w in r["warnings"]:
            click.echo(f"warning: {w}", err=True)
        for step in r["next_steps"]:
            click.echo(f"next: {step}", err=True)

    emit(api.render(index(kb), platform, job_path, out, variant, force), as_json, human)


COMMANDS = [render]
