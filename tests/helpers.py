"""Run the real `rgt` entry point in-process and capture what a user would see."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path


from rgt.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def run(capsys, *args: str) -> Result:
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def copy_kb(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
