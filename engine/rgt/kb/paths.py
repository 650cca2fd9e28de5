"""Where the knowledge base lives: inside the wheel when installed, the repo root when not."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import KnowledgeError, UsageError


def bundled_kb() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "_kb"
    if (packaged / "profiles").is_dir():
        return packaged
    return Path(__file__).resolve().parents[3]  # engine/rgt/kb -> repo root (editable install)


def cache_dir() -> Path:
    """The index lives here; RGT_CACHE overrides it (every test sets it)."""
    override = os.environ.get("RGT_CACHE")
    if override:
        path = Path(override)
    else:
        import platformdirs  # 5 ms of start-up that RGT_CACHE makes needless
        path = Path(platformdirs.user_cache_dir("rgt"))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise cache_error(path, e) from None
    return path


def cache_error(path: Path, e: OSError) -> UsageError:
    return UsageError(f"cannot use the index cache {path}: {e.strerror or e}", hint="set RGT_CACHE to a writable directory")


def source_files(root: Path) -> list[Path]:
    """The markdown the graph is built from, in a stable order."""
    files = sorted((root / "profiles").glob("*.md")) + sorted((root / "references").glob("*.md")) \
        + sorted((root / "references" / "training").glob("*.md"))
    files = [f for f in files if not f.name.startswith("_")]
    for f in files:
        _require_markdown_file(f)
    return files


def _require_markdown_file(path: Path) -> None:
    """A `.md` name that is not a readable file (a directory, a symlink that loops or dangles)
    would otherwise surface as an OSError deep in parsing or indexing."""
    try:
        is_dir = stat.S_ISDIR(path.stat().st_mode)
    except OSError as e:  # ELOOP for a symlink loop, ENOENT for one that dangles
        raise KnowledgeError(f"{path}: {e.strerror}", hint="fix or remove the symlink") from None
    if is_dir:
        raise KnowledgeError(f"{path} is a directory, not a markdown file",
                             hint="rename or remove it: every *.md under profiles/ and references/ is read as knowledge")
