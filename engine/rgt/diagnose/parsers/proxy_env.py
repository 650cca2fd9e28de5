"""proxy_env: `env | grep -iE '^(https?|no|all)_proxy='` with credentials masked as `//***@`.

proxy_set is True when http_proxy, https_proxy or all_proxy (any case) has a value. Output
holding only no_proxy lines shows the environment was read and no proxy is set: False. Empty
output (nothing matched, or the probe did not run) yields nothing.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "proxy_set": "bool",
}

_VAR = re.compile(r"^(https?|no|all)_proxy=(.*)$", re.IGNORECASE)


def parse(text: str) -> Observations:
    matched = [(m.group(1).lower(), m.group(2).strip(), ln)
               for ln in content_lines(text) if (m := _VAR.match(ln))]
    if not matched:
        return {}
    proxy = next((ln for kind, value, ln in matched if kind != "no" and value), "")
    return {"proxy_set": obs(bool(proxy), proxy)}
