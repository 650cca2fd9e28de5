"""Shared test setup: a private index cache per session, and the SQLite facts in the header."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_report_header(config):
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
        fts = "FTS5 with trigram: yes"
    except sqlite3.OperationalError as e:
        fts = f"FTS5 with trigram: NO ({e})"
    return f"SQLite {sqlite3.sqlite_version}; {fts}"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    os.environ["RGT_CACHE"] = str(tmp_path_factory.mktemp("rgt-cache"))
    yield


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory):
    import sshd
    server = sshd.start(tmp_path_factory.mktemp("sshd"))
    yield server
    sshd.stop(server)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A one-node Slurm cluster on 127.0.0.1 with accounting (slurmdbd on MariaDB, so sacct has
    job rows), started once per session; every daemon is stopped afterwards and checked gone."""
    import slurmkit
    why = slurmkit.missing(accounting=True)
    if why:
        pytest.skip(f"no Slurm cluster: {why}")
    cluster = slurmkit.start(tmp_path_factory.mktemp("slurm"), accounting=True)
    yield cluster
    slurmkit.stop(cluster)
    assert cluster.alive() == [], f"Slurm daemons left running: {cluster.alive()}"
    assert slurmkit.leftovers(cluster) == [], "processes of the test cluster left running"
