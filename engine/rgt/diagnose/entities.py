"""Pull what matters out of how a user describes a failure: durations, exit codes, Xids, key
phrases. English and Chinese; numbers are what rules compare, words are what ranking boosts."""
from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(
    r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>hours?|hrs?|h|小时|个小时|minutes?|mins?|m|分钟|days?|d|天)(?![a-z])", re.I)
_UNIT_HOURS = {"h": 1, "hr": 1, "hrs": 1, "hour": 1, "hours": 1, "小时": 1, "个小时": 1,
               "m": 1 / 60, "min": 1 / 60, "mins": 1 / 60, "minute": 1 / 60, "minutes": 1 / 60, "分钟": 1 / 60,
               "d": 24, "day": 24, "days": 24, "天": 24}
_EXIT = re.compile(r"(?:exit(?:ed)?(?:\s+(?:code|status))?|return code|rc|退出码)\s*[:=]?\s*(-?\d{1,3})\b", re.I)
_BARE_137 = re.compile(r"\b(137|139|143)\b")
# "Xid 79", "xid: 79", and the driver's own line "NVRM: Xid (PCI:0000:3b:00): 79, pid=..."
_XID = re.compile(r"\bxid\s*(?:\(pci:[^)]*\))?\s*[:#]?\s*(\d{1,3})\b", re.I)
_KILLED = re.compile(r"\bkilled\b|sigkill|signal 9|\bkill -9\b|被kill|被杀|被干掉", re.I)
_NO_SPACE = re.compile(r"no space left|enospc|errno 28\b|disk (?:is )?full|磁盘(?:已)?满|空间不足|硬盘满|数据盘满", re.I)
_DISK_PCT = re.compile(r"(?:df|disk|磁盘|used|使用)[^%\n]{0,20}?(\d{1,3})\s*%|(\d{1,3})\s*%\s*(?:used|full|disk)", re.I)
_CUDA_OOM = re.compile(r"cuda out of memory|cuda oom|outofmemoryerror|显存不足|显存爆|显存溢出", re.I)

# Words a user's entity implies, added to the search so the right gotchas surface.
EXPANSIONS = {
    "said_killed": "killed oom memory sigkill",
    "said_no_space": "no space left disk full inodes",
    "said_cuda_oom": "cuda out of memory vram",
}


_NUMBER_WORDS = {"an": 1, "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
                 "twenty": 20, "twenty-four": 24, "thirty": 30, "forty-eight": 48}
_WORD_DURATION = re.compile(r"\b(" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\s+(hours?|days?|minutes?)\b", re.I)


def extract(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {name: None for name in
                             ("said_hours", "said_exit_code", "said_xid", "said_disk_pct")}
    if m := _DURATION.search(text):
        found["said_hours"] = round(float(m.group("n")) * _UNIT_HOURS[m.group("unit").lower()], 3)
    elif m := _WORD_DURATION.search(text):
        found["said_hours"] = round(_NUMBER_WORDS[m.group(1).lower()] * _UNIT_HOURS[m.group(2).lower()], 3)
    if m := _EXIT.search(text):
        found["said_exit_code"] = int(m.group(1))
    elif m := _BARE_137.search(text):
        found["said_exit_code"] = int(m.group(1))
    if m := _XID.search(text):
        found["said_xid"] = int(m.group(1))
    if m := _DISK_PCT.search(text):
        found["said_disk_pct"] = int(m.group(1) or m.group(2))
    found["said_killed"] = bool(_KILLED.search(text)) or found["said_exit_code"] in (137, -9)
    found["said_no_space"] = bool(_NO_SPACE.search(text))
    found["said_cuda_oom"] = bool(_CUDA_OOM.search(text))
    return found


def near_clock(hours: float | None, clocks: list[float]) -> bool | None:
    """Does a duration the user named match one of the platform's clocks (within 10 %)?"""
    if hours is None:
        return None
    return any(abs(hours - c) <= 0.1 * c for c in clocks if c)


def expansion(entities: dict[str, Any]) -> str:
    words = [EXPANSIONS[k] for k, v in entities.items() if v is True and k in EXPANSIONS]
    if entities.get("said_exit_code") in (137, -9):
        words.append(EXPANSIONS["said_killed"] + " 137")
    if entities.get("said_xid") is not None:
        words.append(f"xid {entities['said_xid']} gpu")
    return " ".join(words)
