"""The local copy against the box's manifest, and the manifest written beside the copy so that
scripts/verify_local.py can check the copy again later, on any machine, without rgt."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from .fetch import sha256_file
from .manifest import Manifest

NAME = "RGT_PULL_MANIFEST.json"  # verify_local.py looks for this name; keep the two in step
KIND = "rgt-pull-manifest"


def check(dest: Path, manifest: Manifest) -> dict[str, list]:
    """Each listed file sorted into matched, missing, or mismatched ({path, why})."""
    out: dict[str, list] = {"matched": [], "missing": [], "mismatched": []}
    for e in manifest.files:
        path = dest / e.path
        if not path.is_file():
            out["missing"].append(e.path)
            continue
        size = path.stat().st_size
        if size != e.size:
            out["mismatched"].append({"path": e.path, "why": f"{size} bytes here, {e.size} on the box"})
        elif sha256_file(path) != e.sha256:
            out["mismatched"].append({"path": e.path, "why": "same size, other sha256 than the box listed"})
        else:
            out["matched"].append(e.path)
    return out


def write(dest: Path, manifest: Manifest, host: str) -> Path:
    """Atomically, so a pull killed here leaves the previous manifest or none, never half of one."""
    body = {"kind": KIND, "version": 1, "host": host, "remote_dir": manifest.root,
            "listed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "files": [{"path": e.path, "size": e.size, "mtime": e.mtime, "sha256": e.sha256} for e in manifest.files]}
    target = dest / NAME
    tmp = target.with_name(NAME + ".tmp")
    tmp.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target
