"""Lint: every code in one registry, the cross-file checks, and the run that collects findings.

Parsing (kb/parse.py) reports what is wrong inside one file; the checks here need the whole
graph: links, rule names, probes. A code not in CODES cannot be reported.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import rules
from ..diagnose import parsers
from . import readonly, schema
from .model import Finding, KnowledgeBase


@dataclass(frozen=True)
class Code:
    severity: str  # error | warning
    text: str


CODES: dict[str, Code] = {
    "FM001": Code("error", "frontmatter missing, unclosed or not valid YAML"),
    "FM002": Code("error", "frontmatter value does not fit its type"),
    "FM003": Code("error", "unknown frontmatter key"),
    "FM004": Code("error", "required frontmatter key missing"),
    "FM005": Code("error", "platform slug differs from the file name"),
    "SEC001": Code("error", "a required section is missing"),
    "SEC002": Code("error", "sections out of order"),
    "SEC003": Code("error", "a section is empty"),
    "GOT001": Code("error", "gotcha heading is not `<ID> — <title>` with a known prefix"),
    "GOT002": Code("error", "gotcha lacks Symptom, Cause or Fix, or has them out of order"),
    "GOT003": Code("error", "gotcha does not have exactly one ```rgt block"),
    "GOT004": Code("error", "rgt block is not valid YAML"),
    "GOT005": Code("error", "rgt block key unknown, missing or mistyped"),
    "GOT006": Code("error", "gotcha ID prefix is not one the profile owns"),
    "ID001": Code("error", "ID defined twice"),
    "SRC001": Code("error", "sources missing"),
    "SRC002": Code("error", "a source lacks a url/doc or the date it was checked"),
    "LNK001": Code("error", "an ID named in prose or `see` does not exist"),
    "LNK002": Code("error", "a knowledge-base path named in prose does not exist"),
    "RUL001": Code("error", "rule expression does not parse"),
    "RUL002": Code("error", "rule expression reads a name no fact, entity or listed probe provides"),
    "PRB001": Code("error", "probe entry malformed"),
    "PRB002": Code("error", "probe names an unknown parser"),
    "PRB003": Code("error", "probe command is not read-only"),
    "PRB004": Code("error", "gotcha lists a probe that does not exist"),
    "OVR001": Code("error", "section 8 variant blocks do not match the declared variants"),
    "OVR002": Code("error", "a variant block does not set a required key"),
    "OVR003": Code("error", "override line malformed or key unknown"),
}


def lint(kb: KnowledgeBase) -> list[Finding]:
    findings = list(kb.findings)
    findings += _check_links(kb)
    findings += _check_probes(kb)
    findings += _check_rules(kb)
    findings += _check_called(kb)
    for f in findings:
        if f.code not in CODES:  # the registry is the only source of codes
            raise KeyError(f"lint code {f.code} is not registered in rgt.kb.lint.CODES")
    return sorted(findings, key=lambda f: (f.file, f.line, f.code))


def _exists(kb: KnowledgeBase, path: str) -> bool:
    return (Path(kb.root) / path).exists()


def _check_links(kb: KnowledgeBase) -> list[Finding]:
    out = []
    for page in kb.pages.values():
        for target, line in page.links:
            if schema.ID_RE.fullmatch(target):
                if target not in kb.gotchas:
                    out.append(Finding(page.file, line, "LNK001", f"{target} is not defined anywhere"))
            elif not _exists(kb, target):
                out.append(Finding(page.file, line, "LNK002", f"{target} does not exist"))
    for g in kb.gotchas.values():
        for target in g.see:
            if target not in kb.gotchas:
                out.append(Finding(g.file, g.block_line, "LNK001", f"{g.id}: `see` names {target}, which is not defined"))
    return out


def _check_called(kb: KnowledgeBase) -> list[Finding]:
    """A name users write, or a path a box shows, must point to one platform, or diagnose could not
    tell which they mean."""
    out = []
    for key, noun in (("called", "name"), ("marks", "path")):
        owner: dict[str, object] = {}
        for profile in sorted(kb.profiles.values(), key=lambda p: p.file):
            for name in getattr(profile, key):
                first = owner.setdefault(name, profile)
                if first is not profile:
                    out.append(Finding(profile.file, 1, "ID001", f"`{key}` {noun} `{name}` is also claimed by {first.file}"))
    return out


def _check_probes(kb: KnowledgeBase) -> list[Finding]:
    out = []
    known = set(parsers.names())
    for p in kb.probes.values():
        if p.parser not in known:
            out.append(Finding(p.file, p.line, "PRB002", f"probe {p.id}: parser `{p.parser}` does not exist; known: {', '.join(sorted(known))}"))
        for problem in readonly.problems(p.command):
            out.append(Finding(p.file, p.line, "PRB003", f"probe {p.id} {problem}; probes must only read"))
    for g in kb.gotchas.values():
        for pid in g.probes:
            if pid not in kb.probes:
                out.append(Finding(g.file, g.block_line, "PRB004", f"{g.id}: probe `{pid}` is not in references/probes.md"))
    return out


def observations_of(kb: KnowledgeBase, probe_ids: list[str]) -> set[str]:
    from ..diagnose import run

    names: set[str] = set(run.OBSERVES) if set(run.PROBES) & set(probe_ids) else set()
    for pid in probe_ids:
        probe = kb.probes.get(pid)
        if probe and probe.parser in parsers.names():
            try:
                names |= set(parsers.get(probe.parser).OBSERVES)
            except (ImportError, AttributeError):
                pass  # a parser module not written yet provides nothing
    return names


def _check_rules(kb: KnowledgeBase) -> list[Finding]:
    out = []
    base = set(schema.FACT_KEYS) | set(schema.ENTITIES)
    for g in kb.gotchas.values():
        known = base | observations_of(kb, g.probes)
        for name in sorted(set(g.readings) - known):
            out.append(Finding(g.file, g.block_line, "RUL002",
                               f"{g.id}: `readings` names `{name}`, which no fact, entity or listed probe provides"))
        for label, text in (("confirm", g.confirm), ("rule_out", g.rule_out)):
            if not text:
                continue
            try:
                names = rules.symbols(text)
            except rules.RuleSyntaxError as e:
                out.append(Finding(g.file, g.block_line, "RUL001", f"{g.id}: `{label}` does not parse: {e}"))
                continue
            for name in sorted(names - known):
                out.append(Finding(g.file, g.block_line, "RUL002",
                                   f"{g.id}: `{label}` reads `{name}`, which no fact, entity or listed probe provides"))
    return out
