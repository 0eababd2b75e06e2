"""Looking after the log: verify it, rebuild the read models, record expiries, export and
import it."""

from __future__ import annotations

import os
import stat
import sys
from typing import IO, Any

import click

from greentic_session.adapters.bootstrap.open_store import open_store
from greentic_session.adapters.cli.options import store_options
from greentic_session.adapters.cli.output import answer, say
from greentic_session.adapters.cli.progress import progress_bar
from greentic_session.adapters.cli.render import report
from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.domain.progress import Progress

STDIO = "-"


def file_name_problem(name: str) -> str | None:
    """Why no file can have this name (None if one can): checked before anything is opened,
    so such a name is a usage error, not a crash halfway through."""
    if not name:
        return "a file name cannot be empty"
    if "\x00" in name:
        return "a file name cannot contain the NUL character"
    try:
        os.fsencode(name)
    except UnicodeEncodeError:
        return "a file name cannot contain lone surrogates"
    return None


def refuse_impossible_name(
    kind: click.Path | click.File,
    value: Any,
    param: click.Parameter | None,
    ctx: click.Context | None,
) -> None:
    """A file name no file can have is a usage error (`-` is stdin/stdout)."""
    if isinstance(value, str) and value != STDIO and (problem := file_name_problem(value)):
        kind.fail(f"{value!r}: {problem}", param, ctx)


class OutputPath(click.Path):
    """A file to write, `-` for stdout."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        refuse_impossible_name(self, value, param, ctx)
        return super().convert(value, param, ctx)


class InputFile(click.File):
    """A UTF-8 text file to read, `-` for stdin."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        refuse_impossible_name(self, value, param, ctx)
        return super().convert(value, param, ctx)


@click.command()
@store_options
def verify(url: str | None, as_json: bool) -> None:
    """Check hash chains, stream heads and read models against the log (exit 1 on problems)."""
    with (
        open_store(url, create=False) as store,
        progress_bar("verifying", as_json=as_json) as progress,
    ):
        result = store.verify(progress=progress)
    answer(as_json, result, report(result))
    if not result.ok:
        sys.exit(1)


@click.command()
@store_options
def rebuild(url: str | None, as_json: bool) -> None:
    """Rebuild every read model from the log, in one transaction."""
    with (
        open_store(url, create=False) as store,
        progress_bar("rebuilding", as_json=as_json) as progress,
    ):
        store.rebuild_projections(progress=progress)
    answer(as_json, {"rebuilt": True}, "read models rebuilt from the log")


@click.command()
@click.option("--dry-run", is_flag=True, help="list the sessions it would expire; write nothing")
@store_options
def sweep(dry_run: bool, url: str | None, as_json: bool) -> None:
    """Record the expiry of every live session past its deadline."""
    if dry_run:
        with open_store(url, create=False) as store:
            due = store.sessions_due()
        listed = "".join(f"\n  {key}" for key in due)
        human = f"would record the expiry of {len(due)} sessions (dry run: nothing written)"
        answer(as_json, {"dry_run": True, "due": [str(key) for key in due]}, human + listed)
        return
    with (
        open_store(url, create=False) as store,
        progress_bar("sweeping", as_json=as_json) as progress,
    ):
        count = store.sweep_expired(progress=progress)
    answer(as_json, {"expired": count}, f"recorded the expiry of {count} sessions")


@click.command()
@click.option("--tenant", default=None, help="only the sessions of this tenant")
@click.option("--force", is_flag=True, help="replace FILE if it exists")
@click.argument("file", type=OutputPath(dir_okay=False, allow_dash=True))
@store_options
def export(tenant: str | None, force: bool, file: str, url: str | None, as_json: bool) -> None:
    """Write the log to FILE as JSON Lines (- for stdout; the count then goes to stderr).

    An existing FILE is refused unless --force (a device or a pipe is written through)."""
    if not force and file != STDIO and os.path.isfile(file):
        shown = click.format_filename(file)
        raise SessionError(
            ErrorCode.CONFLICT, f"{shown} exists: give --force to replace it, or another name"
        )
    with (
        open_store(url, create=False) as store,
        progress_bar("exporting", as_json=as_json) as progress,
    ):
        count = _export(store, file, tenant, progress)
    if file == STDIO:
        say(f"exported {count} events", stderr=True)
    else:
        shown = click.format_filename(file)
        answer(as_json, {"exported": count}, f"exported {count} events to {shown}")


@click.command(name="import")
@click.argument("file", type=InputFile("r", encoding="utf-8"))
@store_options
def import_(file: IO[str], url: str | None, as_json: bool) -> None:
    """Load an export from FILE (- for stdin) into an empty store."""
    with open_store(url) as store, progress_bar("importing", as_json=as_json) as progress:
        try:
            count = store.import_events(file, progress=progress)
        except OSError as exc:  # a device or special file that cannot be read
            raise click.FileError(file.name, hint=exc.strerror or str(exc)) from exc
    shown = click.format_filename(file.name)
    answer(as_json, {"imported": count}, f"imported {count} events from {shown}")


def _export(
    store: EventSourcedSessionStore, file: str, tenant: str | None, progress: Progress
) -> int:
    """Written to a temporary file renamed at the end: a failed export leaves no half file.

    Only a regular file (or a new one) is replaced that way: a device such as /dev/null, or
    a pipe, is written in place, never replaced by a regular file.
    """
    try:
        with click.open_file(file, "w", encoding="utf-8", atomic=_replaceable(file)) as fp:
            return store.export_events(fp, tenant=tenant, progress=progress)
    except OSError as exc:
        raise click.FileError(file, hint=exc.strerror or str(exc)) from exc


def _replaceable(file: str) -> bool:
    if file == STDIO:
        return False
    try:
        return stat.S_ISREG(os.stat(file).st_mode)
    except OSError:  # not there yet (or unreachable: opening it says why)
        return True


COMMANDS = (verify, rebuild, sweep, export, import_)
