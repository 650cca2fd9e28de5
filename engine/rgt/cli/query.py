"""Query the graph: `rgt platforms`, `show`, `search`, `facts`, `compare`."""
from __future__ import annotations

import click

from .. import api
from .common import emit, index, json_option, kb_option, table


@click.command()
@kb_option
@json_option
def platforms(kb: str | None, as_json: bool) -> None:
    """List the platforms with their variants."""
    def human(r: dict) -> None:
        rows = [[p["platform"], p["name"], p["kind"], ",".join(v["name"] for v in p["variants"]), p["gotchas"]]
                for p in r["platforms"]]
        click.echo(table(rows, ["platform", "name", "kind", "variants", "gotchas"]))
    emit(api.platforms(index(kb)), as_json, human)


@click.command()
@click.argument("node_id")
@click.option("--brief", is_flag=True, help="A gotcha's symptom, cause, fix, related IDs and deciding probes only.")
@kb_option
@json_option
def show(node_id: str, brief: bool, kb: str | None, as_json: bool) -> None:
    """Show a gotcha (PS2), a probe (kernel_log) or a platform (paperspace)."""
    def human(r: dict) -> None:
        if r["kind"] == "gotcha_brief":
            g = r["gotcha"]
            click.echo(f"{g['id']} — {g['title']}   ({g['location']})\n")
            for label in ("symptom", "cause", "fix"):
                click.echo(f"{label.capitalize()}: {g[label]}\n")
            for label in ("see", "probes"):
                if g[label]:
                    click.echo(f"{label}: {', '.join(g[label])}")
        elif r["kind"] == "gotcha":
            g = r["gotcha"]
            click.echo(f"{g['id']} — {g['title']}   ({g['location']})\n")
            for label in ("symptom", "cause", "fix", "verify"):
                if g[label]:
                    click.echo(f"{label.capitalize()}: {g[label]}\n")
            for label in ("aka", "see", "probes"):
                if g[label]:
                    click.echo(f"{label}: {', '.join(g[label])}")
            for label in ("confirm", "rule_out"):
                if g[label]:
                    click.echo(f"{label}: {g[label]}")
            for s in g["sources"]:
                click.echo(f"source: {s.get('url') or s.get('doc')} ({s['kind']}, checked {s['checked']})")
            if g["unverified"]:
                click.echo(f"unverified: {g['unverified']}")
        elif r["kind"] == "probe":
            p = r["probe"]
            click.echo(f"{p['id']} — {p['title']}   ({p['file']}:{p['line']})\n$ {p['command']}\n"
                       f"timeout {p['timeout']} s, parser {p['parser']}")
            for name, typ in p["observes"].items():
                click.echo(f"  {name}: {typ}")
            if p["used_by"]:
                click.echo(f"used by: {', '.join(p['used_by'])}")
        else:
            p = r["platform"]
            click.echo(f"{p['name']} ({p['slug']}, {p['kind']})   {p['file']}")
            click.echo(f"variants: {', '.join(p['variants'] or ['default'])}")
            click.echo(f"gotchas: {', '.join(p['gotcha_ids'])}")
            _echo_unverified(p["unverified"])
    emit(api.show(index(kb), node_id, brief), as_json, human)


@click.command()
@click.argument("text", nargs=-1, required=True)
@click.option("--limit", default=10, show_default=True, type=click.IntRange(min=1), help="How many results.")
@kb_option
@json_option
def search(text: tuple[str, ...], limit: int, kb: str | None, as_json: bool) -> None:
    """Full-text search over gotcha titles, aka phrasings, symptoms and causes."""
    def human(r: dict) -> None:
        if not r["results"]:
            click.echo("no gotcha matches; try other words, or `rgt platforms`")
        for h in r["results"]:
            click.echo(f"{h['score']:7.2f}  {h['id']:<7} {h['title']}  [{h['platform'] or 'universal'}]")
    emit(api.search(index(kb), " ".join(text), limit), as_json, human)


def _echo_unverified(unverified: dict[str, str], label: str = "") -> None:
    for key, why in unverified.items():
        click.echo(f"unverified: {label}{key}: {why}")


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, list):
        return ", ".join(map(str, v)) or "nothing"
    return str(v)


@click.command()
@click.argument("platform")
@click.option("--variant", help="Variant whose overrides apply (e.g. core).")
@kb_option
@json_option
def facts(platform: str, variant: str | None, kb: str | None, as_json: bool) -> None:
    """The typed frontmatter facts of one platform."""
    def human(r: dict) -> None:
        marked = r["unverified"]
        click.echo(table([[k, _fmt(v) + (" (unverified)" if k in marked else "")] for k, v in r["facts"].items()],
                         ["fact", "value"]))
        _echo_unverified({k: why for k, why in marked.items() if k in r["facts"]})
    emit(api.facts(index(kb), platform, variant), as_json, human)


@click.command()
@click.argument("platforms", nargs=-1, required=True)
@click.option("--key", "keys", multiple=True, help="Only these fact keys (repeatable).")
@kb_option
@json_option
def compare(platforms: tuple[str, ...], keys: tuple[str, ...], kb: str | None, as_json: bool) -> None:
    """Frontmatter facts side by side; name a variant as platform:variant."""
    def human(r: dict) -> None:
        cols = list(r["platforms"])
        marked = r["unverified"]
        rows = [[k] + [_fmt(r["platforms"][c][k]) + (" (unverified)" if k in marked[c] else "") for c in cols]
                for k in r["keys"]]
        click.echo(table(rows, ["fact"] + cols))
        for c in cols:
            _echo_unverified(marked[c], f"{c} ")
            for k, hint in r["hints"][c].items():
                click.echo(f"{c} {k}: {hint}")
    emit(api.compare(index(kb), list(platforms), list(keys) or None), as_json, human)


COMMANDS = [platforms, show, search, facts, compare]
