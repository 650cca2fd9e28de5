"""Every lint code has a failing sample that fires that code and no other; the clean sample is clean."""
from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pytest

from rgt.kb.lint import CODES, lint
from rgt.kb.parse import load_kb

from helpers import run

SAMPLES = Path(__file__).parent / "fixtures" / "lint"
CLEAN = SAMPLES / "clean"
TARGET = {".probes.md": "references/probes.md", ".universal.md": "references/gotchas_universal.md", ".md": "profiles/sample.md"}


def sample_for(code: str) -> tuple[Path, str]:
    for suffix, target in TARGET.items():
        path = SAMPLES / f"{code}{suffix}"
        if path.exists():
            return path, target
    raise AssertionError(f"lint code {code} has no failing sample under {SAMPLES}")


def kb_with(tmp_path: Path, sample: Path, target: str) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(CLEAN, root)
    shutil.copy(sample, root / target)
    return root


def test_clean_sample_has_no_findings():
    assert [str(f) for f in lint(load_kb(CLEAN))] == []


@pytest.mark.parametrize("code", sorted(CODES))
def test_each_code_fires_alone_on_its_sample(code, tmp_path):
    sample, target = sample_for(code)
    findings = lint(load_kb(kb_with(tmp_path, sample, target)))
    assert {f.code for f in findings} == {code}, [str(f) for f in findings]
    assert all(f.line >= 1 and f.file for f in findings)


def test_every_sample_file_names_a_registered_code():
    for path in SAMPLES.glob("*.md"):
        assert path.name.split(".")[0] in CODES, f"{path.name} names no registered code"


def test_cli_reports_file_line_code_and_exits_1(capsys, tmp_path):
    root = kb_with(tmp_path, *sample_for("LNK001"))
    r = run(capsys, "lint", "--kb", str(root))
    assert r.code == 1
    assert r.out.strip() == f"{root}/profiles/sample.md:42: LNK001 U99 is not defined anywhere"


def test_lint_never_rewrites_the_files_it_reads(capsys, tmp_path):
    root = kb_with(tmp_path, *sample_for("FM001"))
    before = tmp_path / "before"
    shutil.copytree(root, before)
    assert run(capsys, "lint", "--kb", str(root)).code == 1
    cmp = filecmp.dircmp(root, before)
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only


def test_several_problems_are_all_reported_with_their_lines(capsys, tmp_path):
    """The issue's acceptance: broken frontmatter, dangling U99, duplicate ID, missing Fix."""
    root = tmp_path / "kb"
    shutil.copytree(CLEAN, root)
    (root / "profiles" / "broken.md").write_text((SAMPLES / "FM001.md").read_text().replace("sample", "broken"))
    text = (CLEAN / "profiles" / "sample.md").read_text()
    text = text.replace("see U1.", "see U99.").replace("**Fix:** raise the timer before the run.\n\n", "")
    (root / "profiles" / "sample.md").write_text(text)
    uni = (root / "references" / "gotchas_universal.md")
    uni.write_text(uni.read_text() + "\n### GEN1 — Also here\n\n**Symptom:** a.\n\n**Cause:** b.\n\n**Fix:** c.\n\n"
                   "```rgt\naka: [x]\nsources:\n  - {doc: d, checked: 2026-11-22}\n```\n")
    r = run(capsys, "lint", "--kb", str(root), "--json")
    assert r.code == 1
    got = {(f["file"].split("/kb/")[-1], f["code"]) for f in r.json()["findings"]}
    assert ("profiles/broken.md", "FM001") in got
    assert ("profiles/sample.md", "LNK001") in got
    assert ("profiles/sample.md", "GOT002") in got
    assert any(code == "ID001" for _, code in got)
    assert all(f["line"] >= 1 for f in r.json()["findings"])


def test_bundled_knowledge_base_is_clean(capsys):
    r = run(capsys, "lint")
    assert r.code == 0, r.out


def test_a_name_users_write_belongs_to_one_platform(tmp_path):
    """Two profiles both `called` box: diagnose could not tell which one a user means."""
    root = tmp_path / "kb"
    shutil.copytree(CLEAN, root)
    text = (root / "profiles" / "sample.md").read_text().replace("prefixes: [GEN]", "prefixes: [GEN]\ncalled: [box]")
    (root / "profiles" / "sample.md").write_text(text)
    (root / "profiles" / "twin.md").write_text(text.replace("platform: sample", "platform: twin"))
    clashes = [(f.file, f.message) for f in lint(load_kb(root)) if f.code == "ID001" and "called" in f.message]
    assert clashes == [("profiles/twin.md", "`called` name `box` is also claimed by profiles/sample.md")]
    (root / "profiles" / "twin.md").write_text(text.replace("platform: sample", "platform: twin")
                                               .replace("called: [box]", "called: [Box]"))
    assert any(f.code == "FM002" and "lower-case" in f.message for f in lint(load_kb(root)))
