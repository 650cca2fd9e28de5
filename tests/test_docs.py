"""Docs that cannot drift: generated README blocks, SKILL.md's commands and paths."""
from __future__ import annotations

import re

import frontmatter

from rgt import docs
from rgt.cli import cli


def test_readme_generated_blocks_are_current(repo):
    readme = (repo / "README.md").read_text()
    assert docs.render(readme) == readme, "run `python -m rgt.docs README.md`"


def test_readme_quick_start_is_two_commands_and_ci_runs_the_second(repo):
    readme = (repo / "README.md").read_text()
    block = re.search(r"## Quick start.*?```sh\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    assert len(block) == 2
    assert block[1] in (repo / ".ci" / "run").read_text()


def test_skill_frontmatter_commands_and_paths(repo):
    post = frontmatter.load(repo / "SKILL.md")
    assert post["name"] == "rgt" and 50 < len(post["description"]) <= 1024
    assert len(post.content.splitlines()) <= 120
    for cmd in set(re.findall(r"\brgt ([a-z]+)\b", post.content)):
        assert cmd in cli.commands, f"SKILL.md names `rgt {cmd}`, which does not exist"
    for path in set(re.findall(r"`((?:profiles|references|scripts|templates)/[^`*<>]+)`", post.content)):
        assert (repo / path).exists(), f"SKILL.md links {path}, which does not exist"
