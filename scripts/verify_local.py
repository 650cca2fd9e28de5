#!/usr/bin/env python3
"""verify_local.py: the teardown gate, run on your own machine after pulling the checkpoints.

    python3 verify_local.py DIR [DIR ...] [--no-load]

Every directory under DIR that holds a MANIFEST.sha256 (written by run_one.sh next to the durable
copy, or next to the checkpoints when the box had no durable target) is checked: each file it
lists must exist here with the same size (MANIFEST.sizes) and the same sha256. Checkpoints are
then loaded with torch.load when torch is importable; otherwise the script says that only bytes
were checked. One line per file; the exit status is 0 only when every file matches (and loads),
so the box may be destroyed only after this prints `VERIFIED`.

Standard library only; Python 3.8 or newer.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys

MANIFEST = "MANIFEST.sha256"
SIZES = "MANIFEST.sizes"
LOADABLE = (".pt", ".pth", ".ckpt", ".bin", ".tar")


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _lines(path: str):
    """(line number, text) for each non-blank line."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.strip():
                yield number, line


def read_manifest(path: str) -> dict:
    """`<hash>  <name>` lines (sha256sum format; `*` marks binary mode) -> {name: hash}."""
    entries = {}
    for number, line in _lines(path):
        digest, sep, name = line.partition(" ")
        if not sep or len(digest) != 64:
            raise ValueError(f"{path}:{number}: not a sha256sum line: {line!r}")
        name = name[1:] if name[:1] in (" ", "*") else name
        entries[name] = digest.lower()
    return entries


def read_sizes(path: str) -> dict:
    sizes = {}
    if not os.path.exists(path):
        return sizes
    for number, line in _lines(path):
        size, _, name = line.partition("  ")
        if not size.isdigit() or not name:
            raise ValueError(f"{path}:{number}: not a `<bytes>  <name>` line: {line!r}")
        sizes[name] = int(size)
    return sizes


def torch_or_none():
    try:
        import torch  # noqa: F401
    except Exception:  # not installed, or broken: fall back to bytes only
        return None
    return torch


def try_load(torch, path: str) -> str:
    """'' when the checkpoint loads, else the error."""
    try:
        try:
            torch.load(path, map_location="cpu", weights_only=False)
        except TypeError:  # torch older than 1.13 has no weights_only
            torch.load(path, map_location="cpu")
    except Exception as e:  # any failure to load means the file is not a usable checkpoint
        return f"{type(e).__name__}: {e}".splitlines()[0]
    return ""


def verify_dir(directory: str, torch, load: bool) -> tuple:
    """Check one manifest directory; returns (ok_count, problem_count)."""
    ok = bad = 0
    try:
        sums = read_manifest(os.path.join(directory, MANIFEST))
        sizes = read_sizes(os.path.join(directory, SIZES))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        print(f"BAD MANIFEST {directory}: {e}")
        return 0, 1
    if not sizes:
        print(f"NOTE {directory}: no {SIZES}; checking sha256 only")
    for name, want in sorted(sums.items()):
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            print(f"MISSING {path}")
            bad += 1
            continue
        size = os.path.getsize(path)
        if name in sizes and sizes[name] != size:
            print(f"SIZE MISMATCH {path}: manifest {sizes[name]} bytes, here {size} bytes")
            bad += 1
            continue
        got = sha256_of(path)
        if got != want:
            print(f"SHA256 MISMATCH {path}: manifest {want}, here {got}")
            bad += 1
            continue
        if load and torch is not None and name.endswith(LOADABLE):
            err = try_load(torch, path)
            if err:
                print(f"LOAD FAILED {path}: {err}")
                bad += 1
                continue
            print(f"OK {path} ({size} bytes, sha256 matches, torch.load works)")
        else:
            print(f"OK {path} ({size} bytes, sha256 matches)")
        ok += 1
    extra = sorted(set(os.listdir(directory)) - set(sums) - {MANIFEST, SIZES})
    for name in extra:
        if os.path.isfile(os.path.join(directory, name)):
            print(f"NOTE {os.path.join(directory, name)} is not in the manifest (not checked)")
    return ok, bad


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Check pulled checkpoints against run_one.sh's manifest.")
    parser.add_argument("dirs", nargs="+", help="pulled directories (searched for MANIFEST.sha256)")
    parser.add_argument("--no-load", action="store_true", help="check bytes only, even when torch is importable")
    args = parser.parse_args(argv)

    manifests = []
    for top in args.dirs:
        if not os.path.isdir(top):
            print(f"MISSING {top}: not a directory")
            return 1
        for root, dirs, files in os.walk(top):
            dirs.sort()
            if MANIFEST in files:
                manifests.append(root)
    if not manifests:
        print(f"NO MANIFEST: no {MANIFEST} under {', '.join(args.dirs)}; nothing was verified")
        return 1

    torch = None if args.no_load else torch_or_none()
    total_ok = total_bad = 0
    for directory in manifests:
        ok, bad = verify_dir(directory, torch, load=not args.no_load)
        total_ok += ok
        total_bad += bad
    if not args.no_load and torch is None:
        print("NOTE torch is not importable here: sizes and sha256 were checked, checkpoints were not loaded")
    if total_bad:
        print(f"NOT VERIFIED: {total_bad} problem(s), {total_ok} file(s) fine; keep the box until this passes")
        return 1
    print(f"VERIFIED {total_ok} file(s) in {len(manifests)} manifest(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
