"""The one rule for files rgt writes where the user keeps files: never replace one silently."""
from __future__ import annotations

from pathlib import Path

from .errors import UsageError


def refuse_overwrite(path: Path, new: bytes | None = None, *, force: bool = False) -> None:
    """Raise a one-line UsageError when PATH exists and writing would change it. NEW is the content
    about to be written (identical content loses nothing); None means it is not known yet."""
    if force or not (path.exists() or path.is_symlink()):
        return
    if new is not None and path.is_file():
        try:
            if path.read_bytes() == new:
                return
        except OSError:
            pass
    raise UsageError(f"{path} exists and would be replaced",
                     hint="pass --force to replace it, or choose another path")
