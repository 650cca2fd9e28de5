"""Errors a user can cause, each one line that says where and what to do, and the exit codes."""
from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FINDINGS = 1   # lint errors, or diagnose found nothing that fits
    USAGE = 2      # bad arguments, unknown ID or platform, bad input file
    REMOTE = 3     # transport or remote failure, or standard output cannot be written
    INTERNAL = 4   # a bug in rgt: never a user's mistake, never a finding


# What each status means to a script calling rgt; README's table is generated from this.
MEANING = {
    Exit.OK: "ok",
    Exit.FINDINGS: "findings: lint errors, no diagnosis fits, a clock that will end the planned job",
    Exit.USAGE: "usage: a bad option or number, unknown platform or ID, bad input file, unusable cache "
                "(one line naming the file:line, option or path, and what to do)",
    Exit.REMOTE: "transport or remote failure: refused, wrong or unknown host key, timeout, connection "
                 "dropped; also standard output that cannot be written (a full disk)",
    Exit.INTERNAL: "internal error: a bug in rgt (one line; `--debug` shows the traceback); please report it",
}


class RgtError(Exception):
    """A mistake the user can fix. `where` is file:line or a host; `hint` says what to do."""

    exit_code = Exit.USAGE

    def __init__(self, message: str, *, where: str = "", hint: str = ""):
        super().__init__(message)
        self.message, self.where, self.hint = message, where, hint

    def line(self) -> str:
        """One line, whatever a library put in the message (YAML's reader adds a second)."""
        text = f"{self.where}: {self.message}" if self.where else self.message
        text = f"{text} ({self.hint})" if self.hint else text
        # a lone surrogate from a JSON escape in the user's input cannot be printed: show its escape
        return " ".join(text.encode("utf-8", "backslashreplace").decode("utf-8").split())


class UsageError(RgtError):
    exit_code = Exit.USAGE


class KnowledgeError(RgtError):
    """The knowledge base itself cannot be read (broken markdown, bad YAML)."""
    exit_code = Exit.USAGE


class RemoteError(RgtError):
    exit_code = Exit.REMOTE
