"""Looking after the log: verify it, rebuild the read models, record expiries, export and
import it."""

from __future__ import annotations

import sys
from typing import IO

import click

from adapters.cli_options import store_options
from adapters.cli_output import answer, say
from adapters.cli_render import report
from adapters.event_store import EventSourcedSessionStore
from adapters.open_store import open_store

STDIO = "-"


@click.command()
@store_options
def verify(url: str | None, as_json: bool) -> None:
    """Check hash chains, stream heads and read models against the log (exit 1 on problems)."""
    with open_store(url) as store:
        result = store.verify()
    answer(as_json, result, report(result))
    if not result.ok:
        sys.exit(1)


@click.command()
@store_options
def rebuild(url: str | None, as_json: bool) -> None:
    """Rebuild every read model from the log, in one transaction."""
    with open_store(url) as store:
        store.rebuild_projections()
    answer(as_json, {"rebuilt": True}, "read models rebuilt from the log")


@click.command()
@store_options
def sweep(url: str | None, as_json: bool) -> None:
    """Record the expiry of every live session past its deadline."""
    with open_store(url) as store:
        count = store.sweep_expired()
    answer(as_json, {"expired": count}, f"recorded the expiry of {count} sessions")


@click.command()
@click.option("--tenant", default=None, help="only the sessions of this tenant")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@store_options
def export(tenant: str | None, file: str, url: str | None, as_json: bool) -> None:
    """Write the log to FILE as JSON Lines (- for stdout; the count then goes to stderr)."""
    with open_store(url) as store:
        count = _export(store, file, tenant)
    if file == STDIO:
        say(f"exported {count} events", stderr=True)
    else:
        answer(as_json, {"exported": count}, f"exported {count} events to {file}")


@click.command(name="import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@store_options
def import_(file: IO[str], url: str | None, as_json: bool) -> None:
    """Load an export from FILE (- for stdin) into an empty store."""
    with open_store(url) as store:
        count = store.import_events(file)
    answer(as_json, {"imported": count}, f"imported {count} events from {file.name}")


def _export(store: EventSourcedSessionStore, file: str, tenant: str | None) -> int:
    """Written to a temporary file renamed at the end: a failed export leaves no half file."""
    try:
        with click.open_file(file, "w", encoding="utf-8", atomic=file != STDIO) as fp:
            return store.export_events(fp, tenant=tenant)
    except OSError as exc:
        raise click.FileError(file, hint=exc.strerror or str(exc)) from exc


COMMANDS = (verify, rebuild, sweep, export, import_)
