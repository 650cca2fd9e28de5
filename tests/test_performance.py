"""What the speed work of issue 19 promises that can be checked without a clock: compact JSON for
programs, compiled templates kept, and no import a command does not need. Speed itself is measured
by tests/bench/run.py, never asserted here."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RGT = Path(sys.executable).parent / "rgt"


def rgt(*args: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env={**os.environ, "RGT_CACHE": str(cache)})


def test_json_to_a_pipe_is_one_compact_line(tmp_path):
    r = rgt("-m", "rgt", "search", "pkill over ssh", "--json", cache=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1 and ", " not in r.stdout.split('"query"')[0]
    assert json.loads(r.stdout)["results"]


def test_render_keeps_compiled_templates_in_the_cache(tmp_path):
    cache = tmp_path / "cache"
    r = rgt("-m", "rgt", "render", "--platform", "vastai", "--job", str(REPO / "examples" / "job.yaml"),
            "--out", str(tmp_path / "out"), cache=cache)
    assert r.returncode == 0, r.stderr
    assert list((cache / "jinja").iterdir()), "no compiled template was kept"


def test_search_with_rgt_cache_set_imports_no_platformdirs_nor_threads(tmp_path):
    rgt("-m", "rgt", "search", "ssh", cache=tmp_path)  # build the index first
    r = rgt("-X", "importtime", "-m", "rgt", "diagnose", "run vanished at 6h", "--platform", "paperspace", cache=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "platformdirs" not in imported and "concurrent.futures" not in imported
    assert "paramiko" not in imported  # no host: no SSH


def test_search_imports_no_other_command(tmp_path):
    rgt("-m", "rgt", "search", "ssh", cache=tmp_path)  # build the index first
    driver = ("import atexit, sys\n"
              "atexit.register(lambda: sys.stderr.write('MODULES ' + ' '.join(sys.modules)))\n"
              "from rgt.cli import main\nmain(['search', 'pkill over ssh'])")
    r = rgt("-c", driver, cache=tmp_path)
    assert r.returncode == 0, r.stderr
    imported = set(r.stderr.split("MODULES ", 1)[1].split())
    assert "rgt.cli.query" in imported
    assert not imported & {"rgt.cli.diagnose", "rgt.cli.render", "rgt.cli.watch", "rgt.cli.pull", "tempfile", "paramiko"}


def test_a_gotchas_text_rows_share_its_node_rowid(tmp_path):
    """query_terms checks candidates by rowid; a row under another gotcha's rowid would credit the
    wrong gotcha with the user's words."""
    import sqlite3

    from rgt.kb.index import Index
    from rgt.kb.paths import bundled_kb

    os.environ["RGT_CACHE"] = str(tmp_path)
    try:
        index = Index.open(bundled_kb())
    finally:
        del os.environ["RGT_CACHE"]
    db: sqlite3.Connection = index.db
    gotchas = db.execute("SELECT count(*) FROM nodes WHERE kind = 'gotcha'").fetchone()[0]
    for table in ("gotcha_fts", "gotcha_cjk"):
        agree = db.execute(f"SELECT count(*) FROM {table} t JOIN nodes n ON n.rowid = t.rowid AND n.id = t.id").fetchone()[0]
        assert agree == gotchas > 300, table
