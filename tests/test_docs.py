"""Docs that cannot drift: generated README blocks, SKILL.md's commands and paths."""
from __future__ import annotations

import re

import frontmatter

from rgt import docs
from rgt.cli import commands


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
        assert cmd in commands(), f"SKILL.md names `rgt {cmd}`, which does not exist"
    for path in set(re.findall(r"`((?:profiles|references|scripts|templates)/[^`*<>]+)`", post.content)):
        assert (repo / path).exists(), f"SKILL.md links {path}, which does not exist"


def test_skill_platform_line_is_generated_from_the_profiles(repo):
    """The agent's first call failed on a missing --variant: SKILL.md lists every slug and, where
    there are several, its variants, in one line that cannot drift from the profiles."""
    skill = (repo / "SKILL.md").read_text()
    assert "<!-- platforms -->" in skill
    assert docs.render(skill) == skill, "run `python -m rgt.docs SKILL.md`"
    line = re.search(r"<!-- platforms -->\n(.*?)\n<!-- /platforms -->", skill, re.S).group(1)
    assert len(line.splitlines()) == 1
    for slug in (p.stem for p in (repo / "profiles").glob("*.md") if not p.name.startswith("_")):
        assert re.search(rf"`{slug}`", line), slug
    assert "`paperspace` (gradient, gradient-free, core)" in line and "`runpod` (secure, community)" in line


def test_skill_routes_training_failures_and_pasted_logs_to_diagnose_and_reads_brief(repo):
    skill = (repo / "SKILL.md").read_text()
    assert "--local" in skill and "rgt show ID --brief --json" in skill
    route = next(ln for ln in skill.splitlines() if "NaN" in ln)
    assert all(w in route for w in ("OOM", "NCCL", "resume")), route
    assert re.search(r"rgt diagnose - .*--json", skill)  # a pasted log goes in on stdin


def test_readme_examples_run_as_written_after_the_quick_start(repo):
    """The examples call a bare `rgt`: the quick start must leave it on PATH (an activated venv)
    before its first bare `rgt`, and every example must name a real command."""
    readme = (repo / "README.md").read_text()
    first = re.search(r"## Quick start.*?```sh\n(.*?)\n", readme, re.S).group(1)
    steps = [s.strip() for s in first.split("&&")]
    bare = next(i for i, s in enumerate(steps) if s.startswith("rgt "))
    assert ". .venv/bin/activate" in steps[:bare], steps
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        for cmd in re.findall(r"^rgt ([a-z]+)", block, re.M):
            assert cmd in commands(), f"README runs `rgt {cmd}`, which does not exist"


def test_every_command_module_is_reachable_from_the_lazy_group():
    """A command added to a module but not to MODULES would silently not exist."""
    import importlib
    import pkgutil

    import rgt.cli as package

    declared = set()
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"rgt.cli.{info.name}")
        declared |= {c.name for c in getattr(module, "COMMANDS", [])}
    assert declared == set(commands())


def test_every_command_takes_kb_and_json_except_mcp():
    for name, cmd in commands().items():
        params = {p.name for p in cmd.params}
        assert "kb" in params, f"rgt {name} has no --kb"
        assert ("as_json" in params) == (name != "mcp"), name


def test_every_exit_status_is_in_the_readme_table(repo):
    from rgt.errors import Exit
    readme = (repo / "README.md").read_text()
    for status in Exit:
        assert re.search(rf"^\| {int(status)} \| \S", readme, re.M), status
