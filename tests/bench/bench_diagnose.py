"""Benchmark: diagnose over SSH against a bare `ssh host true`, and one batched channel against
one channel per probe. Ratios measured in one run on a loopback sshd; prints what it measured.

Targets: diagnose --host ÷ ssh true ≤ 2; per-probe channels ÷ batched ≥ 5.
Run: .venv/bin/python tests/bench/bench_diagnose.py [--runs N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sshd  # noqa: E402  (the test sshd helper)

from rgt import api  # noqa: E402
from rgt.diagnose import batch  # noqa: E402
from rgt.diagnose.transport import SSHTransport  # noqa: E402

QUERY = "run vanished at 6h"


def timed(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rgt = shutil.which("rgt", path=str(Path(sys.executable).parent)) or "rgt"
    base = Path(tempfile.mkdtemp(prefix="rgt-bench-"))
    os.environ.setdefault("RGT_CACHE", str(base / "cache"))
    server = sshd.start(base / "sshd")
    try:
        cfg = str(server.config)
        subprocess.run([rgt, "diagnose", QUERY, "--platform", "paperspace"], capture_output=True)  # warm the index
        ssh_true = timed(lambda: subprocess.run(["ssh", "-F", cfg, "rgt-box", "true"], check=True), args.runs)
        diag = timed(lambda: subprocess.run([rgt, "diagnose", QUERY, "--platform", "paperspace", "--host", "rgt-box",
                                             "--ssh-config", cfg], capture_output=True, check=True), args.runs)
        # fan-out: eight aliases of the same loopback server, probed concurrently by one diagnose
        cluster = base / "ssh_config_cluster"
        cluster.write_text(server.config.read_text().replace("Host rgt-box", "Host rgt-box n1 n2 n3 n4 n5 n6 n7 n8"))
        fan = timed(lambda: subprocess.run([rgt, "diagnose", QUERY, "--platform", "paperspace", "--host", "n[1-8]",
                                            "--ssh-config", str(cluster)], capture_output=True, check=True), args.runs)

        index = api.open_index()
        probes = index.probes()  # the whole catalog: what a broad query sends to the box

        def batched(lanes=batch.LANES):
            SSHTransport("rgt-box", config_path=cfg).run(batch.script(probes, lane_count=lanes),
                                                         batch.budget(probes, lanes))

        def per_probe():
            t = SSHTransport("rgt-box", config_path=cfg)
            client = t._connect()
            try:
                for p in probes:
                    _, out, _ = client.exec_command(p.command, timeout=p.timeout + 2)
                    out.read()
                    out.channel.recv_exit_status()
            finally:
                t.close()

        # the naive baseline the target speaks of: a fresh `ssh` per probe, as a shell script would
        def ssh_per_probe():
            for p in probes:
                subprocess.run(["ssh", "-F", cfg, "rgt-box", p.command], capture_output=True)

        one = timed(batched, args.runs)
        one_lane = timed(lambda: batched(1), args.runs)
        channels = timed(per_probe, args.runs)
        connections = timed(ssh_per_probe, max(1, args.runs // 2))
    finally:
        sshd.stop(server)
        shutil.rmtree(base, ignore_errors=True)

    print(f"probes in the batch: {len(probes)}; median of {args.runs} runs; loopback sshd")
    print(f"ssh host true               {ssh_true * 1000:8.1f} ms")
    print(f"rgt diagnose --host         {diag * 1000:8.1f} ms   ratio {diag / ssh_true:5.2f}  (target <= 2)")
    print(f"  the same over 8 hosts      {fan * 1000:8.1f} ms   {fan / diag:5.2f}x one host  "
          f"(concurrent; {os.cpu_count()} CPUs here run every sshd and probe)")
    print(f"batched, one channel        {one * 1000:8.1f} ms   ({batch.LANES} lanes of probes at once)")
    print(f"  the same, a single lane     {one_lane * 1000:8.1f} ms   (probes one after another)")
    print(f"one channel per probe       {channels * 1000:8.1f} ms   {channels / one:5.2f}x the batch  (target >= 5)")
    print(f"one ssh connection per probe{connections * 1000:8.1f} ms   {connections / one:5.2f}x the batch")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
