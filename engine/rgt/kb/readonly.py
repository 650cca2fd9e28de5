"""Is a probe command read-only? A conservative check: anything that could write, delete, kill,
reboot, install or redirect into a file is refused, even when used harmlessly."""
from __future__ import annotations

import re
import shlex

# Commands that change a machine whatever their arguments.
FORBIDDEN = {
    "rm", "rmdir", "mv", "cp", "dd", "shred", "truncate", "tee", "touch", "mkdir", "ln", "install",
    "chmod", "chown", "chgrp", "kill", "pkill", "killall", "reboot", "shutdown", "poweroff", "halt",
    "init", "telinit", "apt", "apt-get", "aptitude", "dpkg", "yum", "dnf", "rpm", "pip", "pip3",
    "conda", "mamba", "npm", "sudo", "su", "mount", "umount", "modprobe", "rmmod", "insmod",
    "scancel", "sbatch", "srun", "crontab", "wget", "scp", "rsync", "mkfs", "fdisk", "parted",
    "useradd", "userdel", "passwd", "sysctl", "swapoff", "swapon", "tmux", "screen", "nohup",
}
# Commands that are fine only with a read-only verb as their first argument.
VERB_ALLOWED = {
    "systemctl": {"is-active", "is-enabled", "status", "show", "list-units", "is-failed"},
    "kubectl": {"get", "describe", "logs", "top", "version", "api-resources", "auth"},
    "docker": {"ps", "inspect", "logs", "info", "version", "images", "stats"},
    "scontrol": {"show", "ping"},
    "git": {"rev-parse", "status", "log", "diff", "show", "describe", "ls-files", "-C"},
}
# Arguments that turn an otherwise read-only tool into a writer.
FORBIDDEN_ARGS = {
    "sed": ("-i", "--in-place"),
    "find": ("-delete", "-exec", "-execdir", "-ok", "-fprint", "-fprintf", "-fls"),
    "nvidia-smi": ("-r", "--gpu-reset", "-pm", "-e", "-c", "-ac", "-rac", "-pl", "-lgc", "-rgc", "-mig", "-f"),
    "journalctl": ("--vacuum-size", "--vacuum-time", "--rotate", "--flush"),
    "dmesg": ("-c", "-C", "--clear", "--read-clear"),
    "curl": ("-o", "-O", "--output", "-T", "--upload-file", "-X", "-d", "--data"),
    "sort": ("-o",),
}
_SEPARATORS = {"|", "||", "&&", ";", "&", "(", ")", "{", "}", "do", "then", "else", "elif", "!"}
# Wrappers that run their argument as a command: what follows them is a command position too.
_WRAPPERS = {"timeout", "xargs", "env", "nice", "exec", "command", "time", "stdbuf", "ionice", "watch"}
_SUBSHELL = re.compile(r"\$\(([^()]*)\)|`([^`]*)`")


def problems(command: str) -> list[str]:
    """Reasons the command is not read-only; empty when it is."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError as e:
        return [f"cannot be parsed as shell ({e})"]
    found: list[str] = []
    at_command = True
    for i, tok in enumerate(tokens):
        base = tok.rsplit("/", 1)[-1]
        command_word = at_command and not re.fullmatch(r"[A-Za-z_]\w*=.*", tok)
        at_command = tok in _SEPARATORS or (at_command and (not command_word or base in _WRAPPERS
                                                              or tok.startswith("-") or tok[:1].isdigit()))
        for m in _SUBSHELL.finditer(tok):
            found += problems(m.group(1) or m.group(2) or "")
        if not command_word:
            if tok in (">", ">>", ">|", "&>", "&>>"):
                target = tokens[i + 1] if i + 1 < len(tokens) else ""
                if target != "/dev/null" and not re.fullmatch(r"&?\d", target):
                    found.append(f"redirects output into `{target}`")
            continue
        if base in FORBIDDEN:
            found.append(f"runs `{base}`")
        if base in VERB_ALLOWED:
            verb = tokens[i + 1] if i + 1 < len(tokens) else ""
            if verb not in VERB_ALLOWED[base]:
                found.append(f"runs `{base} {verb}`")
        for arg in tokens[i + 1:]:
            if base in FORBIDDEN_ARGS and (arg in FORBIDDEN_ARGS[base] or any(arg.startswith(a + "=") for a in FORBIDDEN_ARGS[base])):
                found.append(f"runs `{base} {arg}`")
            if arg in _SEPARATORS:
                break
    return sorted(set(found))
