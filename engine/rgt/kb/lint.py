"""Lint: the cross-file checks, and the run that collects findings.

Parsing (kb/parse.py) reports what is wrong inside one file; the checks here need the whole
graph: links, rule names, probes. A code not registered in kb/codes.py cannot be reported.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import rules
from . import codes, readonly, schema
from .codes import CODES
from .model import Finding, KnowledgeBase, Profile


@dataclass(frozen=True)
class Observable:
    """What diagnose can observe, handed in by api so the knowledge layer never imports diagnose."""
    parsers: Mapping[str, frozenset[str]]  # parser name -> the observation names it yields
    run: frozenset[str] = frozenset()  # names run identification yields...
    run_probes: frozenset[str] = frozenset()  # ...when a gotcha lists one of these probes

    def of_probe(self, probe_id: str, parser: str) -> frozenset[str]:
        """The observation names one listed probe brings to a gotcha's rules."""
        return self.parsers.get(parser, frozenset()) | (self.run if probe_id in self.run_probes else frozenset())


def lint(kb: KnowledgeBase, observable: Observable) -> list[Finding]:
    findings = list(kb.findings)
    findings += _check_links(kb)
    findings += _check_pointers(kb)
    findings += _check_probes(kb, observable)
    findings += _check_rules(kb, observable)
    findings += _check_called(kb)
    for f in findings:
        if f.code not in CODES:  # the registry is the only source of codes
            raise KeyError(f"lint code {f.code} is not registered in rgt.kb.codes.CODES")
    return sorted(findings, key=lambda f: (f.file, f.line, f.code))


def _exists(kb: KnowledgeBase, path: str) -> bool:
    return (Path(kb.root) / path).exists()


def _check_links(kb: KnowledgeBase) -> list[Finding]:
    out = []
    for page in kb.pages.values():
        for target, line in page.links:
            if schema.ID_RE.fullmatch(target):
                if target not in kb.gotchas:
                    out.append(Finding(page.file, line, codes.LNK001, f"{target} is not defined anywhere"))
            elif not _exists(kb, target):
                out.append(Finding(page.file, line, codes.LNK002, f"{target} does not exist"))
    for g in kb.gotchas.values():
        for target in g.see:
            if target not in kb.gotchas:
                out.append(Finding(g.file, g.block_line, codes.LNK001, f"{g.id}: `see` names {target}, which is not defined"))
    return out


def anchor(heading: str) -> str:
    """The anchor a markdown renderer gives a heading: lower-case, punctuation dropped, each
    space a hyphen (`## #1 — Minimize paid wall-clock` → `1--minimize-paid-wall-clock`)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _check_pointers(kb: KnowledgeBase) -> list[Finding]:
    topics = {Path(f).stem.lower().replace("_", "-") for f in kb.pages if f.startswith("references/")}
    principles_page = kb.pages.get(schema.PRINCIPLES_PAGE)
    principles = sorted(int(m.group(1)) for h in (principles_page.headings if principles_page else [])
                        if (m := re.match(r"#(\d+)\b", h)))
    held = f"#{principles[0]}–#{principles[-1]}" if principles else "none"
    out = []
    for page in kb.pages.values():
        for form, target, line in page.pointers:
            if form == "anchor":
                path, _, slug = target.partition("#")
                if path in kb.pages and slug not in {anchor(h) for h in kb.pages[path].headings}:
                    out.append(Finding(page.file, line, codes.LNK004, f"{path} has no heading with the anchor #{slug}"))
            elif form == "reference" and target.replace(" ", "-") not in topics:
                out.append(Finding(page.file, line, codes.LNK003,
                                   f"the {target} reference names no file under references/; "
                                   f"references: {', '.join(sorted(topics))}"))
            elif form == "principle" and int(target) not in principles:
                out.append(Finding(page.file, line, codes.LNK005,
                                   f"principle #{target} does not exist; {schema.PRINCIPLES_PAGE} holds {held}"))
    return out


def _check_called(kb: KnowledgeBase) -> list[Finding]:
    """A name users write, or a path a box shows, must point to one platform, or diagnose could not
    tell which they mean."""
    out: list[Finding] = []
    for key, noun in (("called", "name"), ("marks", "path")):
        owner: dict[str, Profile] = {}
        for profile in sorted(kb.profiles.values(), key=lambda p: p.file):
            for name in getattr(profile, key):
                first = owner.setdefault(name, profile)
                if first is not profile:
                    out.append(Finding(profile.file, 1, codes.ID001, f"`{key}` {noun} `{name}` is also claimed by {first.file}"))
    return out


def _check_probes(kb: KnowledgeBase, observable: Observable) -> list[Finding]:
    out = []
    known = set(observable.parsers)
    for p in kb.probes.values():
        if p.parser not in known:
            out.append(Finding(p.file, p.line, codes.PRB002, f"probe {p.id}: parser `{p.parser}` does not exist; known: {', '.join(sorted(known))}"))
        for problem in readonly.problems(p.command):
            out.append(Finding(p.file, p.line, codes.PRB003, f"probe {p.id} {problem}; probes must only read"))
    for g in kb.gotchas.values():
        for pid in g.probes:
            if pid not in kb.probes:
                out.append(Finding(g.file, g.block_line, codes.PRB004, f"{g.id}: probe `{pid}` is not in references/probes.md"))
    return out


def observations_of(kb: KnowledgeBase, probe_ids: list[str], observable: Observable) -> set[str]:
    names: set[str] = set()
    for pid in probe_ids:
        probe = kb.probes.get(pid)
        names |= observable.of_probe(pid, probe.parser if probe else "")
    return names


def _check_rules(kb: KnowledgeBase, observable: Observable) -> list[Finding]:
    out = []
    base = set(schema.FACT_KEYS) | set(schema.ENTITIES)
    for g in kb.gotchas.values():
        known = base | observations_of(kb, g.probes, observable)
        for name in sorted(set(g.readings) - known):
            out.append(Finding(g.file, g.block_line, codes.RUL002,
                               f"{g.id}: `readings` names `{name}`, which no fact, entity or listed probe provides"))
        for label, text in (("confirm", g.confirm), ("rule_out", g.rule_out)):
            if not text:
                continue
            try:
                names = rules.symbols(text)
            except rules.RuleSyntaxError as e:
                out.append(Finding(g.file, g.block_line, codes.RUL001, f"{g.id}: `{label}` does not parse: {e}"))
                continue
            for name in sorted(names - known):
                out.append(Finding(g.file, g.block_line, codes.RUL002,
                                   f"{g.id}: `{label}` reads `{name}`, which no fact, entity or listed probe provides"))
    return out
