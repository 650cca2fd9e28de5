"""proxy_env: `{ env | grep -iE '^(https?|no|all)_proxy='; echo "rgt-done rc=$?"; } | sed ...`,
credentials masked as `//***@`, then grep's exit status.

proxy_set is True when http_proxy, https_proxy or all_proxy (any case) has a value, and False
when the environment was read and none has one: only no_proxy lines, or no line at all with
`rgt-done rc=1` (grep matched nothing). Output without the marker, or with another status
(grep failed), yields nothing unless a proxy line shows.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, done, obs

OBSERVES: dict[str, str] = {
    "proxy_set": "bool",
}

_VAR = re.compile(r"^(https?|no|all)_proxy=(.*)$", re.IGNORECASE)


def parse(text: str) -> Observations:
    lines = content_lines(text)
    matched = [(m.group(1).lower(), m.group(2).strip(), ln)
               for ln in lines if (m := _VAR.match(ln))]
    if matched:
        proxy = next((ln for kind, value, ln in matched if kind != "no" and value), "")
        return {"proxy_set": obs(bool(proxy), proxy or matched[0][2])}
    closing = done(lines)
    if closing is not None and closing[0] == 1:
        return {"proxy_set": obs(False, closing[1])}
    return {}
