"""What the commands share on the command line: store URL, `--json`, times, the caller."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from greentic_session.adapters.bootstrap.urls import DEFAULT_URL, URL_VARIABLE
from greentic_session.domain.tenant import TenantCtx

F = TypeVar("F", bound=Callable[..., Any])

URL_HELP = f"store URL (default: ${URL_VARIABLE}, else {DEFAULT_URL})"
TIME_EXAMPLE = "2030-01-01T12:00:00Z"


def parse_time(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 instant; a trailing Z means UTC, and so does no offset at all."""
    if value is None:
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time (e.g. {TIME_EXAMPLE})", ctx, param
        ) from None
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    try:  # in UTC, as every time the store compares and prints
        return instant.astimezone(UTC)
    except OverflowError:
        raise click.BadParameter(
            f"{value!r} is outside the years 1 to 9999 in UTC", ctx, param
        ) from None


VERBOSE = "verbose"
"""Where `-v` is noted in the context's `meta`, shared by the group and its command."""


def be_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """`-v`, before or after the command's name: log what the store does."""
    if value:
        ctx.meta[VERBOSE] = True
        logging.basicConfig(level=logging.DEBUG)
        logging.getLogger().setLevel(logging.DEBUG)


def verbose_option(command: F) -> F:
    return click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=be_verbose,
        help="log what the store does",
    )(command)


def common_options(command: F) -> F:
    """`--json` and `-v`: every command takes both."""
    command = click.option(
        "--json", "as_json", is_flag=True, help="print machine-readable JSON on stdout"
    )(command)
    return verbose_option(command)


def store_options(command: F) -> F:
    """`--url`, `--json` and `-v`: every command that reads or writes a store takes them."""
    command = common_options(command)
    return click.option("--url", default=None, metavar="URL", help=URL_HELP)(command)


def at_option(help_text: str) -> Callable[[F], F]:
    return click.option("--at", metavar="TIME", callback=parse_time, help=f"{help_text}; ISO 8601")


def caller_options(command: F) -> F:
    """Who asks: environment, tenant, optional team, and the user whose waits are meant."""
    for name, required, text in reversed(
        [
            ("--env", True, "environment id"),
            ("--tenant", True, "tenant id"),
            ("--team", False, "team id, if the caller has one"),
            ("--user", True, "user id"),
        ]
    ):
        command = click.option(name, required=required, help=text)(command)
    return command


def caller(env: str, tenant: str, team: str | None, user: str) -> TenantCtx:
    """The context a runtime would pass: `new`, then `with_team` and `with_user`."""
    return TenantCtx.new(env, tenant).with_team(team).with_user(user)
