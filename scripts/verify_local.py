#!/usr/bin/env python3
"""verify_local.py: the teardown gate, run on your own machine after pulling the checkpoints.

    python3 verify_local.py DIR [DIR ...] [--load]

Every directory under DIR holding a manifest is checked: MANIFEST.sha256 (written by run_one.sh
next to the durable copy, with MANIFEST.sizes) or RGT_PULL_MANIFEST.json (written by `rgt pull`
beside its copy, from the sha256 the box computed). Each file it lists must exist here with the
same size and the same sha256. One line per file; the exit status is 0 only when every file
matches, so the box may be destroyed only after this prints `VERIFIED`.

--load also opens each checkpoint without running any code from it: a .safetensors header must
parse and fit the file, a torch zip checkpoint must hold an intact archive, and torch.load runs
only with weights_only=True, when torch is importable. Without --load only bytes are checked.

Standard library only; Python 3.8 or newer.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys
import zipfile

MANIFEST = "MANIFEST.sha256"
SIZES = "MANIFEST.sizes"
PULLED = "RGT_PULL_MANIFEST.json"  # rgt pull's name for it (engine/rgt/transfer/verify.py)
SKIP = {MANIFEST, SIZES, PULLED, ".rgt-partial", ".rsync-partial"}
TORCH_FILES = (".pt", ".pth", ".ckpt", ".bin", ".tar")


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


def read_pulled(path: str) -> tuple:
    """rgt pull's JSON manifest -> ({name: hash}, {name: size})."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or data.get("kind") != "rgt-pull-manifest" or not isinstance(data.get("files"), list):
        raise ValueError(f"{path}: not a manifest written by rgt pull")
    sums, sizes = {}, {}
    for i, entry in enumerate(data["files"]):
        try:
            name, digest, size = entry["path"], entry["sha256"], entry["size"]
        except (KeyError, TypeError):
            raise ValueError(f"{path}: files[{i}] lacks path, sha256 or size") from None
        if len(digest) != 64 or not isinstance(size, int):
            raise ValueError(f"{path}: files[{i}] ({name}) has a bad sha256 or size")
        sums[name], sizes[name] = digest.lower(), size
    return sums, sizes


def torch_or_none():
    try:
        import torch  # noqa: F401
    except Exception:  # not installed, or broken: the structural checks still run
        return None
    return torch


def check_safetensors(path: str) -> str:
    """'' when the header parses and every tensor's bytes lie inside the file."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return "shorter than a safetensors header"
        (length,) = struct.unpack("<Q", head)
        if length > size - 8:
            return f"header claims {length} bytes, the file holds {size - 8} after the length"
        try:
            header = json.loads(f.read(length))
        except ValueError as e:
            return f"header is not JSON ({e})"
    data = size - 8 - length
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info.get("data_offsets", (0, -1)) if isinstance(info, dict) else (0, -1)
        if not 0 <= begin <= end <= data:
            return f"tensor {name} lies outside the file (offsets {begin}-{end}, {data} data bytes)"
    return ""


def check_torch(torch, path: str) -> tuple:
    """(error or '', what was checked). A zip checkpoint's archive is tested without unpickling;
    torch.load runs only with weights_only=True, which refuses to execute pickled code."""
    checked = []
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            return f"damaged zip archive ({e})", ""
        if bad:
            return f"damaged zip archive: {bad} fails its CRC", ""
        if not any(n.endswith("data.pkl") for n in names):
            return "a zip archive but not a torch checkpoint (no data.pkl)", ""
        checked.append("zip structure intact")
    if torch is not None:
        try:
            torch.load(path, map_location="cpu", weights_only=True)
        except TypeError:  # torch older than 1.13 cannot load without running pickled code
            return "", ", ".join(checked + ["torch too old for weights_only=True: not loaded"])
        except Exception as e:  # any failure to load means the file is not a usable checkpoint
            return f"{type(e).__name__}: {e}".splitlines()[0], ""
        checked.append("torch.load(weights_only=True) works")
    elif not checked:
        checked.append("not a zip checkpoint and torch is not importable: not loaded")
    return "", ", ".join(checked)


def load_check(torch, path: str) -> tuple:
    if path.endswith(".safetensors"):
        err = check_safetensors(path)
        return err, "" if err else "safetensors header parses"
    if path.endswith(TORCH_FILES):
        return check_torch(torch, path)
    return "", ""


def read_any(directory: str, name: str) -> tuple:
    if name == PULLED:
        return read_pulled(os.path.join(directory, PULLED))
    return read_manifest(os.path.join(directory, MANIFEST)), read_sizes(os.path.join(directory, SIZES))


def verify_dir(directory: str, name: str, torch, load: bool) -> tuple:
    """Check one manifest; returns (ok_count, problem_count)."""
    ok = bad = 0
    try:
        sums, sizes = read_any(directory, name)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        print(f"BAD MANIFEST {directory}: {e}")
        return 0, 1
    if not sizes:
        print(f"NOTE {directory}: no {SIZES}; checking sha256 only")
    for entry, want in sorted(sums.items()):
        path = os.path.join(directory, entry)
        if not os.path.isfile(path):
            print(f"MISSING {path}")
            bad += 1
            continue
        size = os.path.getsize(path)
        if entry in sizes and sizes[entry] != size:
            print(f"SIZE MISMATCH {path}: manifest {sizes[entry]} bytes, here {size} bytes")
            bad += 1
            continue
        got = sha256_of(path)
        if got != want:
            print(f"SHA256 MISMATCH {path}: manifest {want}, here {got}")
            bad += 1
            continue
        err, checked = load_check(torch, path) if load else ("", "")
        if err:
            print(f"LOAD FAILED {path}: {err}")
            bad += 1
            continue
        print(f"OK {path} ({size} bytes, sha256 matches" + (f", {checked})" if checked else ")"))
        ok += 1
    listed = {e.split("/")[0] for e in sums}
    for other in sorted(set(os.listdir(directory)) - listed - SKIP):
        if os.path.isfile(os.path.join(directory, other)):
            print(f"NOTE {os.path.join(directory, other)} is not in the manifest (not checked)")
    return ok, bad


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Check pulled checkpoints against run_one.sh's or rgt pull's manifest.")
    parser.add_argument("dirs", nargs="+", help=f"pulled directories (searched for {MANIFEST} and {PULLED})")
    parser.add_argument("--load", action="store_true",
                        help="also open each checkpoint without running its code (safetensors header, torch zip, "
                             "torch.load with weights_only=True when torch is importable)")
    parser.add_argument("--no-load", action="store_true", help="bytes only (the default; kept for older scripts)")
    args = parser.parse_args(argv)

    manifests = []
    for top in args.dirs:
        if not os.path.isdir(top):
            print(f"MISSING {top}: not a directory")
            return 1
        for root, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in SKIP)
            manifests += [(root, name) for name in (PULLED, MANIFEST) if name in files]
    if not manifests:
        print(f"NO MANIFEST: no {MANIFEST} or {PULLED} under {', '.join(args.dirs)}; nothing was verified")
        return 1

    load = args.load and not args.no_load
    torch = torch_or_none() if load else None
    total_ok = total_bad = 0
    for directory, name in manifests:
        ok, bad = verify_dir(directory, name, torch, load)
        total_ok += ok
        total_bad += bad
    if not load:
        print("NOTE sizes and sha256 were checked; checkpoints were not opened (add --load to open them safely)")
    if total_bad:
        print(f"NOT VERIFIED: {total_bad} problem(s), {total_ok} file(s) fine; keep the box until this passes")
        return 1
    print(f"VERIFIED {total_ok} file(s) in {len(manifests)} manifest(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
