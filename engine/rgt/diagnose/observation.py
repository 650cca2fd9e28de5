"""What a parser hands to the rules: a named value and the output line that shows it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Observation:
    value: Any
    line: str = ""  # the line of probe output that justifies the value ("" when it is an absence)
    derived: bool = False  # the line is rgt's own summary of several output lines, not one of them

    def to_json(self) -> dict:
        return {"value": self.value, "line": self.line, **({"derived": True} if self.derived else {})}


Observations = dict[str, Observation]
