"""`rgt watch`: is the run running, stalled, finished or dead; once, or every S seconds."""
from __future__ import annotations

import json
import subprocess
import time

import click

from .. import api
from ..errors import Exit, UsageError
from .common import POSITIVE, dumps, index, kb_option, text_file


@click.command()
@click.option("--host", "hosts", multiple=True, help="ssh_config alias or user@host[:port]; repeat, or a host list such as gpu[01-08].")
@click.option("--hosts-file", type=click.Path(dir_okay=False), callback=text_file, help="One host (or host list) per line.")
@click.option("--local", is_flag=True, help="Watch a run on this machine.")
@click.option("--capture", "captures", multiple=True, type=click.Path(dir_okay=False), help="Replay a saved capture.")
@click.option("--pid", type=click.IntRange(min=1), help="The run's process id on the box.")
@click.option("--match", help="Text in the run's command line (e.g. train.py); wrappers and shells never match.")
@click.option("--workdir", help="Directory on the box: your Python processes working there are the run.")
@click.option("--log", "log", help="The run's log on the box (run_one.sh: DATA_DIR/JOB/logs/CELL.log).")
@click.option("--checkpoints", help="The run's checkpoint directory on the box.")
@click.option("--platform", "-p", help="Platform slug: adds its nearest danger clock.")
@click.option("--variant", help="Platform variant.")
@click.option("--log-silent", default=900.0, show_default=True, type=POSITIVE, help="Seconds without a log write that count as stalled.")
@click.option("--checkpoint-stale", default=10800.0, show_default=True, type=POSITIVE, help="Seconds without a new checkpoint that count as stalled.")
@click.option("--gpu-idle", default=0, show_default=True, type=click.IntRange(0, 100), help="Busiest GPU's utilisation (%) at or under which the GPU is idle.")
@click.option("--every", type=POSITIVE, help="Check every S seconds; print only when the state changes.")
@click.option("--count", type=click.IntRange(min=1), help="With --every: stop after N checks.")
@click.option("--on-change", help="Local command run with the new state's JSON on stdin at each change.")
@click.option("--accept-new-host-key", is_flag=True, help="Trust and remember an unknown SSH host key.")
@click.option("--connect-timeout", default=15.0, show_default=True, type=POSITIVE, help="Seconds to wait for SSH.")
@click.option("--ssh-config", type=click.Path(dir_okay=False), envvar="RGT_SSH_CONFIG", callback=text_file, help="ssh_config file.")
@kb_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per check (JSON Lines).")
def watch(hosts, hosts_file, local, captures, pid, match, workdir, log, checkpoints, platform, variant, log_silent,
          checkpoint_stale, gpu_idle, every, count, on_change, accept_new_host_key, connect_timeout, ssh_config,
          kb, as_json) -> None:
    """Say whether the run is running, stalled, finished or dead, with the box's evidence.

    Exit status: 0 running or finished with a verified durable copy; 1 stalled, dead, failed or
    unknown (the JSON's `state` says which); 3 the box could not be reached."""
    if count and not every:
        raise UsageError("--count needs --every", hint="e.g. --every 60 --count 10")
    idx = index(kb)
    last_key, result, checks = None, None, 0
    while True:
        result = api.watch(idx, hosts=hosts, hosts_file=hosts_file, local=local, captures=captures, pid=pid,
                           match=match, workdir=workdir, log=log, checkpoints=checkpoints, platform=platform,
                           variant=variant, log_silent_s=log_silent, checkpoint_stale_s=checkpoint_stale,
                           gpu_idle_pct=gpu_idle, accept_new_host_key=accept_new_host_key,
                           connect_timeout=connect_timeout, ssh_config=ssh_config)
        checks += 1
        key = tuple((h["host"], h["state"]) for h in result["hosts"])
        if key != last_key:  # a change, or the first check
            if as_json:
                click.echo(json.dumps(result, ensure_ascii=False, default=str, allow_nan=False))
            else:
                _human(result)
            if on_change:
                _notify(on_change, result)
            last_key = key
        if not every or (count and checks >= count):
            break
        time.sleep(every)
    if not result["healthy"]:
        raise click.exceptions.Exit(Exit.FINDINGS)


def _notify(command: str, result: dict) -> None:
    """The user's own command, told of the change on stdin; its failure is reported, not fatal."""
    try:
        done = subprocess.run(command, shell=True, input=dumps(result), text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        click.echo(f"rgt: --on-change command did not finish in 60 s: {command}", err=True)
        return
    if done.returncode:
        click.echo(f"rgt: --on-change command exited {done.returncode}: {command}", err=True)


def _human(r: dict) -> None:
    for h in r["hosts"]:
        bits = [f"{time.strftime('%H:%M:%S')} {h['host']}: {h['state'].upper()}"]
        if h.get("pid"):
            bits.append(f"pid {h['pid']}" + (f", up {_hm(h['elapsed_s'])}" if h.get("elapsed_s") is not None else ""))
        if h.get("progress"):
            p = h["progress"]
            bits.append(", ".join(f"{k} {p[k]}" for k in ("step", "loss") if k in p))
        if h.get("checkpoint"):
            ck = h["checkpoint"]
            bits.append(f"checkpoint {ck['name']} ({_hm(ck['age_s'])} old{'' if ck['complete'] else ', no sidecar'})")
        if h.get("durable_verified"):
            bits.append("durable copy verified")
        if h.get("danger_clock"):
            bits.append(h["danger_clock"]["text"])
        click.echo(" | ".join(bits))
        for reason in h["reasons"]:
            click.echo(f"  why: {reason}")
        for e in h["evidence"][:6]:
            click.echo(f"  evidence ({e['probe']}): {e['line']}")
        if h.get("next"):
            click.echo(f"  next: {h['next']['line']}")


def _hm(seconds: float | None) -> str:
    s = int(seconds or 0)
    return f"{s // 3600} h {s % 3600 // 60} min" if s >= 3600 else f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


COMMANDS = [watch]
