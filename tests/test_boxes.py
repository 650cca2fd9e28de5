"""Whole boxes, as the real tools print them, each with the verdicts an expert expects.

`tests/cases/boxes/<name>.yaml` holds one box: every probe's output (containers with fuser's
`kernel mount` rows and a notebook server, stock Ubuntu with Python daemons, a Slurm login node,
rgt's own probes in `ps`, a healthy box, an OOM-killed run, a fresh reboot, a container restart…)
and what users ask about it:

    box: what the machine is, in a sentence
    healthy: true            # nothing is broken: no sentence may confirm anything on it
    xfail: "..."             # optional, as on an ask below
    probes: {ps: "...", kernel_log: "...", ...}
    asks:
      - text: "run vanished overnight"
        platform: runpod                     # optional, as --platform
        select: {match: train.py}            # optional: --pid / --match / --workdir
        confirmed: [U3]                      # each confirmed, its evidence quoting this box
        ruled_out: [GEN8]
        not_confirmed: [U9, U43]             # an expert would not promise these
        why: "..."                           # optional: the expert's reason, where it is not obvious
        not_ruled_out: [U9]                  # the box cannot exclude these (optional)
        possible: [SLURM11]                  # among the candidates, and undecided (optional)
        xfail: "one line: why the engine is wrong"   # optional: the expert is right, the engine not yet
        xfail_missing: "..."                 # optional, the same for what a `possible` verdict lacks

The box is replayed through the capture transport, so the same parsers, run identification and
rules decide as on a live box.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from rgt import api
from rgt.diagnose import transport as tr
from rgt.diagnose.diagnosis import PASTED, diagnose
from rgt.diagnose.run import Selector

CASES = Path(__file__).parent / "cases"
BOXES = {p.stem: YAML(typ="safe").load(p.read_text()) for p in sorted((CASES / "boxes").glob("*.yaml"))}
LIMIT = 20  # deep enough that an expected ID is decided, not merely unranked


def capture_of(box: dict, path: Path, host: str = "box") -> Path:
    stdout = "".join(f"\n@@RGT BEGIN {pid}@@\n{text}\n@@RGT END {pid} rc=0@@\n" for pid, text in box["probes"].items())
    path.write_text(json.dumps({"version": 1, "host": host, "rc": 0, "stdout": stdout, "stderr": "", "command": "bash -s"}))
    return path


def ask(index, box_path: Path, text: str, platform: str | None = None, select: dict | None = None) -> dict:
    profile = api.require_profile(index, platform) if platform else None
    select = select or {}
    return diagnose(index, text, profile=profile, transports=[tr.CaptureTransport(box_path)], limit=LIMIT,
                    workdir=select.get("workdir"), selector=Selector(**select))


def all_asks():
    for name, box in BOXES.items():
        for i, a in enumerate(box.get("asks", [])):
            yield pytest.param(name, a, id=f"{name}:{i}:{a['text'][:40]}")


def test_the_corpus_is_whole():
    assert len(BOXES) >= 20, f"{len(BOXES)} boxes; the corpus needs at least 20"
    assert sum(1 for b in BOXES.values() if b.get("healthy")) >= 3, "at least three healthy boxes"
    for name, box in BOXES.items():
        assert box.get("box") and box.get("probes"), f"{name}: needs `box` and `probes`"
        assert "ps" in box["probes"], f"{name}: every probed box answers the ps probe"
        assert box.get("asks") or box.get("healthy"), f"{name}: ask it something"


def expected_or_xfail(check, a: dict) -> None:
    """An ask marked `xfail` keeps the expert's expectation; its failure is recorded, not raised."""
    try:
        check()
    except AssertionError as e:
        if a.get("xfail"):
            pytest.xfail(f"{a['xfail']} [{str(e).splitlines()[0]}]")
        raise


@pytest.mark.parametrize("name,a", list(all_asks()))
def test_each_box_gives_the_expert_verdicts(name, a, tmp_path):
    box = BOXES[name]
    result = ask(api.open_index(), capture_of(box, tmp_path / "cap.json"), a["text"], a.get("platform"), a.get("select"))
    expected_or_xfail(lambda: verdicts_match(box, a, result), a)


def verdicts_match(box: dict, a: dict, result: dict) -> None:
    by_id = {c["id"]: c for c in result["candidates"]}
    shown = "\n".join(box["probes"].values())
    for gid in a.get("confirmed", []):
        assert gid in by_id, f"{gid} is not among the candidates: {list(by_id)}"
        c = by_id[gid]
        assert c["verdict"] == "confirmed", f"{gid}: {c['verdict']} ({c['why']}; missing {c['missing']})"
        from_box = [e for e in c["evidence"] if e.get("host") not in (None, PASTED)]
        printed = [e for e in from_box if not e.get("derived")]
        assert printed, f"{gid}: confirmed without a line the box printed: {c['evidence']}"
        for e in printed:  # a derived entry is rgt's summary ("no process matches ..."), marked so
            assert e["line"].strip() in shown, f"{gid}: evidence not from the box: {e}"
    for gid in a.get("ruled_out", []):
        assert gid in by_id, f"{gid} is not among the candidates: {list(by_id)}"
        assert by_id[gid]["verdict"] == "ruled_out", f"{gid}: {by_id[gid]['verdict']}"
    for gid in a.get("not_confirmed", []):
        if gid in by_id:
            assert by_id[gid]["verdict"] != "confirmed", f"{gid} confirmed from {by_id[gid]['evidence']}"
    for gid in a.get("not_ruled_out", []):
        if gid in by_id:
            assert by_id[gid]["verdict"] != "ruled_out", f"{gid} ruled out from {by_id[gid]['evidence']}"
    for gid in a.get("possible", []):
        assert gid in by_id, f"{gid} is not among the candidates: {list(by_id)}"
        assert by_id[gid]["verdict"] == "possible", f"{gid}: {by_id[gid]['verdict']} from {by_id[gid]['evidence']}"


@pytest.mark.parametrize("name,a", list(all_asks()))
def test_every_possible_candidate_says_what_would_decide_it(name, a, tmp_path):
    box = BOXES[name]
    result = ask(api.open_index(), capture_of(box, tmp_path / "cap.json"), a["text"], a.get("platform"), a.get("select"))

    def check():
        for c in result["candidates"]:
            if c["verdict"] == "possible":
                assert c["missing"], f"{c['id']}: possible, but nothing says what would decide it"
                assert all(m["why"] for m in c["missing"]), c["missing"]
    expected_or_xfail(check, {"xfail": a.get("xfail_missing")})


def _sentences() -> list[tuple[str, str | None]]:
    out = []
    for name in ("phrasings", "phrasings_blind"):
        data = YAML(typ="safe").load((CASES / f"{name}.yaml").read_text())
        for key, cases in data.items():
            for case in cases:
                if isinstance(case, dict) and "text" in case:
                    out.append((case["text"], case.get("platform")))
                elif isinstance(case, str):
                    out.append((case, None))
    return out


@pytest.mark.parametrize("name", [n for n, b in BOXES.items() if b.get("healthy")])
def test_a_healthy_box_confirms_nothing_whatever_is_asked(name, tmp_path):
    """Every sentence users wrote, replayed against a box where nothing is broken."""
    index = api.open_index()
    path = capture_of(BOXES[name], tmp_path / "cap.json")
    false = []
    for text, platform in _sentences():
        result = ask(index, path, text, platform)
        false += [f"{c['id']} for {text!r}: {c['evidence'][:2]}" for c in result["candidates"] if c["verdict"] == "confirmed"]
    def check():
        assert not false, f"{len(false)} confirmations on a healthy box:\n" + "\n".join(false[:15])
    expected_or_xfail(check, BOXES[name])  # a healthy box may carry `xfail` too
