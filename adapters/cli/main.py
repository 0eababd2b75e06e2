"""`greentic-session`: the command-line tool (the commands live in `audit_commands`,
`maintenance_commands` and `setup_commands`, their output in `output` and `render`)."""

from __future__ import annotations

import logging
from typing import Any

import click

from greentic_session.adapters.cli import audit_commands, maintenance_commands, setup_commands
from greentic_session.adapters.cli.demo import run_demo
from greentic_session.adapters.cli.options import URL_HELP
from greentic_session.domain.errors import ErrorCode, SessionError


class Tool(click.Group):
    """Every failure ends the command with one line on stderr, never a traceback (unless
    --verbose, for the unexpected ones: those are bugs, or a log edited behind our back).

    Exit status: 0 success, 1 failure (not found, unavailable, conflict, ...; `verify`
    finding problems), 2 bad usage (click's own errors and the store's `invalid_input`).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SessionError as exc:
            message = " ".join(exc.message.split())  # driver messages can span lines
            click.echo(f"error: {exc.code.value}: {message}", err=True)
            ctx.exit(2 if exc.code is ErrorCode.INVALID_INPUT else 1)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("verbose"):
                raise
            click.echo(
                f"error: internal: {type(exc).__name__}: {exc} (--verbose shows where; "
                "if the log may have been edited, run verify)",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=Tool)
@click.version_option(package_name="greentic-session", prog_name="greentic-session")
@click.option("-v", "--verbose", is_flag=True, help="log what the store does")
def main(verbose: bool) -> None:
    """Event-sourced session store for conversational and flow runtimes.

    Times are ISO 8601 (a trailing Z or no offset means UTC). --json prints machine-readable
    output. Exit status: 0 success, 1 failure or problems found, 2 bad usage.
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)


@main.command()
@click.option("--url", default=None, help=URL_HELP)
def demo(url: str | None) -> None:
    """Play a scripted chat: flows park, replies resume them, waits supersede and expire."""
    run_demo(url, click.echo)


for command in (
    *audit_commands.COMMANDS,
    *maintenance_commands.COMMANDS,
    *setup_commands.COMMANDS,
):
    main.add_command(command)


if __name__ == "__main__":
    main()
