"""The batched probe script, run by real bash: every probe comes back whole under its own markers,
with its own exit code, whatever lane it ran in and however much it printed."""
from __future__ import annotations

from rgt.diagnose import batch
from rgt.diagnose.transport import LocalTransport
from rgt.kb.model import Probe


def probe(pid: str, command: str, timeout: float = 5) -> Probe:
    return Probe(id=pid, title=pid, file="probes.md", line=1, command=command, timeout=timeout, parser=pid)


def run_batch(probes: list[Probe], lane_count: int = batch.LANES) -> dict[str, batch.ProbeOutput]:
    done = LocalTransport().run(batch.script(probes, lane_count=lane_count), batch.budget(probes, lane_count))
    return batch.split(done.stdout)


def test_the_slow_probes_go_to_different_lanes():
    probes = [probe("a", "true", 60), probe("b", "true", 60), probe("c", "true", 3), probe("d", "true", 3),
              probe("e", "true", 3)]
    lanes = batch.lanes(probes, 2)
    assert {p.id for p in lanes[0]} & {"a", "b"} and {p.id for p in lanes[1]} & {"a", "b"}
    assert sorted(p.id for lane in lanes for p in lane) == ["a", "b", "c", "d", "e"], "each probe exactly once"
    assert batch.budget(probes, 2) < sum(p.timeout for p in probes), "the budget is the slowest lane, not the sum"


def test_every_probe_returns_whole_with_its_own_exit_code():
    probes = [probe(f"p{i}", f"echo line-{i}; echo err-{i} >&2; exit {i}") for i in range(9)]
    got = run_batch(probes)
    assert sorted(got) == sorted(p.id for p in probes)
    for i in range(9):
        assert got[f"p{i}"].text == f"line-{i}\nerr-{i}" and got[f"p{i}"].rc == i


def test_output_larger_than_a_pipe_does_not_deadlock_or_interleave():
    """A lane's output waits in its pipe until the lanes before it are copied out; 400 KB is six
    times a Linux pipe buffer, printed while an earlier lane is still running."""
    big = probe("big", "seq 1 70000", timeout=10)
    slow = probe("slow", "sleep 0.5; echo slow-done", timeout=10)
    got = run_batch([slow, big, probe("small", "echo small")], lane_count=3)
    assert got["big"].text.splitlines() == [str(i) for i in range(1, 70001)]
    assert got["slow"].text == "slow-done" and got["small"].text == "small"


def test_a_probe_that_reads_stdin_cannot_eat_the_script():
    got = run_batch([probe("reader", "cat; echo read-nothing"), probe("after", "echo still-here")], lane_count=1)
    assert got["reader"].text == "read-nothing" and got["after"].text == "still-here"


def test_a_hung_probe_times_out_alone():
    got = run_batch([probe("hung", "sleep 30", timeout=1), probe("fine", "echo ok")])
    assert got["hung"].timed_out and got["fine"].text == "ok" and got["fine"].rc == 0
