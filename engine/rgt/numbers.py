"""Numbers a user gives (hours, seconds, sizes): finite and on the right side of a bound. nan
passes every comparison and inf every maximum, so a plain range check lets both through."""
from __future__ import annotations

import math


def out_of_range(value: float, low: float = 0.0, *, inclusive: bool = False) -> str | None:
    """What is wrong with `value`, in words, or None when it is a finite number above `low`."""
    wanted = f"a finite number {'>=' if inclusive else '>'} {low:g}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"{value!r} is not {wanted}"
    if not math.isfinite(number) or number < low or (number == low and not inclusive):
        return f"{value} is not {wanted}"
    return None
