"""Ranking on phrasings in users' words (English and Chinese), and honest no-match on the rest."""
from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from rgt import api
from rgt.diagnose.diagnosis import diagnose

SET = YAML(typ="safe").load((Path(__file__).parent / "cases" / "phrasings.yaml").read_text())
TOP = 3
MIN_HIT_RATE = 0.85


def _run(text: str, platform: str | None = None) -> dict:
    index = api.open_index()
    profile = api.require_profile(index, platform) if platform else None
    return diagnose(index, text, profile=profile)


def test_user_phrasings_rank_the_right_gotcha_in_the_top_three():
    misses = []
    for case in SET["phrasings"]:
        result = _run(case["text"], case.get("platform"))
        top = [c["id"] for c in result["candidates"][:TOP]]
        if result["no_match"] or not set(top) & set(case["expect"]):
            misses.append(f"{case['text']!r}: got {top}, want one of {case['expect']}")
    rate = 1 - len(misses) / len(SET["phrasings"])
    assert rate >= MIN_HIT_RATE, f"hit rate {rate:.0%}; misses:\n" + "\n".join(misses)


def test_chinese_phrasings_rank_as_well_as_english():
    chinese = [c for c in SET["phrasings"] if any("\u4e00" <= ch <= "\u9fff" for ch in c["text"])]
    assert len(chinese) >= 5
    hits = sum(bool({c["id"] for c in _run(c_["text"], c_.get("platform"))["candidates"][:TOP]} & set(c_["expect"]))
               for c_ in chinese)
    assert hits / len(chinese) >= MIN_HIT_RATE


def test_off_topic_text_is_reported_as_no_match():
    for text in SET["off_topic"]:
        result = _run(text)
        assert result["no_match"], f"{text!r} matched {[c['id'] for c in result['candidates'][:3]]}"


def test_an_aka_hit_outranks_a_passing_mention_in_a_cause():
    """The weights favour how users say it: PS2's aka beats gotchas that merely mention hours."""
    result = _run("run vanished at 6h", "paperspace")
    assert result["candidates"][0]["id"] == "PS2"
