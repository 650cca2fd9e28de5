"""df_inodes: `df -iP` (inodes per mount). Same table reading and filtering as df."""
from __future__ import annotations

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers.df import observe, read_table

OBSERVES: dict[str, str] = {
    "inode_max_use_pct": "int",        # real filesystems only
    "inode_full_mounts": "list[str]",  # mount points at >= 98 % of their inodes
}


def parse(text: str) -> Observations:
    return observe(read_table(text, r"\bIUse%"), "inode_max_use_pct", "inode_full_mounts")
