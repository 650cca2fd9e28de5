"""Mutated inputs through lint, every parser, render and diagnose: a user's broken file may be
refused, never crash rgt. Bounded so the suite stays fast; the database is off so nothing is
written into the repository."""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from ruamel.yaml import YAML

from rgt.cli import main
from rgt.diagnose import parsers

REPO = Path(__file__).resolve().parent.parent
CLEAN = Path(__file__).parent / "fixtures" / "lint" / "clean"
PROBES = sorted((Path(__file__).parent / "fixtures" / "probes").glob("*.out"))
DOCUMENTED = {0, 1, 2, 3}  # 4 is a bug in rgt
BOUNDED = settings(max_examples=25, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Control characters are in (a C1 character inside an `rgt` block is a GOT004 finding naming its
# line); only lone surrogates are left out, which no UTF-8 file can hold.
_PIECES = st.sampled_from(["```", "---", "```rgt", "null", "~", "1e309", "nan", "-1", ": ", "- ", "{", "[", "'", '"', "#",
                           "|", ">", "*", "&", "!", "%", "\t", "\n", "é", "训练", "\x97", "\x00", "\x1b"])
_TEXT = st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=8) | _PIECES,
                 max_size=6).map("".join)


@st.composite
def mutated(draw, text: str) -> str:
    """`text` with a few lines deleted, doubled, swapped or cut, or new text spliced in."""
    lines = text.splitlines(keepends=True) or [""]
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "double", "swap", "cut", "splice", "replace"]))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "double":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "cut":
            lines[i] = lines[i][:draw(st.integers(0, len(lines[i])))]
        elif op == "splice":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(_TEXT) + lines[i][at:]
        else:
            lines[i] = draw(_TEXT) + "\n"
    return "".join(lines)


def rgt(*args: str, stdin: str = "") -> tuple[int, str, str]:
    """The real entry point in-process (a process per example would be too slow here)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


def rgt_on(name: str, text: str, *args: str) -> tuple[int, str, str]:
    """rgt on `text` saved as a file `name` in a fresh directory; {file} and {dir} in args name them."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text)
        return rgt(*[a.format(file=path, dir=tmp) for a in args])


def _refused_cleanly(code: int, out: str, err: str) -> None:
    assert code in DOCUMENTED, err
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err


SAMPLE = (CLEAN / "profiles" / "sample.md").read_text()


@BOUNDED
@given(mutated(SAMPLE))
def test_mutated_profiles_through_lint(profile):
    with tempfile.TemporaryDirectory() as tmp:
        kb = Path(tmp) / "kb"
        shutil.copytree(CLEAN, kb)
        (kb / "profiles" / "sample.md").write_text(profile)
        _refused_cleanly(*rgt("lint", "--kb", str(kb)))


@BOUNDED
@given(st.sampled_from(PROBES).flatmap(lambda f: st.tuples(st.just(f), mutated(f.read_text()))))
def test_mutated_probe_outputs_through_every_parser(case):
    fixture, text = case
    own = fixture.name.split("--")[0]
    for name in [own] + [n for n in parsers.names() if n != own]:  # each parser may meet any output
        parsers.get(name).parse(text)


JOB = (REPO / "examples" / "job.yaml").read_text()
YAML_SAFE = YAML(typ="safe", pure=True)


@BOUNDED
@given(mutated(JOB))
def test_mutated_job_specs_through_render(job):
    _refused_cleanly(*rgt_on("job.yaml", job, "render", "--platform", "vastai", "--job", "{file}", "--out", "{dir}/out"))


_VALUE = st.recursive(st.none() | st.booleans() | st.integers(-2, 10**6) | st.floats() | _TEXT,
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
                      max_leaves=5)


@st.composite
def job_changes(draw) -> dict:
    """Keys of the job spec (and a stranger), each set to a value of any shape or deleted."""
    from rgt.render.spec import JobSpec, Kubernetes, Slurm
    changes: dict = {}
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from([None, "slurm", "kubernetes", "queue"]))
        model = {None: JobSpec, "slurm": Slurm, "kubernetes": Kubernetes, "queue": None}[section]
        if model is None:
            cell = draw(st.dictionaries(st.sampled_from(["name", "args", "env", "nmae"]), _VALUE, max_size=3))
            changes["queue"] = [cell, *draw(st.lists(st.just({"name": "b"}), max_size=1))]
            continue
        key = draw(st.sampled_from([*model.model_fields, "colour"]))
        if section is not None and not isinstance(changes.get(section), dict):
            changes[section] = {}  # a section drawn as a top-level key with a scalar value is replaced
        target = changes if section is None else changes[section]
        target[key] = draw(st.none() | _VALUE)  # None: the key left empty, so its default applies
    return changes


@settings(BOUNDED, max_examples=50)  # in-process and quick, so more shapes than the text mutations
@given(job_changes())
def test_job_spec_of_any_shape_is_refused_in_one_line_or_renders(changes):
    data = json.loads(json.dumps(YAML_SAFE.load(JOB)))
    data.update(changes)
    _refused_cleanly(*rgt_on("job.yaml", json.dumps(data), "render", "--platform", "vastai", "--job", "{file}",
                             "--out", "{dir}/out"))


def _capture_text(outputs: dict[str, str]) -> str:
    stdout = "".join(f"\n@@RGT BEGIN {pid}@@\n{text}\n@@RGT END {pid} rc=0@@\n" for pid, text in outputs.items())
    return json.dumps({"version": 1, "host": "box", "rc": 0, "stdout": stdout, "stderr": "", "command": "bash -s"})


def _probe_id(fixture: Path) -> str:
    return fixture.name.split("--")[0]


def _outputs(most: int):
    """Mutated outputs of up to `most` probes, under their probe ids."""
    return st.lists(st.sampled_from(PROBES), min_size=1, max_size=most).flatmap(
        lambda fs: st.tuples(*[mutated(f.read_text()).map(lambda t, f=f: (_probe_id(f), t)) for f in fs]))


@BOUNDED
@given(_outputs(6), st.sampled_from([None, "paperspace", "vastai", "autodl"]))
def test_mutated_captures_through_diagnose(outputs, platform):
    args = ["diagnose", "run vanished at 6h, exit 137, disk full", "--capture", "{file}", "--json"]
    _refused_cleanly(*rgt_on("cap.json", _capture_text(dict(outputs)), *args, *(["-p", platform] if platform else [])))


@settings(max_examples=10, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(_capture_text({"kernel_log": "Out of memory: Killed process 7 (python)"}).replace(", ", ",\n")))
def test_mutated_capture_files_through_diagnose(capture):
    _refused_cleanly(*rgt_on("cap.json", capture, "diagnose", "run vanished", "--capture", "{file}"))


@settings(max_examples=6, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(_outputs(4))
def test_mutated_captures_through_the_installed_binary(outputs):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cap.json"
        path.write_text(_capture_text(dict(outputs)))
        done = subprocess.run([str(Path(sys.executable).parent / "rgt"), "diagnose", "the run died", "--capture",
                               str(path), "--json"], capture_output=True, text=True, timeout=60)
        _refused_cleanly(done.returncode, done.stdout, done.stderr)
        if done.returncode in (0, 1):
            json.loads(done.stdout)
