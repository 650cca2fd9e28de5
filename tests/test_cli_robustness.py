"""What a careless or unlucky user sees: bad numbers, undecodable input, a full disk on stdout,
and a bug in rgt, each one line on stderr with its own documented exit status."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rgt.errors import Exit

from helpers import run

RGT = Path(sys.executable).parent / "rgt"


def _one_line(r, code: int, *words: str) -> None:
    assert r.code == code, (r.code, r.err)
    assert r.out == "" and len(r.err.splitlines()) == 1 and "Traceback" not in r.err, r.err
    for w in words:
        assert w in r.err, r.err


@pytest.mark.parametrize("args,option,valid", [
    (["plan", "-p", "vastai", "--hours", "nan"], "--hours", "a finite number > 0"),
    (["plan", "-p", "vastai", "--hours", "inf", "--json"], "--hours", "a finite number > 0"),
    (["plan", "-p", "vastai", "--hours", "-5"], "--hours", "a finite number > 0"),
    (["plan", "-p", "vastai", "--hours", "20", "--rental-left-h", "nan"], "--rental-left-h", "a finite number >= 0"),
    (["plan", "-p", "vastai", "--hours", "20", "--spot", "--mtbf-h", "nan"], "--mtbf-h", "a finite number > 0"),
    (["plan", "-p", "vastai", "--hours", "20", "--disk-gb", "inf"], "--disk-gb", "a finite number > 0"),
    (["search", "disk", "--limit", "-5"], "--limit", "x>=1"),
    (["diagnose", "disk full", "--limit", "0"], "--limit", "x>=1"),
    (["diagnose", "disk full", "--connect-timeout", "nan"], "--connect-timeout", "a finite number > 0"),
])
def test_bad_numbers_are_one_usage_line_naming_option_and_range(capsys, args, option, valid):
    r = run(capsys, *args)
    _one_line(r, Exit.USAGE, f"'{option}'", valid)
    assert r.err.startswith("rgt: ")


def test_json_never_holds_nan_or_infinity():
    from rgt.cli.common import emit
    with pytest.raises(ValueError):
        emit({"hours": float("inf")}, True, print)


def test_non_utf8_stdin_is_decoded_with_replacement():
    log = b"kernel: Out of memory: Killed process 4242 (python) \xff\xfe total-vm\n" * 3
    done = subprocess.run([str(RGT), "diagnose", "-", "--json", "--limit", "2"], input=log, capture_output=True)
    assert done.returncode in (Exit.OK, Exit.FINDINGS), done.stderr
    assert b"internal error" not in done.stderr
    assert "\ufffd" in json.loads(done.stdout)["query"]


@pytest.mark.parametrize("option", ["--hosts-file", "--ssh-config"])
def test_a_binary_hosts_file_or_ssh_config_is_one_usage_line_naming_it(capsys, tmp_path, option):
    binary = tmp_path / "blob"
    binary.write_bytes(bytes(range(256)) * 4)
    r = run(capsys, "diagnose", "disk full", option, str(binary), "--host", "127.0.0.1")
    _one_line(r, Exit.USAGE, str(binary), option, "not a text file")


def test_writing_to_a_full_stdout_is_one_line_and_a_documented_status():
    with open("/dev/full", "w") as full:
        done = subprocess.run([str(RGT), "platforms"], stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == Exit.REMOTE
    assert done.stderr == "rgt: cannot write to standard output: No space left on device\n"


def test_a_closed_pipe_on_stdout_ends_quietly():
    import os
    reader, writer = os.pipe()
    os.close(reader)  # the reader went away, as `| head -1` does
    log = b"disk full\n" * 30000  # echoed in the JSON: far more than a pipe holds
    done = subprocess.run([str(RGT), "diagnose", "-", "--json"], input=log, stdout=writer, stderr=subprocess.PIPE)
    os.close(writer)
    assert done.stderr == b"" and done.returncode == Exit.REMOTE  # the table's "cannot write"; never 1, "findings"


def test_an_internal_error_exits_4_not_the_findings_status(capsys, monkeypatch):
    import rgt.api
    monkeypatch.setattr(rgt.api, "platforms", lambda index: 1 / 0)
    r = run(capsys, "platforms")
    _one_line(r, Exit.INTERNAL, "internal error: ZeroDivisionError", "--debug")
    assert Exit.INTERNAL == 4 and Exit.FINDINGS == 1


def test_an_internal_error_with_a_multi_line_message_is_still_one_line(capsys, monkeypatch):
    import rgt.api

    def crash(index):  # yaml's ReaderError, for one, ends its message with "\n  in <file>"
        raise ValueError("unacceptable character\n  in \"<unicode string>\", position 8")
    monkeypatch.setattr(rgt.api, "platforms", crash)
    r = run(capsys, "platforms")
    _one_line(r, Exit.INTERNAL, 'unacceptable character in "<unicode string>", position 8')
