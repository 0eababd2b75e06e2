"""`greentic-session`: the command-line tool."""

from __future__ import annotations

import logging
import sys

import click

from adapters.demo import run_demo
from adapters.urls import DEFAULT_URL, URL_VARIABLE
from domain.errors import SessionError

URL_HELP = f"store URL (default: ${URL_VARIABLE}, else {DEFAULT_URL})"


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="log what the store does")
def main(verbose: bool) -> None:
    """Event-sourced session store for conversational and flow runtimes."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)


@main.command()
@click.option("--url", default=None, help=URL_HELP)
def demo(url: str | None) -> None:
    """Play a scripted chat: flows park, replies resume them, waits supersede and expire."""
    try:
        run_demo(url, click.echo)
    except SessionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
