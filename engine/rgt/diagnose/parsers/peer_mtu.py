"""peer_mtu: the interface towards the running job's MASTER_ADDR, its MTU, and two pings.

    peer=10.1.0.5 dev=ens3 mtu=9000     resolved MASTER_ADDR, route device, that device's MTU
    small_ok=1                          don't-fragment ping of 1472 bytes got its reply (1) or not (0)
    mtu_ok=0                            don't-fragment ping filling the MTU (MTU - 28) likewise

The probe prints nothing when no running Python process has MASTER_ADDR in its environment (or it
does not resolve): then nothing is reported. A route through `lo` (MASTER_ADDR is this host)
also reports nothing: no frame leaves the host. The ping lines are missing when `ping` is not
installed, and then only peer_dev_mtu is reported. A ping that fails proves little by itself
(ICMP may be filtered); the rules compare the two.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, obs

OBSERVES: dict[str, str] = {
    "peer_dev_mtu": "int",      # MTU of the interface that routes to MASTER_ADDR
    "small_ping_ok": "bool",    # 1500-byte frame, don't fragment
    "mtu_ping_ok": "bool",      # frame filling the interface MTU, don't fragment
}

_PEER = re.compile(r"^peer=(\S+) dev=(\S*) mtu=(\d*)\s*$")
_PING = re.compile(r"^(small_ok|mtu_ok)=(\d+)\s*$")


def parse(text: str) -> Observations:
    lines = content_lines(text)
    found = next(((m, ln) for ln in lines if (m := _PEER.match(ln.strip()))), None)
    if found is None:
        return {}
    peer, peer_line = found
    if not peer.group(2) or peer.group(2) == "lo" or not peer.group(3):
        return {}
    out: Observations = {"peer_dev_mtu": obs(int(peer.group(3)), peer_line)}
    names = {"small_ok": "small_ping_ok", "mtu_ok": "mtu_ping_ok"}
    for ln in lines:
        m = _PING.match(ln.strip())
        if m and names[m.group(1)] not in out:
            out[names[m.group(1)]] = obs(int(m.group(2)) > 0, ln)
    return out
