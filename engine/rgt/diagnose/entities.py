"""Pull what matters out of how a user describes a failure: durations, exit codes, Xids, key
phrases. English and Chinese; numbers are what rules compare, words are what ranking boosts."""
from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(
    r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>weeks?|wks?|w|months?|hours?|hrs?|h|小时|个小时|minutes?|mins?|m|分钟|"
    r"days?|d|天|个?星期|周|个月)(?![a-z])", re.I)
_UNIT_HOURS = {"h": 1, "hr": 1, "hrs": 1, "hour": 1, "hours": 1, "小时": 1, "个小时": 1,
               "m": 1 / 60, "min": 1 / 60, "mins": 1 / 60, "minute": 1 / 60, "minutes": 1 / 60, "分钟": 1 / 60,
               "d": 24, "day": 24, "days": 24, "天": 24,
               "w": 168, "wk": 168, "wks": 168, "week": 168, "weeks": 168, "星期": 168, "个星期": 168, "周": 168,
               "month": 720, "months": 720, "个月": 720}
_EXIT = re.compile(r"(?:exit(?:ed)?(?:\s+(?:code|status))?|return code|rc|退出码)\s*[:=]?\s*(-?\d{1,3})\b", re.I)
_BARE_137 = re.compile(r"\b(137|139|143)\b")
# "Xid 79", "xid: 79", and the driver's own line "NVRM: Xid (PCI:0000:3b:00): 79, pid=..."
_XID = re.compile(r"\bxid\s*(?:\(pci:[^)]*\))?\s*[:#]?\s*(\d{1,3})\b", re.I)
_KILLED = re.compile(r"\bkilled\b|sigkill|signal 9|\bkill -9\b|被kill|被杀|被干掉", re.I)
_NO_SPACE = re.compile(r"no space left|enospc|errno 28\b|disk (?:is )?full|磁盘(?:已)?满|空间不足|硬盘满|数据盘满", re.I)
_DISK_PCT = re.compile(r"(?:df|disk|磁盘|used|使用)[^%\n]{0,20}?(\d{1,3})\s*%|(\d{1,3})\s*%\s*(?:used|full|disk)", re.I)
_MULTI_NODE = re.compile(r"\b(?:\d+|two|three|four|eight|several|multiple)[- ]?(?:nodes?|machines|hosts|servers)\b|"
                         r"\bmulti[- ]?node\b|\bacross (?:nodes|machines)\b|\binter-?node\b|"
                         r"多机|多节点|跨节点|跨机|[两三四八]台(?:机器|服务器)|[两三四八]个节点", re.I)
_CUDA_OOM = re.compile(r"cuda out of memory|cuda oom|outofmemoryerror|显存不足|显存爆|显存溢出", re.I)
# The precision the run trains in, as configs and users write it. `float16` must not match inside
# `bfloat16`; "amp" and "mixed precision" name no precision (autocast may mean either).
_PRECISIONS = {
    "fp16": re.compile(r"\bfp16\b|(?<![a-z])float16\b|\bhalf[- ]precision\b|\b16-mixed\b|半精度", re.I),
    "bf16": re.compile(r"\bbf16\b|\bbfloat16\b|\bbf16-mixed\b", re.I),
    "fp32": re.compile(r"\bfp32\b|(?<![a-z])float32\b|\bfull[- ]precision\b|\b32-true\b|单精度|全精度", re.I),
}
# A mention the user denies ("no CUDA OOM message", "not using fp16", "没有被kill") is not said: an
# English negation up to three words before it, or a Chinese one right before it, in the same
# clause. Hedges ("not sure why it was killed") deny nothing.
_NEGATION = re.compile(r"(?:\b(?:no|not|without|never|nor)\b|n't\b)(?:\s+[\w.-]+){0,3}\s*$"
                       r"|(?:没有|没|并非|不是)(?:被|报|出现|遇到|发生)?\s*$", re.I)
_HEDGE = re.compile(r"\b(?:not sure|no idea|no clue|not clear|not certain|(?:do|did)n'?t know)\b", re.I)
_CLAUSE = re.compile(r"[,.;:!?()\n，。；：！？]|\b(?:but|and|or|then|yet|so|however|because|since|when|while|"
                     r"after|before|until|which|that)\b|但是|但|然后|而且|因为|结果", re.I)

# Words a user's entity implies, added to the search so the right gotchas surface.
EXPANSIONS = {
    "said_killed": "killed oom memory sigkill",
    "said_no_space": "no space left disk full inodes",
    "said_cuda_oom": "cuda out of memory vram",
    "said_multinode": "multi-node nodes nccl rendezvous",
}


_NUMBER_WORDS = {"an": 1, "a": 1, "one": 1, "two": 2, "a couple of": 2, "couple of": 2, "three": 3, "four": 4,
                 "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
                 "fourteen": 14, "fifteen": 15, "twenty": 20, "twenty-four": 24, "thirty": 30, "forty-eight": 48,
                 "half a": 0.5, "half an": 0.5}
_WORD_DURATION = re.compile(r"\b(" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) +
                            r")\s+(hours?|days?|minutes?|weeks?|months?)\b", re.I)
# Chinese numerals as users write durations: 三个星期, 两天, 十五天, 半个月, 十二个小时
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_DURATION = re.compile(r"(半|[一二两三四五六七八九十]{1,3})\s*(个小时|小时|天|个星期|星期|周|个月)")
# Durations said without a number, as the hours they usually mean
_PHRASES = {"overnight": 12, "over the weekend": 48, "a weekend": 48, "half a day": 12, "a fortnight": 336,
            "通宵": 12, "一晚上": 12, "一夜": 12, "过夜": 12, "周末": 48, "半天": 12}


def _cn_number(text: str) -> float:
    """半 → 0.5, 三 → 3, 十五 → 15, 二十 → 20, 二十四 → 24."""
    if text == "半":
        return 0.5
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + _CN_DIGITS.get(ones, 0)
    return _CN_DIGITS.get(text, 0)


def _hours(text: str) -> float | None:
    """The first duration the text names, in hours: digits and units, number words, Chinese numerals,
    or a phrase such as "overnight"."""
    if m := _DURATION.search(text):
        return float(m.group("n")) * _UNIT_HOURS[m.group("unit").lower()]
    if m := _WORD_DURATION.search(text):
        unit = m.group(2).lower()
        return _NUMBER_WORDS[m.group(1).lower()] * _UNIT_HOURS[unit if unit in _UNIT_HOURS else unit + "s"]
    if m := _CN_DURATION.search(text):
        return _cn_number(m.group(1)) * _UNIT_HOURS[m.group(2)]
    lowered = text.lower()
    return next((float(h) for phrase, h in _PHRASES.items() if phrase in lowered), None)


def _said(pattern: re.Pattern, text: str) -> bool:
    """The text names it at least once without denying it."""
    return any(not _denied(text[:m.start()]) for m in pattern.finditer(text))


def _denied(before: str) -> bool:
    clause = _HEDGE.sub(" ", _CLAUSE.split(before)[-1])  # only the clause the mention is in
    return bool(_NEGATION.search(clause))


def _precision(text: str) -> str | None:
    """fp16, bf16 or fp32 when the text names exactly one (undenied); "fp32 works, fp16 gives nan"
    names two and says nothing about which one failed."""
    named = [name for name, pattern in _PRECISIONS.items() if _said(pattern, text)]
    return named[0] if len(named) == 1 else None


def extract(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {name: None for name in
                             ("said_hours", "said_exit_code", "said_xid", "said_disk_pct")}
    if (hours := _hours(text)) is not None:
        found["said_hours"] = round(hours, 3)
    if m := _EXIT.search(text):
        found["said_exit_code"] = int(m.group(1))
    elif m := _BARE_137.search(text):
        found["said_exit_code"] = int(m.group(1))
    if m := _XID.search(text):
        found["said_xid"] = int(m.group(1))
    if m := _DISK_PCT.search(text):
        found["said_disk_pct"] = int(m.group(1) or m.group(2))
    found["said_killed"] = _said(_KILLED, text) or found["said_exit_code"] in (137, -9)
    found["said_no_space"] = _said(_NO_SPACE, text)
    found["said_cuda_oom"] = _said(_CUDA_OOM, text)
    found["said_multinode"] = _said(_MULTI_NODE, text)
    found["said_precision"] = _precision(text)
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


# A failure report names something that went wrong; a request for advice ("what learning rate
# should I use", "explain how DDP works", "什么是混合精度") names none, and rgt diagnoses failures,
# so it answers such text with no_match instead of the gotchas that share its words.
_FAILURE = re.compile(
    r"\b(?:error|errors|fail\w*|crash\w*|hang\w*|hung|stuck|freez\w*|frozen|killed|kill|died|dies|dead|gone|vanish\w*|lost|"
    r"missing|slow\w*|nan|inf|oom|out of memory|exception|traceback|refus\w*|cannot|can't|cant|won't|doesn't|doesnt|"
    r"didn't|didnt|isn't|not working|broken|wrong|mismatch|timeout|timed out|stops?|stopped|never|no longer|empty|"
    r"spikes?|diverg\w*|explod\w*|deleted|billed|charged|still|exit|signal|warning|instead|only|suddenly|keeps?|"
    r"disappear\w*|restart\w*|drops?|dropped|stalls?|stalled|blank|zero|same|again|weird|strange|why)\b"
    r"|报错|错误|失败|卡住|卡死|卡在|挂了|挂掉|崩|没了|丢|慢|不动|不行|不了|无法|不能|爆|溢出|超时|断了|掉了|异常|警告|扣费|"
    r"删除|清空|变成|突然|一直|还是|却|没有|不对|不下降|不收敛|重启|消失|满了|为什么|怎么回事|咋", re.I)
_ADVICE = re.compile(
    r"^\s*(?:what(?:'s|s| is| are)?\b|which\b|how (?:do|should|can|to|does|much|many)\b|explain\b|compare\b|is (?:it|there|fsdp|deepspeed|the)\b|"
    r"should i\b|recommend\b|write\b|give me\b|tell me\b|can you\b|any (?:tips|advice)\b|best way\b|summari[sz]e\b)"
    r"|\b(?:better choice|worth it|vs\.?)\b"
    r"|什么是|是什么|怎么用|如何|有什么区别|区别|推荐|多少|哪个好|解释一下|介绍|有哪些", re.I)

def asks_for_advice(text: str) -> bool:
    """True for a request for advice or explanation that reports no failure."""
    return bool(_ADVICE.search(text)) and not _FAILURE.search(text)
