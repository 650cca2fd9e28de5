"""Typed records of the knowledge graph. Every node knows the file and line it came from."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .sources import has_official


@dataclass
class Finding:
    """One problem in the knowledge base, as lint prints it: `file:line: CODE message`."""
    file: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code} {self.message}"


@dataclass
class Gotcha:
    id: str
    title: str
    file: str
    line: int
    platform: str | None  # slug of the owning profile; None for reference catalogs
    symptom: str = ""
    cause: str = ""
    fix: str = ""
    verify: str = ""
    aka: list[str] = field(default_factory=list)
    see: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    readings: list[str] = field(default_factory=list)  # observations that bear on it, deciding nothing
    confirm: str | None = None
    rule_out: str | None = None
    sources: list[dict] = field(default_factory=list)
    block_line: int = 0  # line of the ```rgt fence, for findings about its contents

    def unverified(self) -> str | None:
        """Why it is unverified when none of its sources is an official page; None when one is."""
        if has_official(self.sources):
            return None
        return f"no official source: it rests on {', '.join(sorted({s.get('kind', '?') for s in self.sources}))}"

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Probe:
    id: str
    title: str
    file: str
    line: int
    command: str
    timeout: float
    parser: str
    gpu: bool = False        # opens /dev/nvidia*: runs in the GPU lane
    heavy: bool = False      # imports torch or opens a CUDA context: only for a candidate that fits
    reads: str = "box"       # box | host | node: what its reading describes
    fallback: str = ""       # what the user can run and paste when the probe cannot read its source

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Override:
    value: str
    why: str
    line: int


@dataclass
class Profile:
    slug: str
    name: str
    file: str
    line: int
    kind: str
    prefixes: list[str]
    facts: dict[str, Any]                      # base facts, typed
    variants: dict[str, dict[str, Any]]        # variant -> {"description": …, fact overrides}
    sources: list[dict]
    sections: list[str]                        # section titles in file order
    overrides: dict[str, dict[str, Override]]  # variant -> KEY -> Override
    gotcha_ids: list[str] = field(default_factory=list)
    called: list[str] = field(default_factory=list)  # names users write for it
    marks: list[str] = field(default_factory=list)   # paths only this platform's boxes have
    unverified: dict[str, str] = field(default_factory=dict)  # fact key -> why no official page confirms it

    def variant_names(self) -> list[str]:
        return list(self.variants) or ["default"]

    def facts_for(self, variant: str | None = None) -> dict[str, Any]:
        """Base facts with the variant's overrides on top."""
        merged = dict(self.facts)
        if variant and variant in self.variants:
            merged.update({k: v for k, v in self.variants[variant].items() if k != "description"})
        return merged

    def unverified_facts(self) -> dict[str, str]:
        """Facts to mark unverified, with why: those the profile names, and every fact when none
        of its sources is the platform's own page."""
        if has_official(self.sources):
            return dict(self.unverified)
        return {k: self.unverified.get(k, "no official page among the profile's sources") for k in self.facts}

    def to_json(self) -> dict:
        data = asdict(self)
        data["overrides"] = {v: {k: asdict(o) for k, o in keys.items()} for v, keys in self.overrides.items()}
        return data


@dataclass
class Page:
    """Any markdown file of the knowledge base, for link edges and search."""
    file: str
    title: str
    links: list[tuple[str, int]] = field(default_factory=list)  # (ID or path, line)
    headings: list[str] = field(default_factory=list)  # heading texts, for anchors into the page
    pointers: list[tuple[str, str, int]] = field(default_factory=list)  # (form, target, line); see parse


@dataclass
class KnowledgeBase:
    root: str
    profiles: dict[str, Profile] = field(default_factory=dict)
    gotchas: dict[str, Gotcha] = field(default_factory=dict)
    probes: dict[str, Probe] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)  # problems met while parsing
