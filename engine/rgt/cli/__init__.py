"""`rgt` command line: a click group whose commands live one module per concern."""
from __future__ import annotations

import sys

import click

from ..errors import Exit, RgtError
from . import diagnose, lint as lint_cmd, mcp, plan, query, render


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="rgt")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Executable knowledge for long GPU jobs on rented machines."""
    ctx.obj = {"debug": debug}


# Command modules import their heavy dependencies (paramiko, jinja2) inside the command body,
# so `rgt show` does not pay for SSH.
for module in (lint_cmd, query, diagnose, plan, render, mcp):
    for command in module.COMMANDS:
        cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        # without standalone mode click returns a command's Exit code instead of exiting
        code = cli.main(args=argv, prog_name="rgt", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else Exit.OK)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("rgt: aborted", err=True)
        sys.exit(Exit.USAGE)
    except click.ClickException as e:
        e.show()
        sys.exit(Exit.USAGE)
    except RgtError as e:
        if debug:
            raise
        click.echo(f"rgt: {e.line()}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("rgt: interrupted", err=True)
        sys.exit(130)
    except Exception as e:  # a bug in rgt, not a user mistake: still one line unless --debug
        if debug:
            raise
        click.echo(f"rgt: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", err=True)
        sys.exit(Exit.FINDINGS)
