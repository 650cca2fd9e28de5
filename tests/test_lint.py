"""Every lint code has a failing sample that fires that code and no other; the clean sample is clean."""
from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pytest

from rgt.api import observable
from rgt.kb.codes import CODES
from rgt.kb.lint import lint as lint_kb
from rgt.kb.parse import load_kb

from helpers import run


def lint(kb):
    return lint_kb(kb, observable())

SAMPLES = Path(__file__).parent / "fixtures" / "lint"
CLEAN = SAMPLES / "clean"
TARGET = {".probes.md": "references/probes.md", ".universal.md": "references/gotchas_universal.md", ".md": "profiles/sample.md"}


def sample_for(code: str) -> tuple[Path, str]:
    for suffix, target in TARGET.items():
        path = SAMPLES / f"{code}{suffix}"
        if path.exists():
            return path, target
    raise AssertionError(f"lint code {code} has no failing sample under {SAMPLES}")


def kb_with(tmp_path: Path, sample: Path, target: str) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(CLEAN, root)
    shutil.copy(sample, root / target)
    return root


def lint_edited(tmp_path: Path, old: str, new: str) -> tuple[list, int]:
    """Lint the clean knowledge base with one line of its sample profile rewritten; the findings
    and the file line of the rewritten text."""
    root = kb_with(tmp_path, CLEAN / "profiles" / "sample.md", "profiles/sample.md")
    page = root / "profiles" / "sample.md"
    text = page.read_text().replace(old, new)
    page.write_text(text)
    return lint(load_kb(root)), next(i for i, line in enumerate(text.splitlines(), 1) if new in line)


def test_clean_sample_has_no_findings():
    assert [str(f) for f in lint(load_kb(CLEAN))] == []


@pytest.mark.parametrize("code", sorted(CODES))
def test_each_code_fires_alone_on_its_sample(code, tmp_path):
    sample, target = sample_for(code)
    findings = lint(load_kb(kb_with(tmp_path, sample, target)))
    assert {f.code for f in findings} == {code}, [str(f) for f in findings]
    assert all(f.line >= 1 and f.file for f in findings)


def test_every_sample_file_names_a_registered_code():
    for path in SAMPLES.glob("*.md"):
        assert path.name.split(".")[0] in CODES, f"{path.name} names no registered code"


def test_cli_reports_file_line_code_and_exits_1(capsys, tmp_path):
    root = kb_with(tmp_path, *sample_for("LNK001"))
    r = run(capsys, "lint", "--kb", str(root))
    assert r.code == 1
    assert r.out.strip() == f"{root}/profiles/sample.md:44: LNK001 U99 is not defined anywhere"


def test_lint_never_rewrites_the_files_it_reads(capsys, tmp_path):
    root = kb_with(tmp_path, *sample_for("FM001"))
    before = tmp_path / "before"
    shutil.copytree(root, before)
    assert run(capsys, "lint", "--kb", str(root)).code == 1
    cmp = filecmp.dircmp(root, before)
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only


def test_several_problems_are_all_reported_with_their_lines(capsys, tmp_path):
    """The issue's acceptance: broken frontmatter, dangling U99, duplicate ID, missing Fix."""
    root = tmp_path / "kb"
    shutil.copytree(CLEAN, root)
    (root / "profiles" / "broken.md").write_text((SAMPLES / "FM001.md").read_text().replace("sample", "broken"))
    text = (CLEAN / "profiles" / "sample.md").read_text()
    text = text.replace("see U1.", "see U99.").replace("**Fix:** raise the timer before the run.\n\n", "")
    (root / "profiles" / "sample.md").write_text(text)
    uni = (root / "references" / "gotchas_universal.md")
    uni.write_text(uni.read_text() + "\n### GEN1 — Also here\n\n**Symptom:** a.\n\n**Cause:** b.\n\n**Fix:** c.\n\n"
                   "```rgt\naka: [x]\nsources:\n  - {doc: d, kind: seed, checked: 2026-11-22}\n```\n")
    r = run(capsys, "lint", "--kb", str(root), "--json")
    assert r.code == 1
    got = {(f["file"].split("/kb/")[-1], f["code"]) for f in r.json()["findings"]}
    assert ("profiles/broken.md", "FM001") in got
    assert ("profiles/sample.md", "LNK001") in got
    assert ("profiles/sample.md", "GOT002") in got
    assert any(code == "ID001" for _, code in got)
    assert all(f["line"] >= 1 for f in r.json()["findings"])


def test_bundled_knowledge_base_is_clean(capsys):
    r = run(capsys, "lint")
    assert r.code == 0, r.out


def test_a_name_users_write_belongs_to_one_platform(tmp_path):
    """Two profiles both `called` box: diagnose could not tell which one a user means."""
    root = tmp_path / "kb"
    shutil.copytree(CLEAN, root)
    text = (root / "profiles" / "sample.md").read_text().replace("prefixes: [GEN]", "prefixes: [GEN]\ncalled: [box]")
    (root / "profiles" / "sample.md").write_text(text)
    (root / "profiles" / "twin.md").write_text(text.replace("platform: sample", "platform: twin"))
    clashes = [(f.file, f.message) for f in lint(load_kb(root)) if f.code == "ID001" and "called" in f.message]
    assert clashes == [("profiles/twin.md", "`called` name `box` is also claimed by profiles/sample.md")]
    (root / "profiles" / "twin.md").write_text(text.replace("platform: sample", "platform: twin")
                                               .replace("called: [box]", "called: [Box]"))
    assert any(f.code == "FM002" and "lower-case" in f.message for f in lint(load_kb(root)))


# ---------------------------------------------------------------- PRB003: the read-only guard

DANGEROUS = [
    "git -C /x push", 'bash -c "rm -rf /"', "sh -c 'cat /etc/hosts > /etc/motd'", "eval rm x",
    'eval "rm -rf /tmp/x"', "perl -i -pe s/a/b/ f", "curl -XPOST http://h", "curl -o /tmp/x http://h",
    "sed -i s/a/b/ f", "sed 's/a/b/w /tmp/out' f", "sed -n '1e reboot' f", "sed 'b x;w /tmp/f' f",
    "sed -f /tmp/script f", "find / -delete", "find / -exec rm {} +", "awk 'BEGIN {system(\"reboot\")}'",
    "awk '{print > \"/tmp/x\"}' f", "awk '{print | \"sh\"}' f", "awk -f /tmp/prog f", "fuser -k /dev/nvidia0",
    "fuser -vk /dev/nvidia0", "nvidia-smi -r", "nvidia-smi --gpu-reset", "nvidia-smi -pm 1",
    "nvidia-smi -f /tmp/log -q", "cat /proc/uptime > /tmp/x", "echo x >> ~/.bashrc", "timeout 5 rm -rf /",
    "ls | xargs rm", "$cmd /tmp", "python3 -c \"import os; os.system('reboot')\"", "python3 train.py",
    "python3 -c \"import ctypes; ctypes.CDLL('libc.so.6').unlink(b'/x')\"",
    "python3 -c \"print(().__class__.__base__.__subclasses__())\"", "date -s 2020-01-01", "date 0101000020",
    "hostname evil", "systemctl restart sshd", "kubectl delete pod x", "scontrol update NodeName=n1 State=DOWN",
    "ip link set eth0 down", "ip route add default via 1.2.3.4", "dmesg -C", "dmesg --clear",
    "journalctl --vacuum-size=1M", "LD_PRELOAD=/tmp/x.so cat /proc/uptime", "PATH=/tmp:$PATH; cat x",
    "/tmp/cat /proc/uptime", "echo $(rm -rf /)", "echo `reboot`", "x='$(reboot)'; echo ${x@P}",
    "ping -f h", "ping -c 5 -qf h", "ping h", "tee /tmp/x", "bash script.sh", "sort -o /tmp/x f", "env rm x", "command rm x",
    "kill 1", "f() { cat x; }; f", "cat x &> /tmp/y", "bash -c \"bash -c 'reboot'\"", "uniq in out",
    "docker rm x", "scancel 12", "wget http://h", "cat <(rm x)", "echo 'unterminated",
]

READ_ONLY = [
    "ls -la /x", "readlink -f /proc/1/exe", "grep -a x f", "tr a b < f", "head -n 1 f", "tail -n 5 f",
    "wc -l f", "sort -n f", "date +%s", "date -u +%FT%T", "printf '%s\\n' x", "echo hi", "cut -d: -f1 f",
    "stat -c %Y f", "pgrep -f train", "getent hosts x", 'ip route get "$h"', "ping -c 1 -W 2 h",
    "sacct -X -n", "squeue -u $USER", "scontrol show job 1", "kubectl get pods -o json",
    "systemctl is-active nvidia-fabricmanager", "timeout 5 nvidia-smi -q", "timeout -s KILL 5 cat /x",
    "nproc --all", "id -u", "hostname", "hostname -f", "cat /proc/loadavg", "test -r f", "[ -r f ] && cat f",
    "for f in a b; do cat $f; done", "if [ -n \"$x\" ]; then echo y; else echo n; fi", "x=$(cat /proc/uptime)",
    "bash -c 'cat /proc/uptime'", "eval cat /proc/uptime", "cat x 2>&1 >/dev/null", "cat x >&2",
    "cat x &>/dev/null", "sed -n '1,5p' f", "sed -E 's#a#b#g;/x/d' f", "awk '$1 > 3 {print $2}' f",
    "find /x -maxdepth 2 -name '*.py' -printf '%T@ %p\\n'", "fuser -v /dev/nvidia0", "command -v ping",
    "env", "dmesg -T", "journalctl -k --no-pager -n 50", "nvidia-smi --query-gpu=index --format=csv",
    "OMP_NUM_THREADS= nproc", "cat <<EOF\nhi\nEOF", "ls /x | wc -l", "sleep 1",
]


@pytest.mark.parametrize("command", DANGEROUS)
def test_the_read_only_guard_refuses(command):
    from rgt.kb import readonly
    assert readonly.problems(command), f"{command!r} passed the read-only guard"


@pytest.mark.parametrize("command", READ_ONLY)
def test_the_read_only_guard_accepts_reading_commands(command):
    from rgt.kb import readonly
    assert readonly.problems(command) == []


def test_every_bundled_probe_passes_the_read_only_guard():
    from rgt.kb import readonly
    from rgt.kb.paths import bundled_kb
    probes = load_kb(bundled_kb()).probes
    assert probes
    for p in probes.values():
        assert readonly.problems(p.command) == [], p.id


def test_the_prb003_sample_names_each_escape(tmp_path):
    findings = lint(load_kb(kb_with(tmp_path, *sample_for("PRB003"))))
    text = "\n".join(f.message for f in findings)
    assert "redirects output into `/tmp/load.txt`" in text
    assert "runs `git`, which is not on the read-only allow-list" in text
    assert "runs `rm`" in text and len(findings) == 3, text


# ---------------------------------------------------------------- a knowledge base as a user may leave it

def _with_c1_in_rgt_block(tmp_path: Path) -> tuple[Path, int]:
    root = tmp_path / "kb"
    shutil.copytree(CLEAN, root)
    path = root / "profiles" / "sample.md"
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("```rgt")) + 1
    lines.insert(at, 'aka: ["bad \u0097 char"]\n')
    path.write_text("".join(lines))
    return root, at + 1


@pytest.mark.parametrize("command", [["lint"], ["search", "reboot"], ["diagnose", "run vanished"]])
def test_a_c1_control_character_in_an_rgt_block_is_named_by_file_and_line(capsys, tmp_path, command):
    root, line = _with_c1_in_rgt_block(tmp_path)
    r = run(capsys, *command, "--kb", str(root))
    assert r.code in (1, 2), r.err
    where = f"profiles/sample.md:{line}: GOT004"
    said = r.out if command == ["lint"] else r.err
    assert where in said and "U+0097" in said and "internal error" not in r.err, (r.out, r.err)
    if command != ["lint"]:
        assert len(r.err.strip().splitlines()) == 1, r.err


@pytest.mark.parametrize("make, says", [
    (lambda p: (p / "x.md").mkdir(), "x.md is a directory"),
    (lambda p: (p / "loop.md").symlink_to("loop.md"), "loop.md: Too many levels of symbolic links"),
    (lambda p: (p / "gone.md").symlink_to("nowhere.md"), "gone.md: No such file or directory"),
])
@pytest.mark.parametrize("command", [["lint"], ["search", "reboot"]])
def test_a_md_name_that_is_not_a_file_is_one_clear_line(capsys, tmp_path, make, says, command):
    root = tmp_path / "kb"
    shutil.copytree(CLEAN, root)
    make(root / "profiles")
    r = run(capsys, *command, "--kb", str(root))
    assert r.code == 2 and "internal error" not in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1 and says in r.err, r.err


def test_a_kb_that_is_a_symlink_loop_is_one_clear_line(capsys, tmp_path):
    loop = tmp_path / "kb"
    loop.symlink_to("kb")
    r = run(capsys, "search", "reboot", "--kb", str(loop))
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
    assert "symlink that loops" in r.err, r.err


def test_every_code_says_why_and_how_to_fix():
    from rgt.kb import codes
    for name, code in codes.CODES.items():
        assert getattr(codes, name) == name
        assert code.text and code.why and code.fix, name


def test_codes_are_named_by_constant_not_by_string():
    import re
    from pathlib import Path
    import rgt.kb
    for module in ("parse.py", "lint.py", "index.py"):
        text = (Path(rgt.kb.__file__).parent / module).read_text()
        assert not re.findall(r"""["'][A-Z]{2,3}\d{3}["']""", text), module


def test_the_knowledge_layer_does_not_import_diagnose():
    import ast
    from pathlib import Path
    import rgt.kb
    for path in Path(rgt.kb.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = "." * node.level + (node.module or "")
                assert "diagnose" not in target, f"{path.name} imports {target}"
                if path.name == "index.py":  # indexing refuses on any finding; it needs no lint registry
                    assert node.module not in ("lint", "codes"), "index.py imports lint"


@pytest.mark.parametrize("word", ["yes", "on", "no", "off"])
def test_frontmatter_reads_yaml_as_rgt_blocks_do(word, tmp_path):
    """One dialect (YAML 1.2): `yes` and `on` are words, never booleans, so a boolean key written
    with one is refused at its line, as it would be in an rgt block or the job spec."""
    findings, line = lint_edited(tmp_path, "spot_available: false", f"spot_available: {word}")
    assert [(f.code, f.line) for f in findings] == [("FM002", line)], [str(f) for f in findings]
    assert "expected true or false" in findings[0].message


def test_frontmatter_handler_is_the_rgt_block_loader():
    from rgt.kb import yaml12
    assert yaml12.Handler().load("a: on\nb: yes\nc: 0o17\n") == {"a": "on", "b": "yes", "c": 15}


# ---------------------------------------------------------------- pointers in prose

def test_pointers_that_resolve_are_clean(tmp_path):
    """Every form a pointer takes, each resolving: an anchor to a real heading, a principle in
    range, a reference named by its topic, and a phrase that names no reference of ours."""
    findings, _ = lint_edited(tmp_path, "Direct egress.",
                              "Direct egress (references/gotchas_universal.md#u1--local-disk-dies-with-the-box, "
                              "principle #2 and principles #1, see the probes reference; the image reference "
                              "a registry shows is not ours).")
    assert [str(f) for f in findings] == []


@pytest.mark.parametrize("prose, says", [
    ("see the verification reference", "the verification reference names no file under references/"),
    ("references/probes.md#boot-time", "references/probes.md has no heading with the anchor #boot-time"),
    ("principle #11", "principle #11 does not exist; references/principles.md holds #1–#2"),
    ("principles #2 and #11", "principle #11 does not exist"),
])
def test_a_pointer_that_resolves_nowhere_is_named_at_its_line(prose, says, tmp_path):
    findings, line = lint_edited(tmp_path, "Direct egress.", f"Direct egress ({prose}).")
    assert [(f.file, f.line) for f in findings] == [("profiles/sample.md", line)], [str(f) for f in findings]
    assert says in findings[0].message, findings[0].message
