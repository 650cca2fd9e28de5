"""rgt never replaces a file the user has: `render --out` and `diagnose --save-capture` refuse an
existing file whose content would change, in one line naming it, exit 2, and write nothing, unless
--force. The real `rgt` runs as a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "job.yaml"


def rgt(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rgt", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ}, timeout=120)


def render(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return rgt("render", "--platform", "vastai", "--job", str(EXAMPLE), "--out", str(out), *extra, cwd=out.parent)


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_render_refuses_to_replace_an_edited_script_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    first = render(out)
    assert first.returncode == 0, first.stderr
    again = render(out)  # the same content again: nothing to lose, no --force needed
    assert again.returncode == 0, again.stderr

    edited = out / "run_one.sh"
    edited.write_text(edited.read_text() + "# my fix\n")
    (out / "run_queue.sh").unlink()  # a file that is missing is no conflict, but must not be written alone
    before = snapshot(out)
    r = render(out)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(edited) in lines[0] and "--force" in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert snapshot(out) == before  # all or nothing: run_queue.sh was not written either

    forced = render(out, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "# my fix" not in edited.read_text() and (out / "run_queue.sh").exists()
    assert not list(out.glob(".*.rgt-tmp"))


def test_render_json_refusal_is_the_same_one_line(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run_one.sh").write_text("#!/bin/bash\necho mine\n")
    r = render(out, "--json")
    assert r.returncode == 2 and str(out / "run_one.sh") in r.stderr
    assert (out / "run_one.sh").read_text() == "#!/bin/bash\necho mine\n"
    assert sorted(p.name for p in out.iterdir()) == ["run_one.sh"]


def test_save_capture_refuses_an_existing_file_before_probing(tmp_path):
    target = tmp_path / "box.json"
    target.write_text("an earlier capture\n")
    r = rgt("diagnose", "run vanished at 6h", "--local", "--save-capture", str(target), cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0] and "--force" in lines[0], r.stderr
    assert "probed" not in r.stderr and r.stdout == ""  # refused before any probe ran
    assert target.read_text() == "an earlier capture\n"

    forced = rgt("diagnose", "run vanished at 6h", "--local", "--save-capture", str(target), "--force", cwd=tmp_path)
    assert forced.returncode in (0, 1), forced.stderr
    assert target.read_text().startswith("{")


def test_save_capture_directory_refuses_when_a_host_file_exists(tmp_path):
    target = tmp_path / "caps"
    target.mkdir()
    (target / "127.0.0.1_1.json").write_text("kept\n")
    r = rgt("diagnose", "run vanished", "--host", "127.0.0.1:1", "--host", "127.0.0.1:2",
            "--save-capture", str(target), cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "127.0.0.1_1.json" in r.stderr
    assert "could not probe" not in r.stderr  # refused before connecting
    assert sorted(p.name for p in target.iterdir()) == ["127.0.0.1_1.json"]
