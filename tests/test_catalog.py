"""The ID catalog: IDs match their prefixes, are unique, and the set only grows."""
from __future__ import annotations

from pathlib import Path

from rgt.kb import schema
from rgt.kb.parse import load_kb
from rgt.kb.paths import bundled_kb

KNOWN = Path(__file__).parent / "fixtures" / "known_ids.txt"


def test_every_id_has_a_known_prefix_and_its_owner_claims_it():
    kb = load_kb(bundled_kb())
    for g in kb.gotchas.values():
        prefix = schema.ID_RE.fullmatch(g.id).group(1)
        if g.platform:
            assert prefix in kb.profiles[g.platform].prefixes, g.id


def test_ids_only_grow():
    """known_ids.txt lists every ID ever published; none may disappear (append new ones)."""
    kb = load_kb(bundled_kb())
    published = [line.strip() for line in KNOWN.read_text().splitlines() if line.strip() and not line.startswith("#")]
    missing = [i for i in published if i not in kb.gotchas]
    assert not missing, f"published IDs no longer defined: {missing}"


def test_universal_catalog_is_complete():
    kb = load_kb(bundled_kb())
    assert {f"U{n}" for n in range(1, 45)} <= set(kb.gotchas)
    assert {f"MN{n}" for n in range(1, 7)} <= set(kb.gotchas)


def test_at_least_fifteen_platforms_each_with_five_gotchas_of_its_own():
    kb = load_kb(bundled_kb())
    assert len(kb.profiles) >= 15
    thin = {slug: len(p.gotcha_ids) for slug, p in kb.profiles.items() if len(p.gotcha_ids) < 5}
    assert not thin, f"profiles with fewer than five gotchas of their own: {thin}"


def test_compare_answers_stop_verb_reversibility_billing_and_clocks(capsys):
    from helpers import run
    r = run(capsys, "compare", "vastai", "runpod", "lambda", "paperspace", "autodl", "--json")
    assert r.code == 0
    cols = r.json()["platforms"]
    assert set(cols) == {"vastai", "runpod", "lambda", "paperspace", "autodl"}
    for facts in cols.values():
        assert {"meter_stop_verb", "meter_stop_irreversible", "stop_still_bills", "ends_a_run"} <= set(facts)
    assert cols["vastai"]["meter_stop_irreversible"] is True and cols["autodl"]["meter_stop_irreversible"] is False
    assert any("360 h" in c for c in cols["autodl"]["ends_a_run"])


def test_compare_rows_carry_the_gotchas_behind_them_and_hints_for_unfixed_values(capsys):
    """A week-long stop on RunPod: RP8 (a $0 balance stops Pods, then deletes data) and RP1 (the Pod
    comes back with zero GPUs) sit behind the stop rows; vast.ai's host-dependent storage price and
    Lambda's null one each say why."""
    from helpers import run
    data = run(capsys, "compare", "runpod:secure", "vastai", "lambda", "--json").json()
    see = data["see"]
    assert {"RP1", "RP8"} <= set(see["runpod:secure"]["stop_verb_bills"])
    assert "VAST1" in see["vastai"]["stopped_storage_per_gb_month"]
    assert all(i.startswith("RP") for ids in see["runpod:secure"].values() for i in ids)
    assert see["runpod:secure"]["spot_grace"] and "RP8" not in see["runpod:secure"]["spot_grace"]
    hints = data["hints"]
    assert "host" in hints["vastai"]["stopped_storage_per_gb_month"]
    assert "VAST1" in hints["vastai"]["stopped_storage_per_gb_month"]
    assert "terminate" in hints["lambda"]["stopped_storage_per_gb_month"]
    assert "stopped_storage_per_gb_month" not in hints["runpod:secure"]  # a plain number needs no hint
