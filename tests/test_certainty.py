"""Every fact says how sure it is: each source has a kind, and a figure resting on no official
page is marked unverified wherever rgt shows it."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rgt.api import observable
from rgt.kb.lint import lint
from rgt.kb.parse import load_kb
from rgt.kb.paths import bundled_kb
from rgt.kb.sources import KINDS, inferred_kind

from helpers import run

CLEAN = Path(__file__).parent / "fixtures" / "lint" / "clean"


def test_every_bundled_source_has_a_known_kind():
    kb = load_kb(bundled_kb())
    cited = [(p.file, s) for p in kb.profiles.values() for s in p.sources]
    cited += [(g.file, s) for g in kb.gotchas.values() for s in g.sources]
    assert len(cited) > 500
    unknown = [(f, s) for f, s in cited if s.get("kind") not in KINDS]
    assert unknown == []
    assert {s["kind"] for _, s in cited} == set(KINDS)


@pytest.mark.parametrize("source, kind", [
    ({"url": "https://github.com/pytorch/pytorch/issues/1"}, "user-report"),
    ({"url": "https://github.com/vast-ai/vast-cli/blob/abc/docs/cli/commands.md"}, "official"),
    ({"url": "https://github.com/someone/notes/blob/main/gpu.md"}, "third-party"),
    ({"url": "https://docs.runpod.io/pods/storage"}, "official"),
    ({"url": "https://discuss.pytorch.org/t/x/1"}, "user-report"),
    ({"url": "https://www.kaggle.com/docs/notebooks"}, "official"),
    ({"url": "https://www.kaggle.com/discussions/general/1"}, "user-report"),
    ({"url": "https://vast.ai.example.com/docs"}, "third-party"),  # a look-alike host is nobody's own page
    ({"doc": "rgt seed profile autodl"}, "seed"),
    ({"doc": "a PDF someone sent"}, None),  # a document must say what it is
])
def test_kinds_are_inferred_from_the_documented_rules(source, kind):
    assert inferred_kind(source) == kind


TIMER = "  - {url: https://example.org/sample-box/timer, checked: 2026-11-22}"
PRICING = "sources:\n  - {url: https://example.org/sample-box/pricing, kind: official, checked: 2026-11-22}"


def _kb_edited(tmp_path: Path, old: str, new: str) -> Path:
    """The clean knowledge base with one passage of its sample profile rewritten."""
    root = tmp_path / "kb"
    shutil.copytree(CLEAN, root)
    page = root / "profiles" / "sample.md"
    assert old in page.read_text()
    page.write_text(page.read_text().replace(old, new, 1))
    return root


@pytest.mark.parametrize("old, new, code, says", [
    (TIMER, "  - {url: https://example.org/t, kind: blog, checked: 2026-11-22}", "SRC003",
     "kind `blog` is not one of: official, third-party"),
    (TIMER, '  - {doc: "a PDF someone sent", checked: 2026-11-22}', "SRC003", "say its `kind:`"),
    (TIMER, "  - {url: https://example.org/t, kind: [official], checked: 2026-11-22}", "SRC003",
     "source kind `['official']` is not one of"),
    (PRICING, 'unverified: {auto_shutdown: "x"}\n' + PRICING, "FM002", "`auto_shutdown` is not a fact key"),
    (PRICING, "unverified: {auto_shutdown_h: ''}\n" + PRICING, "FM002", "say why `auto_shutdown_h` is unverified"),
    (PRICING, "unverified: [auto_shutdown_h]\n" + PRICING, "FM002", "a mapping of fact key to why"),
])
def test_lint_refuses_a_kind_or_an_unverified_entry_it_cannot_read(tmp_path, old, new, code, says):
    findings = lint(load_kb(_kb_edited(tmp_path, old, new)), observable())
    assert [f.code for f in findings] == [code], [str(f) for f in findings]
    assert says in findings[0].message, findings[0].message


def test_an_explicit_kind_overrides_the_rules(tmp_path, capsys):
    root = _kb_edited(tmp_path, TIMER, "  - {url: https://docs.runpod.io/x, kind: third-party, checked: 2026-11-22}")
    r = run(capsys, "show", "GEN1", "--json", "--kb", str(root))
    assert r.code == 0, r.err
    assert [s["kind"] for s in r.json()["gotcha"]["sources"]] == ["third-party"]


def test_show_json_gives_each_source_its_kind(capsys):
    r = run(capsys, "show", "AD1", "--json")
    assert r.code == 0, r.err
    sources = r.json()["gotcha"]["sources"]
    assert sources and all(s["kind"] in KINDS for s in sources)
    r = run(capsys, "show", "vastai", "--json")
    assert all(s["kind"] in KINDS for s in r.json()["platform"]["sources"])


# ---------------------------------------------------------------- unverified facts

WHY = "the vendor's two pages disagree"


def test_an_unverified_clock_is_marked_in_facts_show_plan_and_compare(tmp_path, capsys):
    root = _kb_edited(tmp_path, PRICING, f'unverified: {{auto_shutdown_h: "{WHY}"}}\n' + PRICING)
    kb = ("--kb", str(root))
    assert lint(load_kb(root), observable()) == []
    facts = run(capsys, "facts", "sample", "--json", *kb).json()
    assert facts["unverified"] == {"auto_shutdown_h": WHY}
    platform = run(capsys, "show", "sample", "--json", *kb).json()["platform"]
    assert platform["unverified"] == {"auto_shutdown_h": WHY}
    r = run(capsys, "plan", "--platform", "sample", "--hours", "10", "--json", *kb)
    clock = next(c for c in r.json()["clocks"] if c["clock"] == "auto_shutdown_h")
    assert clock["unverified"] == f"auto_shutdown_h: {WHY}" and f"(unverified: {WHY})" in clock["says"]
    assert r.json()["unverified"] == {"auto_shutdown_h": WHY}
    compare = run(capsys, "compare", "sample", "sample", "--json", *kb).json()
    assert compare["unverified"]["sample"] == {"auto_shutdown_h": WHY}
    # and in the words a person reads
    assert f"unverified: {WHY}" in run(capsys, "plan", "--platform", "sample", "--hours", "10", *kb).out
    for command in (["facts", "sample"], ["show", "sample"], ["compare", "sample", "sample"]):
        out = run(capsys, *command, *kb).out
        assert "auto_shutdown_h" in out and WHY in out, (command, out)


def test_a_verified_clock_carries_no_marker(tmp_path, capsys):
    r = run(capsys, "plan", "--platform", "sample", "--hours", "10", "--json", "--kb", str(CLEAN))
    assert all(c["unverified"] is None for c in r.json()["clocks"]) and r.json()["unverified"] == {}


def test_facts_resting_on_no_official_page_are_all_marked(tmp_path, capsys):
    root = _kb_edited(tmp_path, PRICING, 'sources:\n  - {doc: "rgt seed profile sample", checked: 2026-11-22}')
    facts = run(capsys, "facts", "sample", "--json", "--kb", str(root)).json()
    assert set(facts["unverified"]) == set(facts["facts"])
    assert "no official page" in facts["unverified"]["auto_shutdown_h"]


def test_the_bundled_figures_the_prose_calls_unverified_are_marked(capsys):
    assert "4048" in run(capsys, "facts", "vastai", "--json").json()["unverified"]["onstart_limit_bytes"]
    assert "onstart_limit_bytes" in run(capsys, "show", "vastai", "--json").json()["platform"]["unverified"]
    assert "inode_cap" in run(capsys, "facts", "autodl", "--json").json()["unverified"]


def test_a_gotcha_with_no_official_source_is_marked_in_show(capsys):
    ad6 = run(capsys, "show", "AD6", "--json").json()["gotcha"]
    assert not any(s["kind"] == "official" for s in ad6["sources"])
    assert ad6["unverified"].startswith("no official source")
    assert run(capsys, "show", "AD10", "--json").json()["gotcha"]["unverified"] is None
