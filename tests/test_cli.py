"""The query commands: --json shapes, exit codes, one-line errors, and the index's freshness."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import rgt.kb.index as index_mod

from helpers import run

CLEAN = Path(__file__).parent / "fixtures" / "lint" / "clean"


@pytest.fixture
def kb(tmp_path) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(CLEAN, root)
    return root


def test_platforms_json_lists_each_platform_with_its_variants(capsys):
    r = run(capsys, "platforms", "--json")
    assert r.code == 0
    data = r.json()
    assert data["version"] == 1 and data["kind"] == "platforms"
    by_slug = {p["platform"]: p for p in data["platforms"]}
    assert [v["name"] for v in by_slug["paperspace"]["variants"]] == ["gradient", "gradient-free", "core"]
    for p in data["platforms"]:
        assert set(p) == {"platform", "name", "kind", "prefixes", "variants", "gotchas", "file"}
        assert p["variants"] and all(set(v) == {"name", "description"} for v in p["variants"])


def test_show_gotcha_json_has_the_whole_record(capsys):
    r = run(capsys, "show", "PS2", "--json")
    assert r.code == 0
    g = r.json()["gotcha"]
    for key in ("symptom", "cause", "fix", "aka", "see", "sources"):
        assert g[key], key
    assert g["file"] == "profiles/paperspace.md" and g["line"] > 1
    assert g["location"] == f"profiles/paperspace.md:{g['line']}"
    assert all("checked" in s for s in g["sources"])


def test_show_brief_is_what_an_agent_acts_on_and_a_fraction_of_the_full_record(capsys):
    full = run(capsys, "show", "RP8", "--json")
    r = run(capsys, "show", "RP8", "--brief", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["kind"] == "gotcha_brief"
    g = data["gotcha"]
    assert set(g) == {"id", "title", "platform", "symptom", "cause", "fix", "see", "probes", "location"}
    whole = full.json()["gotcha"]
    assert [g[k] for k in ("symptom", "cause", "fix", "see")] == [whole[k] for k in ("symptom", "cause", "fix", "see")]
    assert len(r.out) < 0.7 * len(full.out)  # aka, sources, rules and probe commands are left out


def test_show_brief_keeps_only_the_probes_its_rules_read(capsys):
    """PS2 lists ps, uptime, kernel_log and cgroup_memory; its rules read OOM kills and the run,
    not uptime (a reading shown beside the verdict, deciding nothing)."""
    probes = run(capsys, "show", "PS2", "--brief", "--json").json()["gotcha"]["probes"]
    assert "uptime" not in probes and {"kernel_log", "ps"} <= set(probes)
    human = run(capsys, "show", "PS2", "--brief")
    assert human.code == 0 and "Fix:" in human.out and "source:" not in human.out and "aka:" not in human.out


def test_show_probe_lists_its_observations(capsys):
    r = run(capsys, "show", "uptime", "--json")
    assert r.code == 0
    assert "uptime_h" in r.json()["probe"]["observes"]


def test_search_finds_by_aka(capsys, kb):
    r = run(capsys, "search", "run", "vanished", "at", "6h", "--kb", str(kb), "--json")
    assert r.code == 0
    assert [h["id"] for h in r.json()["results"]][:1] == ["GEN1"]


def test_facts_and_compare_are_typed(capsys, kb):
    r = run(capsys, "facts", "sample", "--kb", str(kb), "--json")
    assert r.json()["facts"]["auto_shutdown_h"] == 6
    assert r.json()["facts"]["meter_stop_irreversible"] is True
    r = run(capsys, "compare", "sample", "sample", "--kb", str(kb), "--json", "--key", "meter_stop_verb")
    assert r.json()["platforms"] == {"sample": {"meter_stop_verb": "terminate", "ends_a_run": ["auto-shutdown 6 h (settable to 24 h)"]}}


@pytest.mark.parametrize("args,line", [
    (["show", "U999"], "rgt: no gotcha, probe or platform `U999` (IDs look like PS2, U3 or a probe such as kernel_log; try `rgt search TEXT`)"),
    (["facts", "nowhere"], None),
    (["compare", "sample"], "rgt: compare needs at least two platforms (e.g. rgt compare vastai runpod lambda)"),
    (["facts", "sample", "--variant", "turbo"], "rgt: platform `sample` has no variant `turbo` (variants: default)"),
])
def test_user_mistakes_end_in_one_line_and_exit_2(capsys, kb, args, line):
    r = run(capsys, *args, "--kb", str(kb))
    assert r.code == 2
    assert r.out == ""
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    if line:
        assert r.err.strip() == line
    else:
        assert r.err.startswith("rgt: unknown platform `nowhere` (known platforms: sample)")


def test_broken_user_kb_names_file_and_line_and_what_to_do(capsys, kb):
    (kb / "profiles" / "sample.md").write_text((CLEAN.parent / "FM001.md").read_text())
    r = run(capsys, "search", "anything", "--kb", str(kb))
    assert r.code == 2
    assert r.err.strip() == (f"rgt: {kb.resolve()}/profiles/sample.md:5: FM001 frontmatter is not valid YAML: "
                             f"expected ',' or ']', but got ':' (run `rgt lint --kb {kb.resolve()}` to see all 1 problem(s))")


def test_missing_kb_dir_is_a_usage_error(capsys, tmp_path):
    r = run(capsys, "platforms", "--kb", str(tmp_path / "nope"))
    assert r.code == 2 and r.err.startswith("rgt: knowledge base directory")


def test_second_search_with_unchanged_sources_does_not_rebuild(capsys, kb, monkeypatch):
    builds = []
    real = index_mod.load_kb
    monkeypatch.setattr(index_mod, "load_kb", lambda root: builds.append(root) or real(root))
    assert run(capsys, "search", "vanished", "--kb", str(kb)).code == 0
    assert run(capsys, "search", "vanished", "--kb", str(kb)).code == 0
    assert len(builds) == 1
    profile = kb / "profiles" / "sample.md"
    os.utime(profile, ns=(profile.stat().st_atime_ns, profile.stat().st_mtime_ns + 10**9))
    assert run(capsys, "search", "vanished", "--kb", str(kb)).code == 0
    assert len(builds) == 1, "a new mtime with the same content must not rebuild"
    profile.write_text(profile.read_text().replace("The box powers off at 6 h", "The box powers off at six hours"))
    r = run(capsys, "search", "six hours", "--kb", str(kb), "--json")
    assert len(builds) == 2
    assert r.json()["results"][0]["id"] == "GEN1"
