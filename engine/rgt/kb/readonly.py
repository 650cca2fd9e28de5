"""Is a probe command read-only? An allow-list, not a deny-list: the command is parsed as bash
(tree-sitter's bash grammar), every command it would run, at any depth (pipelines, `$(...)`,
`for`/`if` bodies, `bash -c` and `eval` strings), must be one of the tools below, used in a way
that only reads. Anything else is refused, even when it would be harmless: a new probe that needs
a new tool adds it here, with the reason it cannot write.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Callable
from functools import lru_cache

Args = list  # the arguments of one command: str when literal, None when known only at run time
Check = Callable[[Args], list[str]]


def problems(command: str) -> list[str]:
    """Reasons the command is not read-only; empty when it is."""
    return sorted(set(_script(command, depth=0)))


# ---------------------------------------------------------------- the shell around the tools

_MAX_DEPTH = 4  # bash -c "bash -c '…'" nests; deeper than this is not a probe anyone writes
# Variables that change which program runs or what the shell executes on its own.
_DANGEROUS_VARS = re.compile(r"PATH|LD_\w+|BASH_ENV|ENV|IFS|PROMPT_COMMAND|PS[0-4]|SHELLOPTS|BASHOPTS|BASH_FUNC\w*")
_WRITE_REDIRECTS = {">", ">>", ">|", "&>", "&>>", "<>", ">&", "&>|"}


@lru_cache(maxsize=1)
def _parser():
    import tree_sitter
    import tree_sitter_bash

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))


def _script(text: str, depth: int) -> list[str]:
    if depth > _MAX_DEPTH:
        return ["nests shells too deeply to check"]
    tree = _parser().parse(text.encode())
    if tree.root_node.has_error:
        return ["cannot be parsed as shell"]
    found: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type == "command":
            found += _command(node, depth)
        elif node.type == "file_redirect":
            found += _redirect(node)
        elif node.type == "variable_assignment":
            name = node.child_by_field_name("name")
            if name is not None and _DANGEROUS_VARS.fullmatch(_text(name)):
                found.append(f"sets {_text(name)}")
        elif node.type == "function_definition":
            found.append("defines a shell function")
        elif node.type == "expansion" and re.search(r"@[PA]\}$", _text(node)):
            found.append("expands a variable as a prompt (which can run commands)")
        elif node.type == "raw_string" and ("$(" in _text(node) or "`" in _text(node)):
            # a quoted command substitution runs later if something expands the string again
            found.append(f"holds a command substitution in {_text(node)}")
    return found


def _text(node) -> str:
    return node.text.decode()


def _literal(node) -> str | None:
    """The word's value when it is fixed in the text; None when an expansion decides it."""
    if node.type in ("word", "number"):
        return re.sub(r"\\(.)", r"\1", _text(node))
    if node.type == "raw_string":
        return _text(node)[1:-1]
    if node.type == "string":
        parts = [c for c in node.children if c.type != '"']
        if all(c.type == "string_content" for c in parts):
            return "".join(_text(c) for c in parts)
        return None
    if node.type == "concatenation":
        parts = [_literal(c) for c in node.children]
        return None if None in parts else "".join(parts)
    return None


def _redirect(node) -> list[str]:
    op = next((c.type for c in node.children if c.type in _WRITE_REDIRECTS), None)
    dest = node.child_by_field_name("destination")
    target = _literal(dest) if dest is not None else None
    if op is None or target == "/dev/null" or (target is not None and re.fullmatch(r"\d+|-", target)):
        return []
    return [f"redirects output into `{_text(dest) if dest is not None else '?'}`"]


def _command(node, depth: int) -> list[str]:
    name_node = node.child_by_field_name("name")
    if name_node is None:  # a bare assignment such as `rc=$?`
        return []
    name = _literal(name_node.children[0]) if name_node.children else None
    args = [_literal(c) for c in node.children_by_field_name("argument")]
    if name is None:
        return [f"runs a command whose name is decided at run time (`{_text(name_node)}`)"]
    return _argv(name, args, depth)


def _argv(name: str, args: Args, depth: int) -> list[str]:
    if "/" in name:
        return [f"runs `{name}` by path; name the tool so the allow-list can check it"]
    if name in _SHELLS:
        return _shell(name, args, depth)
    if name == "eval":
        if None in args:
            return ["runs `eval` on text decided at run time"]
        return _script(" ".join(args), depth + 1)
    if name == "timeout":
        return _timeout(args, depth)
    if name not in ALLOWED:
        return [f"runs `{name}`, which is not on the read-only allow-list"]
    check = ALLOWED[name]
    return [f"runs `{name} {p}`" for p in check(args)] if check else []


# ---------------------------------------------------------------- wrappers that run another command

_SHELLS = {"bash", "sh", "dash"}


def _shell(name: str, args: Args, depth: int) -> list[str]:
    """`bash -c 'TEXT'`: TEXT is checked as a probe of its own. Any other use runs a file or stdin."""
    if len(args) >= 2 and args[0] == "-c":
        if args[1] is None:
            return [f"runs `{name} -c` on text decided at run time"]
        return _script(args[1], depth + 1)
    return [f"runs `{name}` without -c (a script the allow-list cannot see)"]


def _timeout(args: Args, depth: int) -> list[str]:
    """`timeout [-s SIG] [-k T] DURATION COMMAND…`: the COMMAND is what must be read-only."""
    i = 0
    while i < len(args) and args[i] is not None and args[i].startswith("-"):
        i += 2 if args[i] in ("-s", "-k", "--signal", "--kill-after") else 1
    rest = args[i + 1:]
    if not rest or rest[0] is None:
        return ["runs `timeout` without a fixed command"]
    return _argv(rest[0], rest[1:], depth)


# ---------------------------------------------------------------- the tools, and why each only reads

def _refuse_options(*bad: str, letters: str = "") -> Check:
    """Refuse the named options (also as `--opt=value`), and short-option clusters holding any of
    `letters` (`fuser -vk` kills as surely as `fuser -k`)."""
    def check(args: Args) -> list[str]:
        out = []
        for a in args:
            if a is None:
                continue
            if a in bad or any(a.startswith(b + "=") for b in bad if b.startswith("--")):
                out.append(a)
            elif letters and re.fullmatch(r"-[A-Za-z]+", a) and set(a[1:]) & set(letters):
                out.append(a)
        return out
    return check


def _only_verbs(*verbs: str) -> Check:
    """Tools with subcommands: the first word that is not an option must be a read-only verb."""
    def check(args: Args) -> list[str]:
        first = next((a for a in args if a is None or not a.startswith("-")), "")
        return [] if first in verbs else [first or "(no verb)"]
    return check


def _no_operands(*allowed_opts: str) -> Check:
    """Tools that set state when given an operand (`hostname NAME`, `date STRING`)."""
    def check(args: Args) -> list[str]:
        return [a or "(run-time value)" for a in args if a not in allowed_opts]
    return check


def _date(args: Args) -> list[str]:
    """`date +FORMAT`, `date -u`, `date -d TEXT` print; `date -s` and a bare operand set the clock."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a in ("-d", "--date", "-r", "--reference"):
            i += 2
            continue
        if a is None or not (a.startswith("+") or a in ("-u", "--utc", "-R", "-I") or
                             a.startswith(("--date=", "--iso-8601", "--rfc-3339=", "-I"))):
            out.append(a or "(run-time value)")
        i += 1
    return out


def _ip(args: Args) -> list[str]:
    """`ip route get`, `ip addr show`, `ip link`: reading objects; `add`, `set`, `del`, `flush` write."""
    words = [a for a in args if a is None or not a.startswith("-")] + ["show", "show"]
    obj, verb = words[0], words[1]
    if obj not in ("route", "r", "addr", "a", "address", "link", "l", "neigh", "n", "rule"):
        return [obj or "(run-time value)"]
    return [] if verb in ("get", "show", "list", "ls", "lst") else [f"{obj} {verb}"]


def _ping(args: Args) -> list[str]:
    """A bounded ping (`-c N`) only sends probes; `-f` floods, and without -c it never ends."""
    bad = _refuse_options(letters="fl")(args)  # also inside clusters such as -qf
    return bad + ([] if "-c" in args or any(a and a.startswith("-c") for a in args) else ["without -c"])


def _sed(args: Args) -> list[str]:
    """sed prints unless told to write: `-i`, a script from a file, the `w`/`W` commands, the `w` and
    `e` flags of `s`, and GNU's `e` command (which runs the pattern space as a shell command)."""
    out, scripts, i = [], [], 0
    while i < len(args):
        a = args[i]
        if a in ("-e", "--expression"):
            scripts.append(args[i + 1] if i + 1 < len(args) else "")
            i += 2
            continue
        if a is None:
            out.append("with a run-time argument")
        elif a.startswith("-") and a not in ("-n", "-E", "-r", "-u", "-z", "-s", "--quiet", "--silent",
                                             "--regexp-extended", "--posix", "--debug"):
            out.append(a)
        elif not a.startswith("-") and not scripts:
            scripts.append(a)
        i += 1
    for s in scripts:
        out += ["with a run-time script"] if s is None else _sed_script(s)
    return out


def _sed_script(script: str) -> list[str]:
    """Walk a sed script command by command, skipping the text of regexes and replacements."""
    i, n, out = 0, len(script), []

    def delimited(j: int, count: int) -> int:
        """Skip `count` parts delimited by script[j]; return the index after the last delimiter."""
        d, j = script[j], j + 1
        for _ in range(count):
            while j < n and script[j] != d:
                j += 2 if script[j] == "\\" else 1
            j += 1
        return j

    while i < n:
        c = script[i]
        if c in " \t\n;!{}," or c.isdigit() or c in "$~+":
            i += 1
        elif c == "/" or c == "\\":
            i = delimited(i + (c == "\\"), 1)  # an address /re/ or \%re%
        elif c == "s":
            i = delimited(i + 1, 2)
            m = re.match(r"[gpiImMe0-9w]*", script[i:])
            flags = m.group(0) if m else ""
            if "w" in flags or "e" in flags:
                out.append(f"s///{flags}")
            i += len(flags)
        elif c == "y":
            i = delimited(i + 1, 2)
        elif c in "btT:":  # a label ends at `;` too, so a command may follow it
            m = re.compile(r"[^;\n]*").match(script, i + 1)
            i = m.end() if m else n
        elif c in "wWeaicrR":  # a file name or text: runs to the end of the line
            if c in "wWe":
                out.append(f"`{c}` command")
            end = script.find("\n", i)
            i = n if end < 0 else end
        elif c in "pPdDnNqQhHgGxlz=F":
            i += 1
        else:
            out.append(f"unknown sed command `{c}`")
            i += 1
    return out


def _awk(args: Args) -> list[str]:
    """awk only reads unless its program runs `system()`, pipes (`cmd | getline`, `print | cmd`),
    redirects `print`/`printf` into a file, or loads code (`-f`, `@load`, `-l`)."""
    out, program, i = [], None, 0
    while i < len(args):
        a = args[i]
        if a in ("-v", "-F"):
            i += 2
            continue
        if a is None:
            out.append("with a run-time argument" if program is None else "")
        elif a.startswith("-v") or a.startswith("-F"):
            pass
        elif a.startswith("-"):
            out.append(a)
        elif program is None:
            program = a
        i += 1
    if program is not None:
        code = re.sub(r'"(\\.|[^"\\])*"', '""', program)  # string constants cannot act
        if re.search(r"\bsystem\s*\(|\bgetline\b|@load|\|(?!\|)", code.replace("||", "")):
            out.append("with a program that runs commands")
        if re.search(r"\bprintf?\b[^;{}]*>", code):
            out.append("with a program that prints into a file")
    return [o for o in out if o]


def _find(args: Args) -> list[str]:
    """find lists; its actions that delete, run or write files are refused."""
    return _refuse_options("-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0",
                           "-fprintf", "-fls")(args)


def _nvidia_smi(args: Args) -> list[str]:
    """Query forms only: `-q`, `--query-*`, `-L`, `topo -m`. Everything else either sets GPU state
    (`-pm`, `-r`, `-pl`, clocks, MIG, ECC) or writes a log file (`-f`)."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a in ("-i", "--id", "-d", "--display", "-l", "--loop", "-lms"):
            i += 2
            continue
        if a is None or not (a in ("-q", "--query", "-L", "--list-gpus", "-x", "--xml-format", "-a", "-u",
                                   "--unit", "-B", "topo", "-m", "--matrix", "-h", "--help", "-s", "--version")
                             or re.match(r"--(query-\w+|format|id|display)=", a)):
            out.append(a or "(run-time value)")
        i += 1
    return out


def _python(args: Args) -> list[str]:
    """`python3 -c BODY` where BODY only imports torch / ctypes and calls what the torch_cuda probe
    needs; any other call could write, so the allowed calls are named one by one."""
    if len(args) != 2 or args[0] != "-c" or args[1] is None:
        return ["other than `-c` with a fixed body"]
    return _python_body(args[1])


_PY_MODULES = {"torch", "ctypes", "sys"}
_PY_CALLS = {
    "print", "len", "str", "int", "float", "str.join",
    "torch.cuda.is_available", "torch.cuda.get_arch_list", "torch.cuda.get_device_capability",
    "torch.cuda.device_count", "torch.cuda.get_device_name",
    "ctypes.c_int", "ctypes.byref", "ctypes.CDLL", "ctypes.CDLL().cuDriverGetVersion",
}
_PY_LIBRARIES = re.compile(r"lib(cuda|nvidia-ml)\.so(\.\d+)*")  # loading a library runs its init code


def _python_body(body: str) -> list[str]:
    try:
        tree = ast.parse(body)
    except SyntaxError:
        return ["-c with a body that is not Python"]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            out += [f"-c importing {m}" for m in mods if m.split(".")[0] not in _PY_MODULES]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and node.attr != "__version__":
            out.append(f"-c touching {node.attr}")
        elif isinstance(node, ast.Call):
            name = _py_call_name(node.func)
            if name not in _PY_CALLS:
                out.append(f"-c calling {name or 'a computed function'}")
            elif name == "ctypes.CDLL" and not (len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
                                                and _PY_LIBRARIES.fullmatch(str(node.args[0].value))):
                out.append("-c loading a library other than the CUDA driver's")
        elif isinstance(node, (ast.Lambda, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            out.append("-c defining code")
    return out


def _py_call_name(func) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Constant) and isinstance(func.value.value, str):
            return f"str.{func.attr}"
        if isinstance(func.value, ast.Call):
            inner = _py_call_name(func.value.func)
            return f"{inner}().{func.attr}" if inner else None
        inner = _py_call_name(func.value)
        return f"{inner}.{func.attr}" if inner else None
    return None


# Every tool a probe may run. None: no argument makes it write. A check: the arguments it returns
# are the ones that would write, kill, set state or run something unchecked.
ALLOWED: dict[str, Check | None] = {
    # text and files, read only: they print to stdout and have no option that writes a file
    "cat": None, "head": None, "tail": None, "wc": None, "tr": None, "cut": None, "grep": None,
    "egrep": None, "fgrep": None, "ls": None, "readlink": None, "stat": None, "realpath": None,
    "basename": None, "dirname": None, "zcat": None, "seq": None, "uptime": None, "free": None,
    "nproc": None, "id": None, "whoami": None, "uname": None, "lsmod": None, "lspci": None,
    "lsblk": None, "du": None, "df": None, "ps": None, "pgrep": None, "getent": None, "last": None,
    "which": None, "sleep": None,
    "sort": _refuse_options("-o", "--output", "--compress-program"),  # -o writes the result to a file
    "uniq": lambda args: ["with an output file"] if len([a for a in args if a is None or not a.startswith("-")]) > 1 else [],
    "sed": _sed, "awk": _awk, "gawk": _awk, "mawk": _awk, "find": _find,
    # shell builtins that only print or test
    "echo": None, "printf": None, "test": None, "[": None, "true": None, "false": None, ":": None,
    "cd": None,  # moves the batch shell only; probes run in their own subshell
    "read": None,  # sets a shell variable from stdin (the train_log probe's list of paths); writes no file
    "env": lambda args: [a or "(run-time value)" for a in args],  # with operands, env runs a command
    "command": lambda args: [] if args and args[0] in ("-v", "-V") else ["without -v (it runs the command)"],
    # system state: these tools also change it, so only their reading forms pass
    "dmesg": _refuse_options("-c", "-C", "-D", "-E", "-n", "--clear", "--read-clear", "--console-off",
                             "--console-on", "--console-level", letters="cCDEn"),
    "journalctl": _refuse_options("--vacuum-size", "--vacuum-time", "--vacuum-files", "--rotate", "--flush",
                                  "--sync", "--relinquish-var", "--smart-relinquish-var", "--setup-keys",
                                  "--update-catalog", "--output-fields-file"),
    "fuser": _refuse_options("--kill", "-k", "-i", "--interactive", letters="ki"),
    "nvidia-smi": _nvidia_smi,
    "systemctl": _only_verbs("is-active", "is-enabled", "is-failed", "status", "show", "list-units", "cat"),
    "kubectl": _only_verbs("get", "describe", "logs", "top", "version", "api-resources", "explain"),
    "scontrol": _only_verbs("show", "ping"),
    "sacct": None, "squeue": None, "sinfo": None,  # Slurm's readers have no writing options
    "ip": _ip, "ping": _ping,
    "hostname": _no_operands("-f", "-s", "-i", "-I", "-d", "--fqdn", "--short", "--ip-address", "-A"),
    "date": _date,
    "python3": _python, "python": _python,
}
