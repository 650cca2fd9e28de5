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
