"""Preflight: clocks that end a job, what the stop verb destroys, the cadence, what a stop bills."""
from __future__ import annotations

import math

from rgt.plan import young_daly_seconds

from helpers import run


def test_young_daly_matches_the_worked_example():
    # references/spot-resilience.md: C = 90 s, mtbf = 6 h -> about 1,972 s
    assert math.isclose(young_daly_seconds(6 * 3600, 90), 1971.8, rel_tol=1e-3)


def test_free_notebook_cap_ends_a_20h_job_and_exits_1(capsys):
    r = run(capsys, "plan", "--platform", "paperspace", "--variant", "gradient-free", "--hours", "20", "--json")
    assert r.code == 1
    ends = r.json()["ends_run"]
    assert [c["clock"] for c in ends] == ["session_cap_h"] and ends[0]["hours"] == 6


def test_irreversible_stop_without_durable_mount_says_it_destroys_the_only_copy(capsys):
    r = run(capsys, "plan", "--platform", "vastai", "--hours", "48", "--spot", "--json")
    assert r.code == 0
    data = r.json()
    assert data["stop"]["destroys_only_copy"] is True and data["stop"]["verb"] == "destroy"
    assert any(c["clock"] == "spot" for c in data["clocks"])


def test_autodl_names_the_15_day_release_and_stopped_storage(capsys):
    r = run(capsys, "plan", "--platform", "autodl", "--hours", "100", "--json")
    data = r.json()
    assert any(c["clock"] == "auto_release_h" and c["hours"] == 360 for c in data["clocks"])
    assert "AD10" in [g["id"] for g in data["related"]]
    assert data["stop"]["destroys_only_copy"] is False


def test_checkpoint_interval_is_capped_by_a_known_clock(capsys):
    r = run(capsys, "plan", "--platform", "paperspace", "--variant", "gradient-free", "--hours", "5",
            "--mtbf-h", "1000", "--checkpoint-cost-s", "600", "--json")
    assert r.json()["checkpoint"]["interval_s"] <= 6 * 3600
    assert r.json()["checkpoint"]["assumptions"] == []


def test_a_paid_notebook_raises_its_timer_and_a_free_one_hits_the_cap(capsys):
    """Paperspace: the 6 h cap belongs to free machine types; a paid notebook stops at its 12 h
    auto-shutdown timer, which can be raised to a week."""
    paid = run(capsys, "plan", "--platform", "paperspace", "--variant", "gradient", "--hours", "20", "--json")
    assert paid.code == 0, paid.err
    clocks = {c["clock"]: c for c in paid.json()["clocks"]}
    assert "session_cap_h" not in clocks and not paid.json()["ends_run"]
    assert clocks["auto_shutdown_h"]["hours"] == 12 and "raise it above 20 h" in clocks["auto_shutdown_h"]["says"]
    free = run(capsys, "plan", "--platform", "paperspace", "--variant", "gradient-free", "--hours", "20", "--json")
    assert free.code == 1
    assert [(c["clock"], c["hours"]) for c in free.json()["ends_run"]] == [("session_cap_h", 6)]


def test_without_a_variant_every_variants_clocks_say_whom_they_apply_to(capsys):
    r = run(capsys, "plan", "--platform", "paperspace", "--hours", "20", "--json")
    assert r.code == 0, "the run ends on the free tier only, so the plan does not fail as a whole"
    data = r.json()
    assert data["variant"] is None and set(data["variants"]) == {"gradient", "gradient-free", "core"}
    assert data["ends_run_on"] == ["gradient-free"] and data["ends_run"] == []
    cap = next(c for c in data["clocks"] if c["clock"] == "session_cap_h")
    assert cap["variant"] == "gradient-free" and "free machine type" in cap["applies_to"]
    human = run(capsys, "plan", "--platform", "paperspace", "--hours", "20")
    free = human.out.split("gradient-free — ", 1)[1].split("\n\n", 1)[0]
    assert "ENDS THE RUN  hard session cap of 6 h" in free


def test_a_host_set_rental_end_is_asked_for_then_checked(capsys):
    """vast.ai: every rental ends at a date its host sets; plan asks for it, then decides."""
    r = run(capsys, "plan", "--platform", "vastai", "--hours", "200", "--json")
    clock = next(c for c in r.json()["clocks"] if c["clock"] == "rental_end")
    assert r.code == 0 and clock["ends_run"] is False and "--rental-left-h" in clock["says"]
    r = run(capsys, "plan", "--platform", "vastai", "--hours", "200", "--rental-left-h", "120", "--json")
    assert r.code == 1 and [c["clock"] for c in r.json()["ends_run"]] == ["rental_end"]
    assert r.json()["checkpoint"]["interval_s"] <= 120 * 3600
    r = run(capsys, "plan", "--platform", "vastai", "--hours", "100", "--rental-left-h", "120", "--json")
    assert r.code == 0 and not r.json()["ends_run"]
    r = run(capsys, "plan", "--platform", "lambda", "--hours", "200", "--rental-left-h", "120", "--json")
    assert all(c["clock"] != "rental_end" for c in r.json()["clocks"]), "Lambda rentals have no host-set end"


def test_a_durable_dir_taken_from_the_environment_is_shown_readably(capsys):
    """Lambda's DURABLE_DIR is `/home/ubuntu/${LAMBDA_FS:?…}/rgt`: the plan names the variable
    the user must export instead of printing shell syntax."""
    r = run(capsys, "plan", "-p", "lambda", "--hours", "10")
    assert "${" not in r.out and ":?" not in r.out, r.out
    assert "/home/ubuntu/<LAMBDA_FS>/rgt" in r.out
    assert "LAMBDA_FS comes from the environment variable of that name, which must be set" in r.out
    data = run(capsys, "plan", "-p", "lambda", "--hours", "10", "--json").json()
    assert data["stop"]["durable_dir"] == "/home/ubuntu/<LAMBDA_FS>/rgt"
    assert data["stop"]["durable_dir_env"] == [{"name": "LAMBDA_FS", "required": True, "default": None}]


def test_shell_values_read_as_placeholders():
    from rgt.plan import readable_shell_value
    assert readable_shell_value("/data/${FS:-scratch}/x") == (
        "/data/<FS>/x", [{"name": "FS", "required": False, "default": "scratch"}])
    assert readable_shell_value("$HOME/ckpt") == ("<HOME>/ckpt", [{"name": "HOME", "required": False, "default": None}])
    assert readable_shell_value("/plain/path") == ("/plain/path", [])


def test_vastai_names_the_reversible_stop_and_what_it_still_bills(capsys):
    """vast.ai's meter stop is `destroy`, but a user who wants to keep the data stops the instance:
    the plan names that verb and what keeps billing while stopped (storage, VAST1)."""
    stop = run(capsys, "plan", "--platform", "vastai", "--hours", "48", "--json").json()["stop"]
    assert stop["reversible_stop"]["verb"] == "stop"
    assert "container-disk" in stop["reversible_stop"]["still_bills"]
    assert "`stop`" in stop["reversible_stop"]["says"] and "container-disk" in stop["reversible_stop"]["says"]
    # where terminate is the only way out, there is no reversible stop to name
    lam = run(capsys, "plan", "--platform", "lambda", "--hours", "48", "--json").json()["stop"]
    assert lam["reversible_stop"]["verb"] is None and "no reversible stop" in lam["reversible_stop"]["says"]


def test_every_profile_names_its_reversible_stop_exactly_when_one_exists(capsys):
    for p in run(capsys, "platforms", "--json").json()["platforms"]:
        for v in p["variants"]:
            args = ["facts", p["platform"]] + (["--variant", v["name"]] if v["name"] != "default" else [])
            f = run(capsys, *args, "--json").json()["facts"]
            assert (f["stop_verb"] is not None) == f["stop_verb_exists"], (p["platform"], v["name"])
            if not f["meter_stop_irreversible"] and f["stop_verb_exists"]:
                assert f["stop_verb"] == f["meter_stop_verb"], p["platform"]
                assert f["stop_verb_bills"] == f["stop_still_bills"], (p["platform"], v["name"])
