"""Many rgt processes at once on one cache: the index is built privately, published atomically,
and a reader never sees a half-built one (agents and the MCP server run rgt concurrently)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

RGT = Path(sys.executable).parent / "rgt"
CLEAN = Path(__file__).parent / "fixtures" / "lint" / "clean"


def _eight_searches(cache: Path, *kb: str) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "RGT_CACHE": str(cache)}
    procs = [subprocess.Popen([str(RGT), "search", "run vanished", "--json", *kb], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(8)]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=120), *p.communicate()) for p in procs]


def _all_agree(done: list[subprocess.CompletedProcess]) -> None:
    problems = [(d.returncode, d.stderr.strip()) for d in done if d.returncode != 0 or d.stderr.strip()]
    assert not problems, problems
    answers = {d.stdout for d in done}
    assert len(answers) == 1, "the eight processes answered differently"
    import json
    assert json.loads(answers.pop())["results"], "an empty answer that looks like success"


def test_eight_searches_on_a_cold_cache_all_succeed_alike(tmp_path):
    _all_agree(_eight_searches(tmp_path / "cache"))


def test_eight_searches_after_a_knowledge_change_all_succeed_alike(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(CLEAN, kb)
    cache = tmp_path / "cache"
    _all_agree(_eight_searches(cache, "--kb", str(kb)))
    profile = kb / "profiles" / "sample.md"
    profile.write_text(profile.read_text() + "\n")
    _all_agree(_eight_searches(cache, "--kb", str(kb)))


def _search(capsys, monkeypatch, cache: Path):
    from helpers import run
    monkeypatch.setenv("RGT_CACHE", str(cache))
    return run(capsys, "search", "run vanished", "--json")


def test_a_damaged_index_is_rebuilt_and_named_once(capsys, monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    good = _search(capsys, monkeypatch, cache)
    (index,) = cache.glob("index-*.sqlite")
    data = bytearray(index.read_bytes())
    middle = len(data) // 2 // 4096 * 4096 + 100  # inside a page, past its header
    data[middle:middle + 2000] = b"garbage!" * 250
    index.write_bytes(bytes(data))
    r = _search(capsys, monkeypatch, cache)
    assert r.code == 0 and r.out == good.out
    assert r.err == f"rgt: the index {index} was damaged; rebuilding it\n"
    again = _search(capsys, monkeypatch, cache)
    assert again.code == 0 and again.err == "" and again.out == good.out


def test_a_cache_that_is_a_file_is_one_usage_line(capsys, monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    cache.write_text("not a directory")
    r = _search(capsys, monkeypatch, cache)
    assert r.code == 2 and r.out == ""
    assert r.err.startswith(f"rgt: cannot use the index cache {cache}: ") and r.err.count("\n") == 1
    assert r.err.rstrip().endswith("(set RGT_CACHE to a writable directory)")


def _read_only_dir(tmp_path: Path) -> Path:
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    if not os.access(ro, os.W_OK):
        return ro
    import pytest
    # root writes through mode bits; sysfs refuses new files even to root
    if Path("/sys/kernel").is_dir() and not (Path("/sys/kernel") / "rgt-probe").exists():
        try:
            (Path("/sys/kernel") / "rgt-probe").touch()
        except OSError:
            return Path("/sys/kernel")
    pytest.skip("no directory here is read-only to this user")


def test_a_read_only_cache_is_one_usage_line(capsys, monkeypatch, tmp_path):
    cache = _read_only_dir(tmp_path)
    r = _search(capsys, monkeypatch, cache)
    assert r.code == 2 and r.out == ""
    assert r.err.startswith(f"rgt: cannot use the index cache {cache}: ") and r.err.count("\n") == 1
