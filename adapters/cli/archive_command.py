"""`greentic-session archive`: move the ended sessions out of the live log, into a file.

A retention policy a cron job can run: `--keep 90d` archives what ended more than 90
days ago. The file is written in place, batch by batch, and flushed before each batch
commits (never through a temporary file: the events leave the database as they are
written), so an existing FILE is refused unless `--force`.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

import click

from greentic_session.adapters.bootstrap.open_store import open_store
from greentic_session.adapters.cli.maintenance_commands import OutputPath
from greentic_session.adapters.cli.options import parse_time, store_options
from greentic_session.adapters.cli.output import answer
from greentic_session.adapters.cli.progress import progress_bar
from greentic_session.domain.errors import ErrorCode, SessionError

UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_keep(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    """`90d`, `12h`, `30m`: how long ended sessions stay in the live log."""
    if value is None:
        return None
    found = re.fullmatch(r"\s*(\d{1,6})\s*([dhm])\s*", value)
    if found is None:
        raise click.BadParameter(f"{value!r} is not a duration such as 90d, 12h or 30m")
    return timedelta(**{UNITS[found[2]]: int(found[1])})


@click.command()
@click.option(
    "--ended-before",
    metavar="TIME",
    callback=parse_time,
    help="archive what ended before; ISO 8601",
)
@click.option(
    "--keep", metavar="AGE", callback=parse_keep, help="archive what ended more than AGE ago (90d)"
)
@click.option("--force", is_flag=True, help="replace FILE if it exists")
@click.argument("file", type=OutputPath(dir_okay=False, allow_dash=False))
@store_options
def archive(
    ended_before: datetime | None,
    keep: timedelta | None,
    force: bool,
    file: str,
    url: str | None,
    as_json: bool,
) -> None:
    """Move every session that ended before TIME (or more than --keep ago) out of the live
    log into FILE (JSON Lines with hashes and a digest; `import` reads it), leaving a
    tombstone each that verify and history read. Run as the tables' owner."""
    if (ended_before is None) == (keep is None):
        raise click.UsageError("give --ended-before TIME or --keep AGE (one of them)")
    cut = ended_before if ended_before is not None else datetime.now(UTC) - (keep or timedelta())
    if not force and os.path.exists(file):
        shown = click.format_filename(file)
        raise SessionError(
            ErrorCode.CONFLICT, f"{shown} exists: give --force to replace it, or another name"
        )
    try:
        with (
            open_store(url, create=False) as store,
            open(file, "w", encoding="utf-8") as fp,
            progress_bar("archiving", as_json=as_json) as progress,
        ):
            report = store.archive(ended_before=cut, to=fp, progress=progress)
    except OSError as exc:
        raise click.FileError(file, hint=exc.strerror or str(exc)) from exc
    shown = click.format_filename(file)
    human = (
        f"archived {report.streams} streams ({report.events} events) ended before "
        f"{cut.isoformat()} to {shown}; archive digest {report.digest}"
    )
    answer(as_json, report, human)
