"""`rgt pull`: the teardown gate as a command; a verified copy off the box, and whether a destroy is safe."""
from __future__ import annotations

import sys

import click

from .. import api
from ..errors import Exit, RemoteError
from .common import POSITIVE, emit, index, json_option, kb_option, text_file


@click.command()
@click.argument("remote_dir")
@click.argument("local_dir", type=click.Path(file_okay=False))
@click.option("--host", "hosts", multiple=True,
              help="ssh_config alias or user@host[:port]; repeat, or a host list such as gpu[01-08] (each into LOCAL_DIR/HOST).")
@click.option("--hosts-file", type=click.Path(dir_okay=False), callback=text_file, help="One host (or host list) per line; # comments.")
@click.option("--local", "local", is_flag=True, help="Pull from this machine instead of a remote one.")
@click.option("--platform", "-p", help="Platform slug: what its destroy verb deletes decides the verdict.")
@click.option("--variant", help="Platform variant, e.g. gradient or core.")
@click.option("--accept-new-host-key", is_flag=True, help="Trust and remember an unknown SSH host key.")
@click.option("--connect-timeout", default=15.0, show_default=True, type=POSITIVE, help="Seconds to wait for the SSH connection.")
@click.option("--ssh-config", type=click.Path(dir_okay=False), envvar="RGT_SSH_CONFIG", callback=text_file, help="ssh_config file (default ~/.ssh/config).")
@kb_option
@json_option
def pull(remote_dir, local_dir, hosts, hosts_file, local, platform, variant, accept_new_host_key, connect_timeout,
         ssh_config, kb, as_json) -> None:
    """Copy REMOTE_DIR off the box resumably, verify every sha256, say whether a destroy is safe.

    The box is only read: it lists and hashes its files, and rsync (or SFTP) sends them. Run it
    again after an interruption: it resumes. Exit 0 only when safe_to_destroy is true."""
    result = api.pull(index(kb), remote_dir, local_dir, hosts=hosts, hosts_file=hosts_file, local=local,
                      platform=platform, variant=variant, accept_new_host_key=accept_new_host_key,
                      connect_timeout=connect_timeout, ssh_config=ssh_config,
                      show_progress=not as_json and sys.stderr.isatty())
    emit(result, as_json, _human)
    dead = [h for h in result["hosts"] if h.get("error")]
    if dead:
        raise RemoteError(f"{len(dead)} of {len(result['hosts'])} hosts could not be pulled: "
                          + ", ".join(h["host"] for h in dead[:5]), hint="their reasons are in hosts[].error")
    if not result["safe_to_destroy"]:
        raise click.exceptions.Exit(Exit.FINDINGS)


def _human(r: dict) -> None:
    for h in r["hosts"]:
        if h.get("error"):
            click.echo(f"could not pull {h['error']}", err=True)
            continue
        resumed = f", resumed {len(h['resumed'])} file(s)" if h["resumed"] else ""
        click.echo(f"{h['host']}:{h['remote_dir']} -> {h['local_dir']} ({h['method']}): "
                   f"{h['matched']} of {h['files']} file(s) match the box's sha256{resumed}")
        click.echo(f"  manifest: {h['manifest']}")
    d = r["destroy"]
    if d:
        click.echo(f"destroy: {d['says']}")
    if r["safe_to_destroy"]:
        click.echo("SAFE TO DESTROY: every file matched and nothing was being written. Ask the user first; rgt never destroys.")
    else:
        click.echo("NOT SAFE TO DESTROY:")
        for reason in r["reasons"]:
            click.echo(f"  - {reason}")
    click.echo(f"re-check the copy any time: {r['recheck']}")


COMMANDS = [pull]
