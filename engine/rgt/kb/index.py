"""The knowledge graph as an SQLite file in the user's cache: nodes, edges, facts and FTS5.

Rebuilt only when a source file changes: mtimes are compared first, and a file whose mtime moved
is hashed, so a `touch` alone does not rebuild.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import KnowledgeError
from . import schema, sources
from .model import Gotcha, KnowledgeBase, Probe, Profile
from .paths import cache_dir, cache_error, source_files


def load_kb(root: Path) -> KnowledgeBase:
    # markdown-it, frontmatter and ruamel cost ~75 ms to import: pay it only when (re)building
    from .parse import load_kb as parse_all
    return parse_all(root)

# bm25 column weights for (title, aka, symptom, cause). `aka` is how users say it, so a phrase a
# user types should count most there; a passing mention in a cause counts least.
SEARCH_WEIGHTS = {"title": 4.0, "aka": 6.0, "symptom": 2.0, "cause": 0.5}

DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE nodes (id TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT, file TEXT, line INTEGER,
                    platform TEXT, data TEXT NOT NULL);
CREATE TABLE edges (src TEXT NOT NULL, dst TEXT NOT NULL, kind TEXT NOT NULL);
CREATE TABLE facts (platform TEXT NOT NULL, variant TEXT NOT NULL, key TEXT NOT NULL, value TEXT);
CREATE VIRTUAL TABLE gotcha_fts USING fts5(id UNINDEXED, title, aka, symptom, cause,
                                           tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE gotcha_cjk USING fts5(id UNINDEXED, title, aka, symptom, cause, tokenize = 'unicode61');
CREATE INDEX edges_src ON edges (src);
CREATE INDEX edges_dst ON edges (dst);
"""
# bumped when _fill changes what a stored row means (2: a gotcha's text rows share its node's rowid)
_FILL_REVISION = 2
_SHAPE = DDL + repr(sorted(schema.FRONTMATTER)) + repr(sources.URL_RULES + sources.DOC_RULES)
_FORMAT = f"{__version__}/{_FILL_REVISION}/{hashlib.sha256(_SHAPE.encode()).hexdigest()[:12]}"
_STOP = set("a an and are as at be been but by can could did do does for from had has have how i i'm im "
            "in is it its me my no not of on or our so that the then there they this to was we were what "
            "when where which who why will with would you your after just still got get some any also "
            "very really again".split())
# Chinese function-word pairs that say nothing about a failure ("是不是", "我的", "怎么").
_CJK_STOP = set("不是 是不 可以 一个 这个 那个 什么 怎么 为什 么会 我的 你的 了吗 吗？ 的是 是的 就是 还是 但是 "
                "因为 所以 如果 然后 已经 一直 现在 要下 么办 咋办 怎样 么样 哪个 哪家 请问 大家 一下 的话 要不 不要".split())
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
# "vast.ai", "c10d", "exit-code" stay whole; a sentence's final "." or "-" does not stick to a word
_WORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.+-]*[A-Za-z0-9_+])?")


# What a gotcha's lacking a number, or a fragment no gotcha uses, costs its share (see query_terms).
UNMATCHED_WEIGHT = 0.5
# A CJK pair no gotcha uses is often the seam between two words, but may be a word of another topic.
CJK_UNKNOWN_MISS = 1.0
# A term found only in a gotcha's cause (not its title, aka or symptom) is a passing mention.
CAUSE_ONLY = 0.5
# The fit thresholds were set on a knowledge base of this many gotchas. A word's idf grows with
# the count (a word only one gotcha uses weighs log(1 + (n - 0.5) / 1.5)), so absolute weights are
# compared in units of that word at this size: adding knowledge must not make off-topic text fit.
REFERENCE_GOTCHAS = 201


# search keeps this many times its limit from each table, so a gotcha ranked just past the limit in
# one table can still rise by its score in the other.
SEARCH_ROOM = 4


def unique_idf(n: int) -> float:
    """The weight of a word that exactly one of `n` gotchas uses."""
    return math.log(1 + (max(n, 1) - 0.5) / 1.5)


@dataclass(frozen=True)
class QueryTerm:
    term: str
    weight: float       # what it adds when a gotcha holds it
    miss_weight: float  # what it costs when a gotcha lacks it
    strong: frozenset   # gotchas with it in the title, an aka or the symptom
    anywhere: frozenset  # ... or in the cause

    def share(self, gid: str) -> float:
        return 1.0 if gid in self.strong else CAUSE_ONLY if gid in self.anywhere else 0.0


def coverage(terms: list[QueryTerm], gid: str) -> tuple[float, float]:
    """How much of what the user said this gotcha accounts for: (share from 0 to 1, the weight
    it holds). The share tells a real fit from a passing one; the weight tells a fit on specific
    terms from one on common words."""
    held = sum(t.weight * t.share(gid) for t in terms)
    missed = sum(t.miss_weight * (1 - t.share(gid)) for t in terms)
    return (held / (held + missed) if held + missed else 0.0), held


class Index:
    def __init__(self, db: sqlite3.Connection, root: Path):
        self.db, self.root = db, root
        self._count: int | None = None

    # ------------------------------------------------------------ open / build

    @classmethod
    def open(cls, root: Path, *, rebuild: bool = False) -> Index:
        """The index of `root`, built first when missing, stale or damaged. Any number of processes
        may call this at once: builders take turns under a lock, each builds into a private file
        and publishes it with an atomic rename, so a reader sees the old index or the new one."""
        root = root.resolve()
        path = cache_dir() / f"index-{hashlib.sha256(str(root).encode()).hexdigest()[:16]}.sqlite"
        current = _stat(root)
        if not rebuild and (db := _open_fresh(path, root, current, refresh=False)):
            return cls(db, root)
        from filelock import FileLock
        try:
            with FileLock(path.with_suffix(".lock")):
                # whoever held the lock before us may have just published a fresh index
                if not rebuild and (db := _open_fresh(path, root, current, refresh=True)):
                    return cls(db, root)
                _build(path, root, current)
        except OSError as e:
            raise cache_error(path.parent, e) from None
        return cls(sqlite3.connect(path), root)

    # ------------------------------------------------------------ queries

    def node(self, node_id: str) -> tuple[str, dict] | None:
        row = self.db.execute("SELECT kind, data FROM nodes WHERE id = ?", (node_id,)).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def gotcha(self, gid: str) -> Gotcha | None:
        node = self.node(gid)
        return Gotcha(**node[1]) if node and node[0] == "gotcha" else None

    def gotchas(self) -> list[Gotcha]:
        rows = self.db.execute("SELECT data FROM nodes WHERE kind = 'gotcha' ORDER BY file, line")
        return [Gotcha(**json.loads(r[0])) for r in rows]

    def probe(self, pid: str) -> Probe | None:
        node = self.node(pid)
        return Probe(**node[1]) if node and node[0] == "probe" else None

    def probes(self) -> list[Probe]:
        return [Probe(**json.loads(r[0])) for r in self.db.execute("SELECT data FROM nodes WHERE kind = 'probe' ORDER BY line")]

    def profile(self, slug: str) -> Profile | None:
        node = self.node(f"platform:{slug}")
        return _profile_from_json(node[1]) if node else None

    def profiles(self) -> list[Profile]:
        rows = self.db.execute("SELECT data FROM nodes WHERE kind = 'platform' ORDER BY id")
        return [_profile_from_json(json.loads(r[0])) for r in rows]

    def edges(self, node_id: str, direction: str = "out") -> list[tuple[str, str]]:
        col, other = ("src", "dst") if direction == "out" else ("dst", "src")
        rows = self.db.execute(f"SELECT {other}, kind FROM edges WHERE {col} = ? ORDER BY kind, {other}", (node_id,))
        return [(r[0], r[1]) for r in rows]

    def query_terms(self, text: str, among: Sequence[str]) -> list[QueryTerm]:
        """The user's words (and CJK bigrams), each with its weight and which of the gotchas `among`
        hold it: rare terms say more than common ones (bm25's idf), so `python` or `run` in a
        question about something else cannot make it fit. How many gotchas hold a term is counted
        in SQLite; only membership among the candidates comes back to Python (a common word is held
        by thousands of gotchas at scale)."""
        n = self._gotcha_count()
        scale = self.weight_scale()
        rowids = dict(self.db.execute(f"SELECT rowid, id FROM nodes WHERE id IN ({','.join('?' * len(among))})",
                                      tuple(among)))
        out = []
        for table, terms in (("gotcha_fts", _terms(text)), ("gotcha_cjk", _bigrams(text))):
            cjk = table == "gotcha_cjk"
            for term in terms:
                count, anywhere = self._held(table, f'"{term}"', rowids)
                _, strong = self._held(table, f'{{title aka symptom}} : "{term}"', rowids)
                idf = math.log(1 + (n - count + 0.5) / (count + 0.5))
                # A word the knowledge base never uses is evidence the text is about something else.
                # A number ("6h", "64", "40gb") is a detail of the user's run: strong evidence when a
                # gotcha holds it (exit 137, Xid 79), little when it does not; so is a fragment.
                if any(c.isdigit() for c in term) or not (count or cjk or len(term) >= 3):
                    miss = UNMATCHED_WEIGHT
                elif cjk and not count:  # often the seam between two words, not a word
                    miss = CJK_UNKNOWN_MISS * scale
                else:
                    miss = idf
                out.append(QueryTerm(term, idf, miss, frozenset(strong), frozenset(anywhere)))
        return out

    def weight_scale(self) -> float:
        """How much heavier a word weighs here than in the knowledge base the thresholds were set on."""
        return unique_idf(self._gotcha_count()) / unique_idf(REFERENCE_GOTCHAS)

    def _held(self, table: str, match: str, among: dict[int, str]) -> tuple[int, list[str]]:
        """How many gotchas match, and which of `among` (rowid -> ID) do: by rowid, which the
        full-text index holds, so no matching row's text is read."""
        marks = ",".join("?" * len(among)) or "NULL"
        count, held = self.db.execute(
            f"SELECT count(*), group_concat(CASE WHEN rowid IN ({marks}) THEN rowid END) FROM {table} WHERE {table} MATCH ?",
            (*among, match)).fetchone()
        return count, [among[int(r)] for r in held.split(",")] if held else []

    def _gotcha_count(self) -> int:
        # counting an FTS table reads all of it (18 ms at 10,000 gotchas); an open index never changes
        if self._count is None:
            self._count = self.db.execute("SELECT count(*) FROM gotcha_fts").fetchone()[0]
        return self._count

    def search(self, text: str, limit: int = 10) -> list[tuple[str, float]]:
        """Gotcha IDs ranked by FTS5 bm25 (higher is better): words, and CJK text as bigrams."""
        scores: dict[str, float] = {}
        w = SEARCH_WEIGHTS
        weights = f"0, {w['title']}, {w['aka']}, {w['symptom']}, {w['cause']}"
        for table, terms in (("gotcha_fts", _terms(text)), ("gotcha_cjk", _bigrams(text))):
            if not terms:
                continue
            query = " OR ".join(f'"{t}"' for t in terms)
            # best first and cut in SQLite: a common word matches thousands of gotchas, and each row
            # brought into Python costs more than ranking it. Room is left for the other table's sum.
            for gid, score in self.db.execute(
                    f"SELECT id, bm25({table}, {weights}) AS s FROM {table} WHERE {table} MATCH ? ORDER BY s LIMIT ?",
                    (query, limit * SEARCH_ROOM)):
                scores[gid] = scores.get(gid, 0.0) - score
        return sorted(scores.items(), key=lambda kv: -kv[1])[:limit]


def _terms(text: str) -> list[str]:
    # one letter or digit alone ("it's" -> "s", "df -h" -> "h") says nothing
    return list(dict.fromkeys(t.lower() for t in _WORD.findall(text) if len(t) > 1 and t.lower() not in _STOP))


def _bigrams(text: str) -> list[str]:
    """Chinese has no spaces for a word tokenizer, so CJK runs are indexed and queried as
    overlapping character pairs (the CJK-bigram scheme search engines use)."""
    grams = []
    for run in _CJK.findall(text):
        grams += [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]
    return list(dict.fromkeys(g for g in grams if g not in _CJK_STOP))


def _cjk_field(text: str) -> str:
    return " ".join(_bigrams(text))


def _profile_from_json(data: dict) -> Profile:
    from .model import Override
    data = dict(data)
    data["overrides"] = {v: {k: Override(**o) for k, o in keys.items()} for v, keys in data["overrides"].items()}
    return Profile(**data)


# ---------------------------------------------------------------- freshness

def _stat(root: Path) -> dict[str, list]:
    return {p.relative_to(root).as_posix(): [p.stat().st_mtime_ns, p.stat().st_size] for p in source_files(root)}


def _open_fresh(path: Path, root: Path, current: dict[str, list], *, refresh: bool) -> sqlite3.Connection | None:
    """A connection to the published index if it is whole and up to date, else None. Recording
    new mtimes writes to the published file, so only a lock holder does it (`refresh`)."""
    if not path.exists():
        return None
    db = sqlite3.connect(path)
    try:
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":  # ~3 ms; garbage in the file
            raise sqlite3.DatabaseError("quick_check")
        if _fresh(db, root, current, refresh=refresh):
            return db
    except sqlite3.DatabaseError:
        if refresh:  # said once, by the process that rebuilds it
            print(f"rgt: the index {path} was damaged; rebuilding it", file=sys.stderr)
    db.close()
    return None


def _build(path: Path, root: Path, current: dict[str, list]) -> None:
    kb = load_kb(root)
    blocking = kb.findings  # every finding is an error: a broken file is not indexed half-read
    if blocking:
        first = blocking[0]
        raise KnowledgeError(f"{first.code} {first.message}", where=f"{root / first.file}:{first.line}",
                             hint=f"run `rgt lint --kb {root}` to see all {len(blocking)} problem(s)")
    import tempfile  # only a build needs it: 4 ms off every query
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        db = sqlite3.connect(tmp)
        db.executescript(DDL)
        _fill(db, kb, current)
        db.commit()
        db.close()
        # a journal left by a crashed writer of the old file must not be replayed into the new one
        path.with_name(path.name + "-journal").unlink(missing_ok=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fresh(db: sqlite3.Connection, root: Path, current: dict[str, list], *, refresh: bool) -> bool:
    meta = dict(db.execute("SELECT key, value FROM meta"))
    if meta.get("format") != _FORMAT:
        return False
    stored = json.loads(meta.get("files", "{}"))
    if set(stored) != set(current):
        return False
    moved = [f for f, st in current.items() if stored[f][:2] != st]
    for f in moved:  # mtime moved: rebuild only if the content did
        if _sha(root / f) != stored[f][2]:
            return False
    if moved:
        if not refresh:
            return False  # recorded under the lock, by open()
        for f in moved:
            stored[f][:2] = current[f]
        try:  # only saves hashing next time: a reader holding the file must not make it a failure
            db.execute("UPDATE meta SET value = ? WHERE key = 'files'", (json.dumps(stored),))
            db.commit()
        except sqlite3.OperationalError:
            db.rollback()
    return True


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- fill

def _fill(db: sqlite3.Connection, kb: KnowledgeBase, current: dict[str, list]) -> None:
    root = Path(kb.root)
    files = {f: st + [_sha(root / f)] for f, st in current.items()}
    db.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("format", _FORMAT), ("files", json.dumps(files)),
    ])
    nodes: list[tuple] = []
    edges: list[tuple[str, str, str]] = []
    facts: list[tuple[str, str, str, str]] = []
    for p in kb.profiles.values():
        nodes.append((f"platform:{p.slug}", "platform", p.name, p.file, p.line, p.slug, json.dumps(p.to_json())))
        edges += [(f"platform:{p.slug}", gid, "owns") for gid in p.gotcha_ids]
        for variant in p.variant_names():
            facts += [(p.slug, variant, k, json.dumps(v)) for k, v in p.facts_for(variant).items()]
    for g in kb.gotchas.values():
        nodes.append((g.id, "gotcha", g.title, g.file, g.line, g.platform, json.dumps(g.to_json())))
        edges += [(g.id, s, "see") for s in g.see] + [(g.id, pr, "probe") for pr in g.probes]
    for pr in kb.probes.values():
        nodes.append((pr.id, "probe", pr.title, pr.file, pr.line, None, json.dumps(pr.to_json())))
    for page in kb.pages.values():
        nodes.append((page.file, "page", page.title, page.file, 1, None, json.dumps({"file": page.file, "title": page.title})))
        edges += [(page.file, target, "links") for target, _ in page.links]
    db.executemany("INSERT OR IGNORE INTO nodes VALUES (?, ?, ?, ?, ?, ?, ?)", nodes)
    # a gotcha's rows in both text tables share its node's rowid: a word's gotchas are then
    # counted and checked against the candidates without reading any row's text (query_terms)
    rows = [(g.id, g.title, " | ".join(g.aka), g.symptom, g.cause) for g in kb.gotchas.values()]
    for table, field in (("gotcha_fts", str), ("gotcha_cjk", _cjk_field)):
        db.executemany(f"INSERT INTO {table} (rowid, id, title, aka, symptom, cause) "
                       "VALUES ((SELECT rowid FROM nodes WHERE id = ?1), ?1, ?2, ?3, ?4, ?5)",
                       [(r[0], *map(field, r[1:])) for r in rows])
    db.executemany("INSERT INTO edges VALUES (?, ?, ?)", edges)
    db.executemany("INSERT INTO facts VALUES (?, ?, ?, ?)", facts)

