"""Every lint code, once: what it reports, why it matters, and how to fix it.

Parsing and the cross-file checks name codes through these constants, so a typo is an import
error rather than a finding nobody registered. Every code is an error: a knowledge base with
any finding does not index.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    text: str  # what is wrong
    why: str   # what breaks if it stays
    fix: str   # what the author does


FM001 = "FM001"
FM002 = "FM002"
FM003 = "FM003"
FM004 = "FM004"
FM005 = "FM005"
SEC001 = "SEC001"
SEC002 = "SEC002"
SEC003 = "SEC003"
GOT001 = "GOT001"
GOT002 = "GOT002"
GOT003 = "GOT003"
GOT004 = "GOT004"
GOT005 = "GOT005"
GOT006 = "GOT006"
ID001 = "ID001"
SRC001 = "SRC001"
SRC002 = "SRC002"
SRC003 = "SRC003"
LNK001 = "LNK001"
LNK002 = "LNK002"
LNK003 = "LNK003"
LNK004 = "LNK004"
LNK005 = "LNK005"
RUL001 = "RUL001"
RUL002 = "RUL002"
PRB001 = "PRB001"
PRB002 = "PRB002"
PRB003 = "PRB003"
PRB004 = "PRB004"
OVR001 = "OVR001"
OVR002 = "OVR002"
OVR003 = "OVR003"

CODES: dict[str, Code] = {
    FM001: Code("frontmatter missing, unclosed or not valid YAML",
                "without it the platform has no facts, so plan and diagnose know nothing about it",
                "start the file with a `---` YAML mapping closed by `---`"),
    FM002: Code("frontmatter value does not fit its type",
                "rules compare typed values; a string where hours belong never decides anything",
                "write the value in the type profiles/_schema.md gives for the key"),
    FM003: Code("unknown frontmatter key",
                "a misspelt key is silently ignored by every rule that reads the real one",
                "use a key from profiles/_schema.md, or add the key to the schema first"),
    FM004: Code("required frontmatter key missing",
                "rules over a missing fact stay undecided on this platform",
                "add the key; write null only where _schema.md allows it"),
    FM005: Code("platform slug differs from the file name",
                "`--platform` finds profiles by file name, so the slug would name nothing",
                "make `platform:` equal the file name without .md"),
    SEC001: Code("a required section is missing",
                 "readers and the renderer look for knowledge in fixed sections",
                 "add the `## N. TITLE` section, even if it says there is nothing to know"),
    SEC002: Code("sections out of order",
                 "profiles are compared side by side; a shuffled one hides what it lacks",
                 "put sections 1–8 in order; extra sections go after 8"),
    SEC003: Code("a section is empty",
                 "an empty section reads as unknown, which is worse than saying none",
                 "write what is known, or say plainly that the platform has none"),
    GOT001: Code("gotcha heading is not `<ID> — <title>` with a known prefix",
                 "the ID is how show, see-links and diagnose name the gotcha",
                 "write `### PREFIXn — title` with an em dash and a registered prefix"),
    GOT002: Code("gotcha lacks Symptom, Cause or Fix, or has them out of order",
                 "search ranks on symptom and cause, and diagnose prints the fix",
                 "add `**Symptom:**`, `**Cause:**`, `**Fix:**` paragraphs in that order"),
    GOT003: Code("gotcha does not have exactly one ```rgt block",
                 "the block is the only machine-readable part: aka, probes and rules",
                 "keep one ```rgt fenced block under the gotcha"),
    GOT004: Code("rgt block is not valid YAML",
                 "an unreadable block drops the gotcha's rules and probes",
                 "fix the YAML at the line named"),
    GOT005: Code("rgt block key unknown, missing or mistyped",
                 "a misspelt key is ignored, so the rule or probe it meant never runs",
                 "use the keys and types listed in profiles/_schema.md"),
    GOT006: Code("gotcha ID prefix is not one the profile owns",
                 "IDs must say which platform they belong to, or scope checks misfire",
                 "use one of the profile's `prefixes`, or add the prefix there"),
    ID001: Code("ID defined twice",
                "an ID must name one thing; show and links would pick one at random",
                "give the newer entry an unused ID; never reuse a retired one"),
    SRC001: Code("sources missing",
                 "a fact without a source cannot be checked or marked unverified",
                 "cite the public page or document the facts come from"),
    SRC002: Code("a source lacks a url/doc or the date it was checked",
                 "readers cannot tell how stale a platform fact is",
                 "give each source a `url` or `doc` and `checked: YYYY-MM-DD`"),
    SRC003: Code("a source's kind is unknown, or not given where no rule can tell it",
                 "a fact cannot say how sure it is when nobody knows whose page backs it",
                 "write `kind:` official, third-party, user-report or seed (profiles/_schema.md says which is which)"),
    LNK001: Code("an ID named in prose or `see` does not exist",
                 "a dangling ID sends the reader nowhere",
                 "correct the ID or write the gotcha it names"),
    LNK002: Code("a knowledge-base path named in prose does not exist",
                 "a dangling path sends the reader nowhere",
                 "correct the path relative to the knowledge-base root"),
    LNK003: Code("a reference named by its topic in prose does not exist",
                 "\"see the verification reference\" sends the reader to a page nobody wrote",
                 "name a reference that exists (`the checkpoint reference` is references/training/checkpoint.md), "
                 "or carry the text here"),
    LNK004: Code("a path's #anchor names no heading of that page",
                 "the link opens the page but not the part it promised",
                 "use the anchor of an existing heading: lower-case, punctuation dropped, spaces as hyphens"),
    LNK005: Code("a principle number is out of range",
                 "the reader looks for a principle references/principles.md does not hold",
                 "cite a number that references/principles.md holds, or add the principle there"),
    RUL001: Code("rule expression does not parse",
                 "diagnose would skip the rule, so the cause is never confirmed or ruled out",
                 "fix the expression; names, comparisons, and/or/not only"),
    RUL002: Code("rule expression reads a name no fact, entity or listed probe provides",
                 "a name nothing provides is always undecided, so the rule never fires",
                 "list the probe that observes the name, or use a fact key or entity"),
    PRB001: Code("probe entry malformed",
                 "diagnose cannot run a probe it cannot read",
                 "write `### snake_id — title` and one ```rgt block with the probe keys"),
    PRB002: Code("probe names an unknown parser",
                 "the probe's output would be read by nothing",
                 "name a parser under engine/rgt/diagnose/parsers/"),
    PRB003: Code("probe command is not read-only",
                 "diagnose promises never to change the box it inspects",
                 "use a command that only reads; no writes, kills, deletes or reboots"),
    PRB004: Code("gotcha lists a probe that does not exist",
                 "the gotcha would wait for evidence no probe gathers",
                 "add the probe to references/probes.md or drop it from `probes`"),
    OVR001: Code("section 8 variant blocks do not match the declared variants",
                 "render would pick no block, or one for a variant nobody can name",
                 "write one ```sh variant=NAME block per variant in the frontmatter"),
    OVR002: Code("a variant block does not set a required key",
                 "the renderer never falls back to another platform's value",
                 "set the key; write `KEY=` to mean empty"),
    OVR003: Code("override line malformed or key unknown",
                 "a line the renderer cannot read is a setting that silently does not apply",
                 "write `KEY=value  # why` with a key listed in profiles/_schema.md"),
}
