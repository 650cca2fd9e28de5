"""The on-box watchdog that `rgt render` writes: real bash over a real run_one.sh, shellchecked;
it records each change of a cell's state once and never disturbs the run."""
from __future__ import annotations

import subprocess
import time

from boxkit import kill_tree, render_box, run, run_root, start, wait_for


def _states(path) -> list[tuple[str, str]]:
    return [tuple(line.split()[1:3]) for line in path.read_text().splitlines()]


def test_watchdog_records_each_state_once_and_leaves_the_run_alone(tmp_path):
    (tmp_path / "durable").mkdir()
    out = render_box(tmp_path, queue=[{"name": "a", "args": "3 3"}, {"name": "b", "args": "50 1"}])
    sh = out / "watchdog.sh"
    lint = subprocess.run(["shellcheck", str(sh)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    log = run_root(tmp_path) / "logs" / "a.log"

    assert "a waiting" in run(sh, "--once", root=tmp_path).stdout
    cell = start(out / "run_one.sh", "a", root=tmp_path)
    try:
        wait_for(lambda: log.exists() and "step 1" in log.read_text(), what="step 1")
        assert "a running pid" in run(sh, "--once", root=tmp_path).stdout
        time.sleep(1.2)
        assert "a stalled pid" in run(sh, "--once", root=tmp_path, RGT_LOG_SILENT_S="0").stdout
        assert "a running pid" in run(sh, "--once", root=tmp_path).stdout  # writing again is news too
        output, _ = cell.communicate(timeout=30)
    finally:
        kill_tree(cell)
    assert cell.returncode == 0, output  # watched and undisturbed: it finished and copied
    r = run(sh, "--once", root=tmp_path)
    assert "a finished exit=0 durable copy verified" in r.stdout
    assert "a finished" in run(sh, "--once", root=tmp_path).stdout

    other = start(out / "run_one.sh", "b", root=tmp_path)
    blog = run_root(tmp_path) / "logs" / "b.log"
    wait_for(lambda: blog.exists() and "step 1" in blog.read_text(), what="b step 1")
    assert "b running" in run(sh, "--once", root=tmp_path).stdout
    kill_tree(other)
    assert "b dead no run_one.sh alive and no completion marker" in run(sh, "--once", root=tmp_path).stdout

    recorded = _states(tmp_path / "durable" / "watchdog.states")
    assert [s for c, s in recorded if c == "a"] == ["waiting", "running", "stalled", "running", "finished"]
    assert [s for c, s in recorded if c == "b"] == ["waiting", "running", "dead"]
