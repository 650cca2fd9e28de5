"""Markdown → typed records. Parsing is strict but never stops at the first problem: every
problem becomes a Finding with file:line, so lint can report them all in one pass."""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from . import codes, schema, yaml12
from .model import Finding, Gotcha, KnowledgeBase, Override, Page, Probe, Profile
from .paths import source_files

# Only block tokens are read (headings, paragraphs, fences, and an inline token's raw `content`):
# the inline pass that splits that content into children was a fifth of a build's time.
_MD = MarkdownIt("commonmark").disable(["inline", "text_join"])
_LABEL_RE = re.compile(r"^\*\*(?P<label>[A-Za-z]+):\*\*\s*")
_SECTION_RE = re.compile(r"^(?P<num>\d+)\.\s+(?P<title>.+)$")
_VARIANT_RE = re.compile(r"^sh\s+variant=(?P<name>[\w-]+)\s*$")
_OVERRIDE_RE = re.compile(r"^(?P<key>[A-Z][A-Z0-9_]*)=(?P<rest>.*)$")


def load_kb(root: Path) -> KnowledgeBase:
    kb = KnowledgeBase(root=str(root))
    for path in source_files(root):
        _parse_file(kb, root, path)
    return kb


# ---------------------------------------------------------------- file level

class _Doc:
    """One markdown file split into frontmatter and body tokens, with file line numbers."""

    def __init__(self, kb: KnowledgeBase, root: Path, path: Path):
        self.kb, self.rel = kb, path.relative_to(root).as_posix()
        self.text = path.read_text(encoding="utf-8")
        self.lines = self.text.splitlines()
        self.meta: dict | None = None
        self.offset = 0  # file line index of the first body line
        self.fm_lines: list[str] = []
        if self.lines and self.lines[0].strip() == "---":
            end = next((i for i in range(1, len(self.lines)) if self.lines[i].strip() == "---"), None)
            if end is None:
                self.find(1, codes.FM001, "frontmatter opened with --- is never closed")
            else:
                self.fm_lines = self.lines[1:end]
                self.offset = end + 1
                self.meta = self._load_frontmatter("\n".join(self.fm_lines))
        self.body = self.lines[self.offset:]
        self.tokens = _MD.parse("\n".join(self.body))

    def _load_frontmatter(self, text: str) -> dict | None:
        try:
            meta = yaml12.Handler().load(text)
        except yaml12.ERRORS as e:
            line, problem = yaml12.error_line(e, text)
            self.find(2 + line, codes.FM001, f"frontmatter is not valid YAML: {problem}")
            return None
        if not isinstance(meta, dict):
            self.find(1, codes.FM001, "frontmatter must be a YAML mapping of keys")
            return None
        return meta

    def find(self, line: int, code: str, message: str) -> None:
        self.kb.findings.append(Finding(self.rel, line, code, message))

    def line_of(self, token) -> int:
        """1-based file line of a token."""
        return self.offset + (token.map[0] if token.map else 0) + 1

    def key_line(self, key: str) -> int:
        for i, raw in enumerate(self.fm_lines):
            if raw.startswith(f"{key}:"):
                return i + 2
        return 1

    def blocks(self) -> list[dict]:
        """Headings, paragraphs and fences in order, each with its file line and extent."""
        out, toks = [], self.tokens
        for i, tok in enumerate(toks):
            span = {"start": tok.map[0], "end": tok.map[1]} if tok.map else {"start": 0, "end": 0}
            if tok.type == "heading_open":
                out.append({"type": tok.tag, "text": toks[i + 1].content.strip(), "line": self.line_of(tok),
                            **span})
            elif tok.type == "paragraph_open" and tok.level == 0:
                out.append({"type": "p", "text": toks[i + 1].content, "line": self.line_of(tok),
                            **span})
            elif tok.type == "fence" and tok.level == 0:
                out.append({"type": "fence", "info": tok.info.strip(), "text": tok.content,
                            "line": self.line_of(tok), **span})
            elif tok.type in ("bullet_list_open", "ordered_list_open", "table_open", "blockquote_open") and tok.level == 0:
                out.append({"type": "other", "text": "", "line": self.line_of(tok), **span})
        return out

    def prose(self):
        """(file line, text) of each body line outside rgt blocks: where pointers are written."""
        fence = None  # info string of the open fence, if any
        for i, raw in enumerate(self.body):
            stripped = raw.strip()
            if stripped.startswith("```"):
                fence = stripped[3:].strip() if fence is None else None
                continue
            if fence != "rgt":
                yield self.offset + i + 1, raw

    def links(self) -> list[tuple[str, int]]:
        """IDs and knowledge-base paths named in the body."""
        found = []
        for line, raw in self.prose():
            found += [(m.group(0), line) for m in schema.ID_RE.finditer(raw)]
            found += [(m.group(1), line) for m in schema.PATH_LINK_RE.finditer(raw)]
        return found

    def pointers(self) -> list[tuple[str, str, int]]:
        """Pointers lint resolves beyond IDs and paths, as (form, target, line): `anchor`
        (references/x.md#slug), `reference` (a topic name) and `principle` (a number)."""
        found = []
        for line, raw in self.prose():
            found += [("anchor", f"{m.group(1)}#{m.group('anchor')}", line)
                      for m in schema.PATH_LINK_RE.finditer(raw) if m.group("anchor")]
            found += [("reference", m.group(1), line) for m in schema.REFERENCE_NAME_RE.finditer(raw)
                      if m.group(1) not in schema.NOT_OUR_REFERENCES]
            found += [("principle", n, line) for m in schema.PRINCIPLE_RE.finditer(raw)
                      for n in re.findall(r"#(\d+)", m.group(0))]
        return found


def _parse_file(kb: KnowledgeBase, root: Path, path: Path) -> None:
    try:
        doc = _Doc(kb, root, path)
    except UnicodeDecodeError:
        kb.findings.append(Finding(path.relative_to(root).as_posix(), 1, codes.FM001, "file is not UTF-8 text"))
        return
    blocks = doc.blocks()
    title = next((b["text"] for b in blocks if b["type"] == "h1"), path.stem)
    headings = [b["text"] for b in blocks if b["type"] in ("h1", "h2", "h3", "h4", "h5", "h6")]
    kb.pages[doc.rel] = Page(doc.rel, title, doc.links(), headings, doc.pointers())
    if doc.rel.startswith("profiles/"):
        _parse_profile(kb, doc, path.stem, blocks)
    elif path.name == "probes.md":
        _parse_probes(kb, doc, blocks)
    else:
        _parse_gotchas(kb, doc, blocks, platform=None, prefixes=None)


# ---------------------------------------------------------------- profiles

def _parse_profile(kb: KnowledgeBase, doc: _Doc, stem: str, blocks: list[dict]) -> None:
    if doc.meta is None:
        if not doc.fm_lines and not any(f.file == doc.rel and f.code == codes.FM001 for f in kb.findings):
            doc.find(1, codes.FM001, "profile has no frontmatter; it must start with a --- YAML block")
        # still read the body, so one broken frontmatter does not hide the gotchas behind it
        _parse_gotchas(kb, doc, blocks, platform=stem, prefixes=None, only_section="7")
        return
    meta = _check_frontmatter(doc, doc.meta, stem)
    sections = _check_sections(doc, blocks)
    prefixes = meta.get("prefixes") or []
    variants = meta.get("variants") or {}
    facts = {k: meta.get(k) for k in schema.FACT_KEYS}
    profile = Profile(
        slug=stem, name=meta.get("name") or stem, file=doc.rel, line=1, kind=meta.get("kind") or "",
        prefixes=prefixes, facts=facts, variants=variants, sources=meta.get("sources") or [],
        sections=[t for t, _ in sections], overrides={}, called=meta.get("called") or [],
        marks=meta.get("marks") or [], unverified=meta.get("unverified") or {},
    )
    section_blocks = _split(blocks, "h2")
    for heading, body in section_blocks:
        number = _SECTION_RE.match(heading["text"]) if heading else None
        if number and number.group("num") == "7":
            profile.gotcha_ids = _parse_gotchas(kb, doc, body, platform=stem, prefixes=prefixes)
        elif number and number.group("num") == "8":
            profile.overrides = _parse_overrides(doc, body, profile)
    kb.profiles[stem] = profile


def _check_frontmatter(doc: _Doc, meta: dict, stem: str) -> dict:
    typed: dict[str, Any] = {}
    for key, value in meta.items():
        spec = schema.FRONTMATTER.get(key)
        if spec is None:
            doc.find(doc.key_line(key), codes.FM003, f"unknown frontmatter key `{key}` (keys are listed in profiles/_schema.md)")
            continue
        if key == "sources" and not value:
            doc.find(doc.key_line(key), codes.SRC001, "frontmatter `sources` is empty; cite the pages the facts come from")
            continue
        try:
            typed[key] = spec.check(value)
        except schema.SchemaError as e:
            code = _source_code(e) if key == "sources" else codes.FM002
            doc.find(doc.key_line(key), code, f"`{key}`: {e}")
    for key, spec in schema.FRONTMATTER.items():
        if spec.required and key not in meta:
            code = codes.SRC001 if key == "sources" else codes.FM004
            doc.find(1, code, f"frontmatter key `{key}` is missing ({spec.meaning})")
    if typed.get("platform") and typed["platform"] != stem:
        doc.find(doc.key_line("platform"), codes.FM005, f"platform `{typed['platform']}` differs from the file name `{stem}.md`")
    for prefix in typed.get("prefixes", []):
        if prefix not in schema.PREFIXES:
            doc.find(doc.key_line("prefixes"), codes.FM002, f"`prefixes`: unknown prefix `{prefix}`; known: {', '.join(schema.PREFIXES)}")
    typed["variants"] = _check_variants(doc, meta.get("variants"))
    return typed


def _source_code(e: schema.SchemaError) -> str:
    return codes.SRC003 if isinstance(e, schema.SourceKindError) else codes.SRC002


def _check_variants(doc: _Doc, variants: Any) -> dict:
    if variants is None:
        return {}
    line = doc.key_line("variants")
    if not isinstance(variants, dict) or not variants:
        doc.find(line, codes.FM002, "`variants`: expected a mapping of variant name to {description, fact overrides}")
        return {}
    typed = {}
    for name, body in variants.items():
        if not isinstance(body, dict) or not isinstance(body.get("description"), str):
            doc.find(line, codes.FM002, f"`variants.{name}`: needs a `description:` string")
            continue
        typed[name] = {"description": body["description"]}
        for key, value in body.items():
            if key == "description":
                continue
            if key not in schema.FACT_KEYS:
                doc.find(line, codes.FM003, f"`variants.{name}.{key}` is not a fact key a variant may override")
                continue
            try:
                typed[name][key] = schema.FRONTMATTER[key].check(value)
            except schema.SchemaError as e:
                doc.find(line, codes.FM002, f"`variants.{name}.{key}`: {e}")
    return typed


def _check_sections(doc: _Doc, blocks: list[dict]) -> list[tuple[str, int]]:
    found = [(b["text"], b["line"]) for b in blocks if b["type"] == "h2"]
    expected = [f"{i}. {t}" for i, t in enumerate(schema.SECTIONS, start=1)]
    bodies = {h["line"]: body for h, body in _split(blocks, "h2") if h}
    titles = [t for t, _ in found]
    for i, want in enumerate(expected):
        if want not in titles:
            later = next((line for t, line in found if t in expected[i + 1:]), found[-1][1] if found else doc.offset + 1)
            doc.find(later, codes.SEC001, f"section `## {want}` is missing")
    last, seen_last = -1, False
    for title, line in found:
        if title in expected:
            pos = expected.index(title)
            if pos < last:
                doc.find(line, codes.SEC002, f"`## {title}` comes after `## {expected[last]}`; sections go in the order 1–8")
            last = max(last, pos)
            if not [b for b in bodies.get(line, []) if b["type"] != "h2"]:
                doc.find(line, codes.SEC003, f"section `## {title}` is empty")
        elif last < len(expected) - 1 and not seen_last:
            doc.find(line, codes.SEC002, f"`## {title}` is not one of the eight sections; extra sections go after section 8")
        seen_last = seen_last or title == expected[-1]
    return found


def _split(blocks: list[dict], level: str) -> list[tuple[dict | None, list[dict]]]:
    """Group blocks under each heading of `level` (and stop at any heading above it)."""
    stops = {"h1": {"h1"}, "h2": {"h1", "h2"}, "h3": {"h1", "h2", "h3"}}[level]
    groups: list[tuple[dict | None, list[dict]]] = [(None, [])]
    for b in blocks:
        if b["type"] == level:
            groups.append((b, []))
        elif b["type"] in stops:
            groups.append((None, []))
        else:
            groups[-1][1].append(b)
    return [g for g in groups if g[0] is not None or g[1]]


# ---------------------------------------------------------------- gotchas

def _parse_gotchas(kb: KnowledgeBase, doc: _Doc, blocks: list[dict], platform: str | None,
                   prefixes: list[str] | None, only_section: str | None = None) -> list[str]:
    if only_section is not None:
        blocks = next((body for h, body in _split(blocks, "h2")
                       if h and (m := _SECTION_RE.match(h["text"])) and m.group("num") == only_section), [])
    ids = []
    for heading, body in _split(blocks, "h3"):
        if heading is None:
            continue
        m = schema.GOTCHA_HEADING_RE.match(heading["text"])
        if not m or not schema.ID_RE.fullmatch(m.group("id")):
            if platform is not None:  # in section 7 every h3 is a gotcha
                doc.find(heading["line"], codes.GOT001, f"gotcha heading `{heading['text']}` is not `<ID> — <title>` with a known prefix")
            continue
        gotcha = _parse_gotcha(doc, heading, body, m.group("id"), m.group("title").strip(), platform)
        prefix = schema.prefix_of(gotcha.id)
        if prefixes is not None and prefix not in prefixes:
            doc.find(heading["line"], codes.GOT006, f"{gotcha.id}: prefix `{prefix}` is not one of this profile's prefixes {prefixes}")
        if gotcha.id in kb.gotchas:
            first = kb.gotchas[gotcha.id]
            doc.find(heading["line"], codes.ID001, f"{gotcha.id} is defined twice (first at {first.file}:{first.line})")
            continue
        kb.gotchas[gotcha.id] = gotcha
        ids.append(gotcha.id)
    return ids


def _parse_gotcha(doc: _Doc, heading: dict, body: list[dict], gid: str, title: str, platform: str | None) -> Gotcha:
    gotcha = Gotcha(id=gid, title=title, file=doc.rel, line=heading["line"], platform=platform)
    labels: list[tuple[str, dict]] = []
    fences = [b for b in body if b["type"] == "fence" and b["info"] == "rgt"]
    for b in body:
        if b["type"] == "p" and (lm := _LABEL_RE.match(b["text"])):
            labels.append((lm.group("label"), b))
    # each label's text runs from its paragraph to the next label, rgt fence or the gotcha's end
    stops = sorted([b["start"] for _, b in labels] + [f["start"] for f in fences] + [body[-1]["end"] if body else 0])
    for name, b in labels:
        end = next((s for s in stops if s > b["start"]), b["end"])
        text = "\n".join(doc.body[b["start"]:end]).strip()
        text = _LABEL_RE.sub("", text, count=1).strip()
        if name.capitalize() in schema.GOTCHA_LABELS:
            setattr(gotcha, name.lower(), text)
    order = [n for n, _ in labels if n in schema.GOTCHA_REQUIRED_LABELS]
    for required in schema.GOTCHA_REQUIRED_LABELS:
        if required not in order:
            doc.find(heading["line"], codes.GOT002, f"{gid}: missing `**{required}:**` paragraph")
    if [n for n in order if n in schema.GOTCHA_REQUIRED_LABELS] != [r for r in schema.GOTCHA_REQUIRED_LABELS if r in order]:
        doc.find(heading["line"], codes.GOT002, f"{gid}: labels must come in the order Symptom, Cause, Fix")
    if len(fences) != 1:
        doc.find(heading["line"], codes.GOT003, f"{gid}: needs exactly one ```rgt block, found {len(fences)}")
    if fences:
        gotcha.block_line = fences[0]["line"]
        data = _load_yaml(doc, fences[0], gid)
        if data is not None:
            _apply_block(doc, gotcha, data, fences[0]["line"])
    return gotcha


def _load_yaml(doc: _Doc, fence: dict, owner: str) -> dict | None:
    try:
        data = yaml12.load(fence["text"])
    except yaml12.ERRORS as e:
        line, problem = yaml12.error_line(e, fence["text"])
        what = problem if isinstance(e, yaml12.ReaderError) else f"is not valid YAML: {problem}"
        doc.find(fence["line"] + 1 + line, codes.GOT004, f"{owner}: rgt block {what}")
        return None
    if not isinstance(data, dict):
        doc.find(fence["line"], codes.GOT004, f"{owner}: rgt block must be a YAML mapping")
        return None
    return data


def _apply_block(doc: _Doc, gotcha: Gotcha, data: dict, line: int) -> None:
    for key, value in data.items():
        spec = schema.GOTCHA_BLOCK.get(key)
        if spec is None:
            doc.find(line, codes.GOT005, f"{gotcha.id}: unknown key `{key}` in rgt block")
            continue
        if key == "sources" and not value:
            continue  # reported as SRC001 below
        try:
            setattr(gotcha, key, spec.check(value))
        except schema.SchemaError as e:
            doc.find(line, _source_code(e) if key == "sources" else codes.GOT005, f"{gotcha.id}: `{key}`: {e}")
    if not data.get("sources"):
        doc.find(line, codes.SRC001, f"{gotcha.id}: no `sources`; cite the public page or document behind its facts")
    if "aka" not in data:
        doc.find(line, codes.GOT005, f"{gotcha.id}: `aka` is required (how users say it)")


# ---------------------------------------------------------------- probes

def _parse_probes(kb: KnowledgeBase, doc: _Doc, blocks: list[dict]) -> None:
    for heading, body in _split(blocks, "h3"):
        if heading is None:
            continue
        pid, _, title = heading["text"].partition(" — ")
        pid = pid.strip()
        fences = [b for b in body if b["type"] == "fence" and b["info"] == "rgt"]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", pid) or len(fences) != 1:
            doc.find(heading["line"], codes.PRB001, f"probe `{heading['text']}`: needs `### <snake_id> — <title>` and one ```rgt block")
            continue
        data = _load_yaml(doc, fences[0], pid)
        if data is None:
            continue
        values, bad = {}, False
        for key, spec in schema.PROBE_BLOCK.items():
            if key not in data and not spec.required:
                continue
            try:
                values[key] = spec.check(data.get(key))
            except schema.SchemaError as e:
                doc.find(fences[0]["line"], codes.PRB001, f"probe {pid}: `{key}`: {e}")
                bad = True
        for key in sorted(set(data) - set(schema.PROBE_BLOCK)):
            doc.find(fences[0]["line"], codes.PRB001, f"probe {pid}: unknown key `{key}`; known: {', '.join(schema.PROBE_BLOCK)}")
        if not bad:
            if pid in kb.probes:
                doc.find(heading["line"], codes.ID001, f"probe {pid} is defined twice")
                continue
            kb.probes[pid] = Probe(id=pid, title=title.strip(), file=doc.rel, line=heading["line"], **values)


# ---------------------------------------------------------------- section 8

def _parse_overrides(doc: _Doc, body: list[dict], profile: Profile) -> dict[str, dict[str, Override]]:
    result: dict[str, dict[str, Override]] = {}
    for fence in (b for b in body if b["type"] == "fence"):
        m = _VARIANT_RE.match(fence["info"])
        if not m:
            continue
        variant, values = m.group("name"), {}
        if variant in result:
            doc.find(fence["line"], codes.OVR001, f"second `sh variant={variant}` block")
        for i, raw in enumerate(fence["text"].splitlines()):
            line = fence["line"] + 1 + i
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            om = _OVERRIDE_RE.match(raw.strip())
            parsed = _override_value(om.group("rest")) if om else None
            if om is None or parsed is None:
                doc.find(line, codes.OVR003, f"`{raw.strip()}` is not `KEY=value  # why` (quote values with spaces)")
                continue
            key = om.group("key")
            if key not in schema.OVERRIDE_KEYS:
                doc.find(line, codes.OVR003, f"unknown override key `{key}`; keys: {', '.join(schema.OVERRIDE_KEYS)}")
                continue
            values[key] = Override(value=parsed[0], why=parsed[1], line=line)
        for key in schema.OVERRIDE_KEYS:
            if key not in values:
                doc.find(fence["line"], codes.OVR002, f"variant `{variant}` does not set `{key}` (write `{key}=` for empty)")
        result[variant] = values
    declared = profile.variant_names()
    for variant in declared:
        if variant not in result:
            doc.find(body[0]["line"] if body else 1, codes.OVR001, f"no `sh variant={variant}` block for variant `{variant}`")
    for variant in result:
        if variant not in declared:
            doc.find(1, codes.OVR001, f"`sh variant={variant}` names a variant the frontmatter does not declare ({', '.join(declared)})")
    return result


def _override_value(rest: str) -> tuple[str, str] | None:
    """`'a b'  # why` -> ("a b", "why"); None when the value is not one shell word."""
    quote, cut = None, len(rest)
    for i, ch in enumerate(rest):  # the comment starts at the first unquoted `#` after a blank
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or rest[i - 1].isspace()):
            cut = i
            break
    try:
        tokens = shlex.split(rest[:cut])
    except ValueError:
        return None
    if len(tokens) > 1:
        return None
    return (tokens[0] if tokens else ""), rest[cut:].lstrip("#").strip()
