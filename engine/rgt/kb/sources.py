"""What kind of page a source is, so every fact can say how sure it is.

A source may say its kind (`kind: user-report`); when it does not, the first rule below whose
pattern its `url` (or `doc`) matches gives it, and a web page no rule knows is a third party's.
A `doc:` no rule knows must say its kind: a document's name tells too little. The rules are
reviewed by hand: a pattern is `official` only for the platform's or tool's own site or its own
GitHub organisation, and issue threads are user reports wherever they live.
"""
from __future__ import annotations

import functools
import re

KINDS = {
    "official": "the platform's or tool's own page: its documentation, console text, API reference or source",
    "third-party": "someone else's page about it: a tutorial, a book, another team's docs",
    "user-report": "what a user saw: a forum post, an issue thread, a user's blog",
    "seed": "the seed profile or ID catalog rgt started from",
}

# The tools' and platforms' own GitHub organisations (their source, docs and commits are official).
_OWN_ORGS = ("pytorch", "vast-ai", "runpod", "Paperspace", "googlecolab", "horovod", "deepspeedai", "NVIDIA",
             "huggingface", "Lightning-AI", "lightning-ai", "kubernetes", "systemd", "irssi",
             "louis-she/featurize-doc",  # the source of docs.featurize.cn, by Featurize's author
             "cbrownstein-lambda/lambda-docs-mkdocs")  # the source of Lambda's docs, by its docs maintainer
_OWN_SITES = (
    # platforms
    r"docs\.runpod\.io", r"(docs\.)?vast\.ai", r"docs\.lambda\.ai", r"docs\.paperspace\.com",
    r"support\.paperspace\.com", r"docs\.digitalocean\.com/(products|reference)/paperspace", r"(www\.)?autodl\.com",
    r"docs\.gpuhub\.com", r"(en\.)?gpushare\.com", r"matpool\.com", r"(www\.)?kaggle\.com/docs",
    r"research\.google\.com/colaboratory", r"docs\.mithril\.ai", r"docs\.coreweave\.com", r"modal\.com/docs",
    r"www\.thundercompute\.com", r"docs\.e2enetworks\.com",
    # tools and systems
    r"(docs\.)?pytorch\.org", r"huggingface\.co/(docs|blog)", r"docs\.nvidia\.com", r"developer\.download\.nvidia\.com",
    r"nvidia\.github\.io", r"nvidia\.custhelp\.com", r"(www\.)?kubernetes\.io", r"slurm\.schedmd\.com", r"docs\.wandb\.ai", r"man7\.org",
    r"manpages\.ubuntu\.com", r"manpages-ps7\.admin\.canonical\.com", r"man\.archlinux\.org", r"man\.freebsd\.org",
    r"(www\.)?gnu\.org", r"www\.freedesktop\.org", r"(docs\.)?kernel\.org", r"docs\.docker\.com", r"docs\.astral\.sh",
    r"pip\.pypa\.io", r"pypi\.org", r"learn\.microsoft\.com", r"docs\.aws\.amazon\.com", r"docs\.amazonaws\.cn",
    r"docs\.redhat\.com", r"docs\.fedoraproject\.org", r"lightning\.ai/docs", r"mmengine\.readthedocs\.io",
    r"scikit-learn\.org", r"docs\.rs", r"winscp\.net", r"dev\.gentoo\.org",
)
_USER_SITES = (
    r"discuss\.pytorch\.org", r"forums\.developer\.nvidia\.com", r"(www\.)?unix\.com(?!/man[-_]page)", r"lists\.ubuntu\.com",
    r"lists\.mindrot\.org", r"alioth-lists\.debian\.net", r"stackoverflow\.", r"[\w.]*stackexchange\.com",
    r"superuser\.com", r"serverfault\.com", r"askubuntu\.com", r"repost\.aws", r"(www\.)?reddit\.com",
    r"blog\.csdn\.net", r"(www\.)?cnblogs\.com", r"(www\.)?codetd\.com", r"yzsam\.com", r"e-com-net\.com",
    r"qiita\.com", r"blog\.youkuaiyun\.com", r"(www\.)?kouhan\.cn", r"pastebin\.com", r"gist\.github\.com",
    r"(www\.)?kaggle\.com/(discussions|competitions/[^/]+/discussion)", r"huggingface\.co/(spaces|datasets|[^/]+/[^/]+/discussions)",
)

URL_RULES: tuple[tuple[str, str], ...] = (
    (r"^https?://(www\.)?github\.com/[^/]+/[^/]+/(issues|pull|discussions)\b", "user-report"),
    (r"^https?://(www\.|raw\.)?github(usercontent)?\.com/(" + "|".join(_OWN_ORGS) + ")/", "official"),
    *((rf"^https?://({site})([/:?#]|$)", "user-report") for site in _USER_SITES),
    *((rf"^https?://({site})([/:?#]|$)", "official") for site in _OWN_SITES),
)
DEFAULT_URL_KIND = "third-party"
DOC_RULES: tuple[tuple[str, str], ...] = (
    (r"^(rgt seed profile|rgt ID catalog|remote-gpu-trainer upstream profile)\b", "seed"),
)


@functools.cache
def _compiled() -> tuple[list, list]:
    # compiled on first use: only building the index reads sources, and ~90 patterns cost a query 5 ms
    return [(re.compile(p, re.I), k) for p, k in URL_RULES], [(re.compile(p), k) for p, k in DOC_RULES]


def inferred_kind(source: dict) -> str | None:
    """The kind the rules give this source; None for a `doc:` no rule knows."""
    urls, docs = _compiled()
    if url := source.get("url"):
        return next((k for rx, k in urls if rx.search(str(url))), DEFAULT_URL_KIND)
    return next((k for rx, k in docs if rx.search(str(source.get("doc", "")))), None)


def has_official(sources: list[dict]) -> bool:
    return any(s.get("kind") == "official" for s in sources)
