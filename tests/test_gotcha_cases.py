"""Every gotcha that carries rules has a case file proving each verdict it can give; one test runs
them all, and the catalog test fails when a gotcha with rules has none. A case's `said_*` names and
platform facts are what the user told; everything else is what the box showed, and only that can
confirm."""
from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from rgt import rules
from rgt.kb import schema
from rgt.kb.paths import bundled_kb
from rgt.kb.parse import load_kb

CASES = Path(__file__).parent / "cases" / "gotchas"
KB = load_kb(bundled_kb())
RULED = sorted(g.id for g in KB.gotchas.values() if g.confirm or g.rule_out)


def load_cases(gid: str) -> list[dict]:
    data = YAML(typ="safe").load((CASES / f"{gid}.yaml").read_text())
    return data["cases"]


def all_cases():
    for path in sorted(CASES.glob("*.yaml")):
        for case in YAML(typ="safe").load(path.read_text())["cases"]:
            yield pytest.param(path.stem, case, id=f"{path.stem}:{case['name']}")


@pytest.mark.parametrize("gid", RULED)
def test_every_gotcha_with_rules_has_a_case_file(gid):
    assert (CASES / f"{gid}.yaml").exists(), f"{gid} has confirm/rule_out but no tests/cases/gotchas/{gid}.yaml"


@pytest.mark.parametrize("gid,case", list(all_cases()))
def test_case_gives_its_verdict(gid, case):
    g = KB.gotchas.get(gid)
    assert g is not None, f"case file for unknown gotcha {gid}"
    assert case["verdict"] in (rules.CONFIRMED, rules.RULED_OUT, rules.POSSIBLE)
    facts = case.get("facts") or {}
    told = {k: v for k, v in facts.items() if k.startswith("said_") or k in schema.FACT_KEYS}
    seen = {k: v for k, v in facts.items() if k not in told}
    assert rules.verdict(g.confirm, g.rule_out, told, seen) == case["verdict"]


def test_each_case_file_reaches_more_than_one_verdict():
    for path in CASES.glob("*.yaml"):
        verdicts = {c["verdict"] for c in load_cases(path.stem)}
        assert len(verdicts) >= 2, f"{path.name} proves only {verdicts}"
