"""`greentic-session`: the command-line tool (the commands live in `audit_commands`,
`maintenance_commands` and `setup_commands`, their output in `output` and `render`)."""

from __future__ import annotations

import json
import logging
from typing import Any

import click

from greentic_session.adapters.cli import (
    archive_command,
    audit_commands,
    erase_command,
    find_commands,
    maintenance_commands,
    setup_commands,
    ui_command,
)
from greentic_session.adapters.cli.demo import DEMO_URL_HELP, run_demo
from greentic_session.adapters.cli.options import VERBOSE, common_options, verbose_option
from greentic_session.adapters.cli.output import emit_json, say
from greentic_session.domain.errors import ErrorCode, SessionError

JSON_ERRORS = "json_errors"


class Tool(click.Group):
    """Every failure ends the command with one line on stderr, never a traceback (unless
    --verbose, for the unexpected ones: those are bugs, or a log edited behind our back).

    Exit status: 0 success, 1 failure (not found, unavailable, conflict, ...; `verify`
    finding problems), 2 bad usage (click's own errors and the store's `invalid_input`).
    With `--json` the error is JSON on stderr: `{"error": {"code": ..., "message": ...}}`.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Noted before anything can fail: does the command line ask for JSON?"""
        options = args[: args.index("--")] if "--" in args else args
        ctx.meta[JSON_ERRORS] = "--json" in options
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SessionError as exc:
            message = " ".join(exc.message.split())  # driver messages can span lines
            fail(ctx, exc.code.value, message, 2 if exc.code is ErrorCode.INVALID_INPUT else 1)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as exc:
            if not ctx.meta.get(JSON_ERRORS):
                raise
            fail(ctx, ErrorCode.INVALID_INPUT.value, exc.format_message(), exc.exit_code)
        except Exception as exc:
            if ctx.meta.get(VERBOSE):
                raise
            message = (
                f"{type(exc).__name__}: {exc} (--verbose shows where; "
                "if the log may have been edited, run verify)"
            )
            fail(ctx, ErrorCode.INTERNAL.value, message, 1)


def fail(ctx: click.Context, code: str, message: str, status: int) -> None:
    """One line on stderr, JSON with `--json`; then exit with `status`."""
    if ctx.meta.get(JSON_ERRORS):
        error = {"error": {"code": code, "message": message}}
        click.echo(json.dumps(error, ensure_ascii=False), err=True)
    else:
        click.echo(f"error: {code}: {message}", err=True)
    ctx.exit(status)


@click.group(cls=Tool)
@click.version_option(package_name="greentic-session", prog_name="greentic-session")
@verbose_option
def main() -> None:
    """Event-sourced session store for conversational and flow runtimes.

    Times are ISO 8601 (a trailing Z or no offset means UTC); the tool prints them in UTC to
    the microsecond, a form --at takes back. Every command takes --json (machine-readable
    output, and errors as JSON on stderr) and -v. A session key can be shortened to a
    unique prefix of 8 characters or more. Exit status: 0 success, 1 failure or problems
    found, 2 bad usage.
    """
    logging.basicConfig(level=logging.WARNING)


@main.command()
@click.option("--url", default=None, metavar="URL", help=DEMO_URL_HELP)
@common_options
def demo(url: str | None, as_json: bool) -> None:
    """Play a scripted chat in a store of its own: flows park, replies resume them, waits
    supersede and expire. It never writes to $GREENTIC_SESSION_URL."""
    lines: list[str] = []
    used = run_demo(url, lines.append if as_json else say)
    if as_json:
        emit_json({"url": used, "lines": lines})


for command in (
    *audit_commands.COMMANDS,
    *find_commands.COMMANDS,
    *maintenance_commands.COMMANDS,
    archive_command.archive,
    erase_command.erase,
    *setup_commands.COMMANDS,
    *ui_command.COMMANDS,
):
    main.add_command(command)


if __name__ == "__main__":
    main()
