"""Fan-out over many hosts: Slurm-style host lists, a hosts file, and a dead node among live ones
against the real sshd (its verdicts still come back; the exit status still says a host failed)."""
from __future__ import annotations

import pytest

import sshd
from helpers import run
from rgt.diagnose import hosts
from rgt.errors import UsageError


@pytest.mark.parametrize("spec, expected", [
    ("gpu[01-03,07]", ["gpu01", "gpu02", "gpu03", "gpu07"]),
    ("root@node[8-10]:2222", ["root@node8:2222", "root@node9:2222", "root@node10:2222"]),
    ("r[1-2]n[0-1]", ["r1n0", "r1n1", "r2n0", "r2n1"]),
    ("plainhost", ["plainhost"]),
    ("gpu[007]", ["gpu007"]),
    ("gpu[01-02],cpu7", ["gpu01", "gpu02", "cpu7"]),  # SLURM_JOB_NODELIST joins lists with commas
    ("a[1-2]b,c[3,5]", ["a1b", "a2b", "c3", "c5"]),
    ("[::1]:22", ["[::1]:22"]),  # a bracketed IPv6 address is one host, not a range
    ("root@[fe80::1%eth0]:2222,gpu1", ["root@[fe80::1%eth0]:2222", "gpu1"]),
])
def test_host_lists_expand_like_slurm(spec, expected):
    assert hosts.expand(spec) == expected


@pytest.mark.parametrize("spec, says", [
    ("gpu[01-03", "unbalanced brackets"),
    ("gpu[03-01]", "runs backwards"),
    ("gpu[a-c]", "is not a number or a range"),
    ("n[1-100]x[1-100]", "names 10000 hosts"),
    ("gpu1,,gpu2", "empty host"),
])
def test_bad_host_lists_are_one_clear_error(spec, says):
    with pytest.raises(UsageError, match=says):
        hosts.expand(spec)


def test_hosts_file_and_command_line_merge_in_order_each_once(tmp_path):
    f = tmp_path / "nodes.txt"
    f.write_text("# the training nodes\ngpu[01-02]\n\n  gpu03   # spare\ngpu01\n")
    assert hosts.collect(["gpu00", "gpu02"], str(f)) == ["gpu00", "gpu02", "gpu01", "gpu03"]
    with pytest.raises(UsageError, match="cannot read hosts file"):
        hosts.collect([], str(tmp_path / "missing.txt"))
    (tmp_path / "blob").write_bytes(bytes(range(256)))
    with pytest.raises(UsageError, match="is not text"):
        hosts.collect([], str(tmp_path / "blob"))


def _cluster_config(server, tmp_path):
    """rgt-box1 and rgt-box2 reach the live sshd; rgt-dead points at a port nobody listens on."""
    text = server.config.read_text()
    body = text.split("\n", 1)[1]
    cfg = tmp_path / "ssh_config_cluster"
    cfg.write_text(f"Host rgt-box1 rgt-box2\n{body}\nHost rgt-dead\n"
                   + body.replace(f"Port {server.port}", f"Port {sshd.free_port()}"))
    return cfg


def test_fan_out_keeps_the_live_hosts_evidence_when_one_node_is_dead(capsys, sshd_server, tmp_path):
    cfg = _cluster_config(sshd_server, tmp_path)
    r = run(capsys, "diagnose", "training process vanished, exit code 137", "--host", "rgt-box[1-2]",
            "--host", "rgt-dead", "--ssh-config", str(cfg), "--json")
    assert r.code == 3, r.err
    data = r.json()
    by_host = {h["host"]: h for h in data["hosts"]}
    assert set(by_host) == {"rgt-box1", "rgt-box2", "rgt-dead"}
    assert by_host["rgt-box1"]["error"] is None and by_host["rgt-box1"]["probes"] > 0
    assert "connection refused" in by_host["rgt-dead"]["error"]
    assert data["candidates"], "the live hosts' verdicts are still reported"
    assert r.err.strip() == ("rgt: 1 of 3 hosts could not be probed: rgt-dead (their reasons are in "
                             "hosts[].error; verdicts above come from the others)")


def test_when_every_host_is_dead_it_is_one_line_and_exit_3(capsys, sshd_server, tmp_path):
    cfg = _cluster_config(sshd_server, tmp_path)
    cfg.write_text(cfg.read_text() + "\nHost rgt-dead2\n  HostName 127.0.0.1\n"
                   f"  Port {sshd.free_port()}\n")
    r = run(capsys, "diagnose", "run vanished", "--host", "rgt-dead", "--host", "rgt-dead2",
            "--ssh-config", str(cfg))
    assert r.code == 3 and r.out == "" and len(r.err.strip().splitlines()) == 1
    assert "no host could be probed" in r.err and "connection refused" in r.err


def test_a_fan_out_is_saved_per_host_and_replays_offline(capsys, sshd_server, tmp_path):
    cfg = _cluster_config(sshd_server, tmp_path)
    query = ["diagnose", "training process vanished, exit code 137", "--json"]
    live = run(capsys, *query, "--host", "rgt-box[1-2]", "--ssh-config", str(cfg), "--save-capture",
               str(tmp_path / "caps"))
    assert live.code == 0, live.err
    saved = sorted(p.name for p in (tmp_path / "caps").iterdir())
    assert saved == ["rgt-box1.json", "rgt-box2.json"]
    replay = run(capsys, *query, *[a for p in saved for a in ("--capture", str(tmp_path / "caps" / p))])
    assert replay.code == 0, replay.err
    verdicts = lambda r: [(c["id"], c["verdict"]) for c in r.json()["candidates"]]  # noqa: E731
    assert verdicts(replay) == verdicts(live)
    assert [h["host"] for h in replay.json()["hosts"]] == ["rgt-box1", "rgt-box2"]


def test_a_capture_that_cannot_be_written_is_one_line(capsys, sshd_server, tmp_path):
    (tmp_path / "afile").write_text("x")
    r = run(capsys, "diagnose", "run vanished", "--host", "rgt-box", "--ssh-config", str(sshd_server.config),
            "--save-capture", str(tmp_path / "afile" / "cap.json"))
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "cannot write the capture" in r.err
    assert r.out == "", "refused before any probing"


@pytest.mark.parametrize("spec, host, port", [
    ("[::1]:2222", "::1", 2222), ("me@[::1]", "::1", 22), ("box:65535", "box", 65535), ("box", "box", 22), ("::1", "::1", 22),
])
def test_host_and_port_are_read_from_a_spec(spec, host, port, tmp_path):
    from rgt.diagnose.transport import resolve_target
    empty = tmp_path / "ssh_config"
    empty.write_text("")
    t = resolve_target(spec, str(empty))
    assert (t.hostname, t.port) == (host, port)


@pytest.mark.parametrize("spec", ["127.0.0.1:99999", "127.0.0.1:0", "box:", "[::1]:x", "[::1"])
def test_a_bad_port_is_a_usage_error_before_connecting(capsys, spec, tmp_path):
    empty = tmp_path / "ssh_config"
    empty.write_text("")
    r = run(capsys, "diagnose", "run vanished", "--host", spec, "--ssh-config", str(empty))
    assert r.code == 2, r.err
    assert len(r.err.strip().splitlines()) == 1 and spec in r.err and "refused" not in r.err
