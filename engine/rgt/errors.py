"""Errors a user can cause, each one line that says where and what to do, and the exit codes."""
from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FINDINGS = 1   # lint errors, or diagnose found nothing that fits
    USAGE = 2      # bad arguments, unknown ID or platform, bad input file
    REMOTE = 3     # transport or remote failure


class RgtError(Exception):
    """A mistake the user can fix. `where` is file:line or a host; `hint` says what to do."""

    exit_code = Exit.USAGE

    def __init__(self, message: str, *, where: str = "", hint: str = ""):
        super().__init__(message)
        self.message, self.where, self.hint = message, where, hint

    def line(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} ({self.hint})" if self.hint else text


class UsageError(RgtError):
    exit_code = Exit.USAGE


class KnowledgeError(RgtError):
    """The knowledge base itself cannot be read (broken markdown, bad YAML)."""
    exit_code = Exit.USAGE


class RemoteError(RgtError):
    exit_code = Exit.REMOTE
