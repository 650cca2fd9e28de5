"""`rgt` command line: a click group whose commands live one module per concern."""
from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from ..errors import Exit, RgtError

# Which module holds each command. A command's module is imported only when that command runs, so
# `rgt search` pays neither for diagnose's transport nor for render's job-spec models; command
# modules also import their heavy dependencies (paramiko, jinja2) inside the command body.
MODULES = {
    "lint": "lint", "platforms": "query", "show": "query", "search": "query", "facts": "query",
    "compare": "query", "diagnose": "diagnose", "plan": "plan", "render": "render", "pull": "pull",
    "watch": "watch", "mcp": "mcp",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context | None) -> list[str]:
        return sorted(MODULES)

    def get_command(self, ctx: click.Context | None, name: str) -> click.Command | None:
        if name not in MODULES:
            return None
        module = importlib.import_module(f"{__name__}.{MODULES[name]}")
        return next(c for c in module.COMMANDS if c.name == name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as e:
            # click answers a closed pipe with exit 1, rgt's "findings"; main() gives it the
            # status the exit table names for an unwritable standard output
            raise ClosedPipe(e) from e


class ClosedPipe(Exception):
    """A BrokenPipeError carried past click, which would exit 1 for it."""

    def __init__(self, error: BrokenPipeError):
        super().__init__(str(error))
        self.error = error


def commands() -> dict[str, click.Command]:
    """Every command, imported: for the docs and the tests that walk them all."""
    return {name: cli.get_command(None, name) for name in cli.list_commands(None)}  # type: ignore[misc]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="rgt")
def cli(debug: bool) -> None:
    """Executable knowledge for long GPU jobs on rented machines."""
    # --debug is read by main() before click runs, so a traceback can escape any command


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        # without standalone mode click returns a command's Exit code instead of exiting
        code = cli.main(args=argv, prog_name="rgt", standalone_mode=False)
        sys.stdout.flush()  # a full disk must show here, not in the interpreter's exit
        sys.exit(code if isinstance(code, int) else Exit.OK)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("rgt: aborted", err=True)
        sys.exit(Exit.USAGE)
    except click.UsageError as e:  # one line, like every other mistake, with where to read more
        command = e.ctx.command_path if e.ctx else "rgt"
        click.echo(f"rgt: {e.format_message().rstrip('.')} (see `{command} --help`)", err=True)
        sys.exit(Exit.USAGE)
    except click.ClickException as e:
        click.echo(f"rgt: {e.format_message()}", err=True)
        sys.exit(Exit.USAGE)
    except RgtError as e:
        if debug:
            raise
        click.echo(f"rgt: {e.line()}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("rgt: interrupted", err=True)
        sys.exit(130)
    except (ClosedPipe, OSError) as caught:
        error = caught.error if isinstance(caught, ClosedPipe) else caught
        if not _stdout_failed(error) or debug:  # a broken pipe to anything but standard output is a bug
            raise _internal(error, debug) from error
        sys.exit(Exit.REMOTE)
    except Exception as e:  # whatever escaped is a bug in rgt: exit 4, one line
        raise _internal(e, debug) from e


def _stdout_failed(e: OSError) -> bool:
    """Whether writing standard output is what failed (a full disk, a reader that went away);
    if so, say it once and keep the interpreter from failing again when it flushes at exit."""
    tb = e.__traceback__
    while tb and tb.tb_next:
        tb = tb.tb_next
    stream: Any = tb.tb_frame.f_locals.get("file") if tb else None  # every line goes out through click.echo
    try:
        if stream.fileno() != sys.stdout.fileno():
            return False
    except (AttributeError, OSError, ValueError):
        return False
    # the unwritten bytes stay buffered: point the descriptor at /dev/null so they can go there
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    if not isinstance(e, BrokenPipeError):  # a closed pipe is the reader's choice, as with `head`
        click.echo(f"rgt: cannot write to standard output: {e.strerror}", err=True)
    return True


def _internal(e: Exception, debug: bool) -> SystemExit:
    """A bug in rgt, not a user mistake: one line with its own status unless --debug."""
    if debug:
        raise e
    text = " ".join(str(e).split())  # some messages carry their own line breaks
    click.echo(f"rgt: internal error: {type(e).__name__}: {text} (rerun with --debug for the traceback)", err=True)
    return SystemExit(Exit.INTERNAL)
