"""`rgt plan`: preflight for one job on one platform, before money is spent."""
from __future__ import annotations

import click

from .. import api
from ..errors import Exit
from .common import NON_NEGATIVE, POSITIVE, emit, index, json_option, kb_option


@click.command()
@click.option("--platform", "-p", required=True, help="Platform slug (rgt platforms).")
@click.option("--variant", help="Platform variant, e.g. gradient or core.")
@click.option("--hours", type=POSITIVE, required=True, help="How long the job runs.")
@click.option("--spot", is_flag=True, help="The job runs on a spot / interruptible tier.")
@click.option("--checkpoint-cost-s", type=POSITIVE, help="Seconds one checkpoint takes to write.")
@click.option("--mtbf-h", type=POSITIVE, help="Mean hours between interruptions.")
@click.option("--disk-gb", type=POSITIVE, help="Disk size, to price a stopped box.")
@click.option("--rental-left-h", type=NON_NEGATIVE, help="Hours until this rental's host-set end date.")
@kb_option
@json_option
def plan(platform, variant, hours, spot, checkpoint_cost_s, mtbf_h, disk_gb, rental_left_h, kb, as_json) -> None:
    """What will end this job, what a stop destroys and still bills, and the checkpoint cadence.

    Exits 1 when a clock will end the run before it finishes and cannot be raised. On a platform
    with several variants and no --variant, every variant's clocks are listed with whom they apply
    to, and it exits 1 only when the run ends on every variant."""
    result = api.plan(index(kb), platform, hours, variant, spot, checkpoint_cost_s, mtbf_h, disk_gb, rental_left_h)
    emit(result, as_json, _human)
    if result["ends_run"]:
        raise click.exceptions.Exit(Exit.FINDINGS)


def _human(r: dict) -> None:
    if "variants" in r:
        click.echo(f"Preflight: {r['hours']:g} h on {r['platform']}, every variant ({r['says']})\n")
        for v, plan in r["variants"].items():
            click.echo(f"{v} — {r['applies_to'][v]}")
            for c in plan["clocks"] or [{"ends_run": False, "says": "no clock known"}]:
                click.echo(f"  {'ENDS THE RUN' if c['ends_run'] else 'watch':>12}  {c['says']}")
            click.echo("")
        return
    name = r["platform"] + (f" ({r['variant']})" if r["variant"] else "")
    click.echo(f"Preflight: {r['hours']:g} h on {name}{' (spot)' if r['spot'] else ''}\n")
    click.echo("Clocks:" if r["clocks"] else "Clocks: none known for this platform")
    for c in r["clocks"]:
        click.echo(f"  {'ENDS THE RUN' if c['ends_run'] else 'watch':>12}  {c['says']}")
    s = r["stop"]
    click.echo(f"\nStopping the meter: {s['says']}")
    if s["reversible_stop"]["verb"] != s["verb"]:  # the stop that keeps the data is another verb
        click.echo(f"Keeping the data: {s['reversible_stop']['says']}")
    b = r["billing"]
    line = b["says"][:1].upper() + b["says"][1:]  # "After `destroy` these still bill: volume"
    if b["stopped_per_day"] is not None:
        line += f"; storage ≈ {b['stopped_per_day']:g} {b['currency']}/day for {b['disk_gb']:g} GB"
    click.echo(line)
    cp = r["checkpoint"]
    click.echo(f"\nCheckpoint every {cp['interval_min']:g} min ({cp['formula']}).")
    for a in cp["assumptions"]:
        click.echo(f"  assumed: {a}")
    if r["related"]:
        click.echo("\nRead first: " + ", ".join(f"{g['id']} ({g['title']})" for g in r["related"]))


COMMANDS = [plan]
