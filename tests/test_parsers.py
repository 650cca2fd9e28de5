"""Probe parsers against captured output (STYLE item 8).

Every `tests/fixtures/probes/<parser>--<scenario>.out` is parsed by the registered parser named
before `--` and compared with the sibling `.json` ({observation name: value}). Where each
capture came from is in `tests/fixtures/probes/SOURCES.md`.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from rgt.diagnose import parsers
from rgt.diagnose.observation import Observation

FIXTURES = Path(__file__).parent / "fixtures" / "probes"
PARSERS_DIR = Path(parsers.__file__).parent
PAIRS = sorted(FIXTURES.glob("*--*.out"))

_TYPES = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, float) and math.isfinite(v),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "list[int]": lambda v: isinstance(v, list)
    and all(isinstance(x, int) and not isinstance(x, bool) for x in v),
    "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "list[dict]": lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
}


def _parser_name(path: Path) -> str:
    return path.name.split("--", 1)[0]


def _check_declared(name: str, result: dict) -> None:
    """Every observation is declared in OBSERVES, typed as declared, and carries one line."""
    module = parsers.get(name)
    nullable = getattr(module, "NULLABLE", set())
    for obs_name, ob in result.items():
        assert isinstance(ob, Observation), f"{name}: {obs_name} is not an Observation"
        assert obs_name in module.OBSERVES, f"{name}: {obs_name} is not declared in OBSERVES"
        declared = module.OBSERVES[obs_name]
        if ob.value is None:
            assert obs_name in nullable, f"{name}: {obs_name} is None but not in NULLABLE"
        else:
            assert _TYPES[declared](ob.value), (
                f"{name}: {obs_name}={ob.value!r} is not a {declared}")
        assert isinstance(ob.line, str) and "\n" not in ob.line, f"{name}: {obs_name} line"


def test_fixtures_exist() -> None:
    assert PAIRS, f"no fixture pairs under {FIXTURES}"


@pytest.mark.parametrize("name", parsers.names())
def test_every_parser_has_a_fixture_pair(name: str) -> None:
    mine = [p for p in PAIRS if _parser_name(p) == name and p.with_suffix(".json").exists()]
    assert mine, f"parser {name!r} has no {name}--<scenario>.out/.json pair in {FIXTURES}"


@pytest.mark.parametrize("name", parsers.names())
def test_observes_uses_known_types(name: str) -> None:
    module = parsers.get(name)
    assert module.OBSERVES, f"{name}: empty OBSERVES"
    for obs_name, type_name in module.OBSERVES.items():
        assert type_name in _TYPES, f"{name}: {obs_name} has unknown type {type_name!r}"
    assert set(getattr(module, "NULLABLE", set())) <= set(module.OBSERVES)


def test_fixture_files_are_paired_and_registered() -> None:
    outs = {p.with_suffix("") for p in FIXTURES.glob("*.out")}
    jsons = {p.with_suffix("") for p in FIXTURES.glob("*.json")}
    assert outs == jsons, f"unpaired: {sorted(str(p.name) for p in outs ^ jsons)}"
    unknown = {_parser_name(p) for p in PAIRS} - set(parsers.names())
    assert not unknown, f"fixtures for unregistered parsers: {sorted(unknown)}"


def test_every_fixture_is_sourced() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    missing = [p.name for p in PAIRS if f"`{p.name}`" not in sources]
    assert not missing, f"fixtures without a line in SOURCES.md: {missing}"


def _same(actual, expected) -> bool:
    if isinstance(expected, float) and not isinstance(actual, bool):
        return isinstance(actual, (int, float)) and actual == pytest.approx(expected, abs=1e-9)
    return actual == expected and type(actual) is type(expected)


@pytest.mark.parametrize("out", PAIRS, ids=[p.stem for p in PAIRS])
def test_parser_on_capture(out: Path) -> None:
    name = _parser_name(out)
    expected = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    text = out.read_text(encoding="utf-8")
    result = parsers.get(name).parse(text)
    _check_declared(name, result)
    values = {k: v.value for k, v in result.items()}
    assert set(values) == set(expected), (
        f"names differ: got {sorted(values)}, want {sorted(expected)}")
    for key, want in expected.items():
        assert _same(values[key], want), f"{key}: got {values[key]!r}, want {want!r}"
    # the justifying line is one line of the output, or "" for an absence
    lines = set(text.splitlines())
    for key, ob in result.items():
        assert ob.line == "" or ob.line in lines, f"{key}: line not in output: {ob.line!r}"


@pytest.mark.parametrize("name", parsers.names())
@pytest.mark.parametrize("text", ["", "\n", "   \n\n"], ids=["empty", "newline", "blank"])
def test_empty_input_invents_nothing(name: str, text: str) -> None:
    """Empty output never yields a reading. The only thing a parser may say about it is that its
    source was unreadable (kernel_log_readable: False), which can rule nothing out."""
    result = parsers.get(name).parse(text)
    _check_declared(name, result)
    for obs_name, ob in result.items():
        assert ob.value is False and obs_name.endswith("_readable"), (
            f"{name}: invented {obs_name}={ob.value!r} from empty input")


MARKED = [p for p in PAIRS if re.search(r"^rgt-done rc=\d+\s*$", p.read_text(encoding="utf-8"), re.M)]


@pytest.mark.parametrize("out", MARKED, ids=[p.stem for p in MARKED])
def test_marker_only_adds_readings(out: Path) -> None:
    """A probe's closing `rgt-done rc=N` line turns "found nothing" into a reading. Output cut
    before it (a timeout, a killed shell) may lose readings but never changes one."""
    name = _parser_name(out)
    text = out.read_text(encoding="utf-8")
    cut = "\n".join(ln for ln in text.splitlines() if not re.match(r"^rgt-done rc=", ln))
    full = {k: v.value for k, v in parsers.get(name).parse(text).items()}
    partial = {k: v.value for k, v in parsers.get(name).parse(cut).items()}
    _check_declared(name, parsers.get(name).parse(cut))
    assert set(partial) <= set(full), f"{name}: {sorted(set(partial) - set(full))} only without marker"
    for key, value in partial.items():
        assert _same(value, full[key]), f"{key}: {value!r} without the marker, {full[key]!r} with it"


@pytest.mark.parametrize("source", sorted(PARSERS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_parsers_run_nothing(source: Path) -> None:
    """Parsers turn text into observations: no subprocess, no shell, no transport."""
    text = source.read_text(encoding="utf-8")
    imports = re.findall(r"^\s*(?:import|from)\s+([\w.]+)", text, re.MULTILINE)
    banned_modules = ("subprocess", "paramiko", "socket", "pexpect", "asyncio",
                      "rgt.diagnose.transport")
    for banned in banned_modules:
        assert not any(m == banned or m.startswith(banned + ".") for m in imports), (
            f"{source.name} imports {banned}")
    runs = re.search(r"\bos\.(?:system|popen|exec\w*|spawn\w*)\b", text)
    assert not runs, f"{source.name} runs commands"
