"""Where the knowledge base lives: inside the wheel when installed, the repo root when not."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from ..errors import UsageError

KB_DIRS = ("profiles", "references", "templates", "scripts")


def bundled_kb() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "_kb"
    if (packaged / "profiles").is_dir():
        return packaged
    return Path(__file__).resolve().parents[3]  # engine/rgt/kb -> repo root (editable install)


def cache_dir() -> Path:
    """The index lives here; RGT_CACHE overrides it (every test sets it)."""
    override = os.environ.get("RGT_CACHE")
    path = Path(override) if override else Path(platformdirs.user_cache_dir("rgt"))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise cache_error(path, e) from None
    return path


def cache_error(path: Path, e: OSError) -> UsageError:
    return UsageError(f"cannot use the index cache {path}: {e.strerror or e}", hint="set RGT_CACHE to a writable directory")


def source_files(root: Path) -> list[Path]:
    """The markdown the graph is built from, in a stable order."""
    files = sorted((root / "profiles").glob("*.md")) + sorted((root / "references").glob("*.md"))
    return [f for f in files if not f.name.startswith("_")]
