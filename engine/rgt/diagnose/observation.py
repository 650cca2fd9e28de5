"""What a parser hands to the rules: a named value and the output line that shows it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Observation:
    value: Any
    line: str = ""  # the line of probe output that justifies the value ("" when it is an absence)

    def to_json(self) -> dict:
        return {"value": self.value, "line": self.line}


Observations = dict[str, Observation]
