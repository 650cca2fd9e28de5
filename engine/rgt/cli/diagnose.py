"""`rgt diagnose`: ranked causes of a failure, confirmed or ruled out with evidence from the box."""
from __future__ import annotations

import sys

import click

from .. import api
from ..errors import Exit, RemoteError
from .common import POSITIVE, emit, index, json_option, kb_option, text_file

_MARK = {"confirmed": "CONFIRMED", "ruled_out": "ruled out", "possible": "possible"}


@click.command()
@click.argument("text", nargs=-1, required=True)
@click.option("--platform", "-p", help="Platform slug (rgt platforms); limits candidates to it and universal ones.")
@click.option("--variant", help="Platform variant, e.g. gradient or core.")
@click.option("--host", "hosts", multiple=True,
              help="ssh_config alias or user@host[:port]; repeat, or use a host list such as gpu[01-08].")
@click.option("--hosts-file", type=click.Path(dir_okay=False), callback=text_file, help="One host (or host list) per line; # comments.")
@click.option("--local", "local", is_flag=True, help="Probe this machine instead of a remote one.")
@click.option("--capture", "captures", multiple=True, type=click.Path(dir_okay=False),
              help="Replay a saved capture instead of connecting; repeat for several hosts.")
@click.option("--save-capture", type=click.Path(),
              help="Write what the box answered, to replay or share; with several hosts, a directory of HOST.json.")
@click.option("--force", is_flag=True, help="Let --save-capture replace an existing capture file.")
@click.option("--workdir", help="Directory on the box holding the training code; Python processes working there are the run.")
@click.option("--pid", type=click.IntRange(min=1), help="The run's process id on the box.")
@click.option("--match", help="Text in the run's command line (e.g. train.py); wrappers and shells never match.")
@click.option("--accept-new-host-key", is_flag=True, help="Trust and remember an unknown SSH host key.")
@click.option("--connect-timeout", default=15.0, show_default=True, type=POSITIVE, help="Seconds to wait for the SSH connection.")
@click.option("--ssh-config", type=click.Path(dir_okay=False), envvar="RGT_SSH_CONFIG", callback=text_file, help="ssh_config file (default ~/.ssh/config).")
@click.option("--log", "logs", multiple=True,
              help="A training log to read (its last 256 KiB), on each probed box; a local file without --host/--local/--capture.")
@click.option("--limit", default=8, show_default=True, type=click.IntRange(min=1), help="How many candidates to rank and decide.")
@kb_option
@json_option
def diagnose(text, platform, variant, hosts, hosts_file, local, captures, save_capture, force, workdir, pid, match,
             accept_new_host_key, connect_timeout, ssh_config, logs, limit, kb, as_json) -> None:
    """Rank the gotchas that fit TEXT and, with --host/--local/--capture, decide them on the box.

    TEXT may hold pasted log lines (`dmesg | tail`); `-` reads it from standard input."""
    # pasted logs hold stray bytes (a cut multibyte character, a terminal escape): keep the rest
    # (sys.stdin.buffer: click.get_binary_stream is deprecated since click 8.5)
    said = sys.stdin.buffer.read().decode("utf-8", "replace") if text == ("-",) else " ".join(text)
    result = api.diagnose(index(kb), said, platform=platform, variant=variant, hosts=hosts, hosts_file=hosts_file,
                          local=local, captures=captures, save_capture=save_capture, force=force, workdir=workdir,
                          pid=pid, match=match, accept_new_host_key=accept_new_host_key,
                          connect_timeout=connect_timeout, ssh_config=ssh_config, limit=limit, logs=logs)
    emit(result, as_json, _human)
    dead = [h for h in result["hosts"] if h.get("error")]
    if dead:  # the others' verdicts are printed above; the exit status still says a host failed
        names = ", ".join(h["host"] for h in dead[:5]) + (f" and {len(dead) - 5} more" if len(dead) > 5 else "")
        raise RemoteError(f"{len(dead)} of {len(result['hosts'])} hosts could not be probed: {names}",
                          hint="their reasons are in hosts[].error; verdicts above come from the others")
    if result["no_match"]:
        raise click.exceptions.Exit(Exit.FINDINGS)


def _human(r: dict) -> None:
    where = f" on {r['platform']}" + (f" ({r['variant']})" if r["variant"] else "") if r["platform"] else ""
    if r.get("platform_named"):
        where = f" ({r['platform_named']}, named in the text)"
    if r["no_match"]:
        click.echo(f"No good match{where}: {r['message']}.")
        return
    for h in r["hosts"]:
        if h.get("error"):
            click.echo(f"could not probe {h['error']}", err=True)
            continue
        errs = "; ".join(f"{k}: {v}" for k, v in h["probe_errors"].items())
        click.echo(f"probed {h['host']}: {h['probes']} probe(s) answered" + (f" ({errs})" if errs else ""), err=True)
        for note in [h.get("run")] + h.get("notes", []):
            if note:
                click.echo(f"  {h['host']}: {note}", err=True)
    click.echo(f"Causes that fit \"{_short(r['query'])}\"{where}, best first:\n")
    for i, c in enumerate(r["candidates"], 1):
        click.echo(f"{i}. [{_MARK[c['verdict']]}] {c['id']} — {c['title']}   ({c['location']})")
        label = "evidence" if c["verdict"] != "possible" else "reading"
        for e in c["evidence"]:
            aside = f"  [not counted: {e['note']}]" if e.get("note") else ""
            click.echo(f"     {label} ({e['probe']}{' @ ' + e['host'] if e.get('host') else ''}): {e['line']}{aside}")
        if c.get("why"):
            click.echo(f"     not confirmed: {c['why']}")
        if r["hosts"] or any(e.get("probe") != "query" for e in c["evidence"]):
            for m in c.get("missing", [])[:4]:
                click.echo(f"     to decide: {m['name']}: {m['why']}" + (f"; {m['next']}" if m.get("next") else ""))
        if c["verdict"] != "ruled_out":
            fix = " ".join(c["fix"].split())
            click.echo(f"     fix: {fix[:300]}{'…' if len(fix) > 300 else ''}")
        if c["see"]:
            click.echo(f"     see: {', '.join(c['see'])}")
    if not r["hosts"]:
        click.echo("\n(no box was probed: add --host H, --local or --capture F to confirm or rule these out)")


def _short(text: str, width: int = 80) -> str:
    """A pasted log is echoed as its first line, cut to width."""
    lines = text.strip().splitlines()
    first = " ".join(lines[0].split()) if lines else ""
    more = len(lines) > 1 or len(first) > width
    return first[:width] + (f"… ({len(lines)} lines)" if len(lines) > 1 else "…" if more else "")


COMMANDS = [diagnose]
