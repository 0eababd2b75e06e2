"""Where an operator starts without a key: `sessions` finds sessions by tenant, user,
conversation, state or time, a page at a time; `tail` follows the log as it is written."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.console import RenderableType

from greentic_session.adapters.bootstrap.open_store import open_store
from greentic_session.adapters.cli.options import parse_time, store_options
from greentic_session.adapters.cli.output import add_row, answer, say, table, when
from greentic_session.adapters.cli.render import scope_text
from greentic_session.adapters.service.log_follower import LogFollower
from greentic_session.adapters.service.short_keys import resolve_key
from greentic_session.domain.audit import SessionEvent
from greentic_session.domain.session_search import MAX_PAGE, SessionPage

SESSION_COLUMNS = (
    "session", "state", "updated (UTC)", "v", "env / tenant / team", "user", "flow",
    "conversation", "expires",
)  # fmt: skip


@click.command()
@click.option("--env", default=None, help="environment id")
@click.option("--tenant", default=None, help="tenant id")
@click.option("--team", default=None, help="team id")
@click.option("--user", default=None, help="user id")
@click.option("--flow", default=None, help="flow id")
@click.option("--conversation", default=None, help="the conversation of its (last) wait")
@click.option(
    "--state",
    type=click.Choice(["waiting", "live", "ended", "expired", "any"]),
    default="any",
    show_default=True,
    help="waiting: live with a wait; live: with or without; ended: cleared or removed; "
    "expired: past its deadline",
)
@click.option("--updated-since", metavar="TIME", callback=parse_time, help="ISO 8601, included")
@click.option("--updated-before", metavar="TIME", callback=parse_time, help="ISO 8601, excluded")
@click.option(
    "--limit", type=click.IntRange(1, MAX_PAGE), default=50, show_default=True, help="per page"
)
@click.option("--after", metavar="CURSOR", default=None, help="the cursor a page ended with")
@store_options
def sessions(url: str | None, as_json: bool, **filters: Any) -> None:
    """Find sessions, most recently updated first: a page, and the cursor of the next.
    The options are `find_sessions`'s filters, by the same names."""
    with open_store(url, create=False) as store:
        page = store.find_sessions(**filters)
    answer(as_json, page, found(page))


def found(page: SessionPage) -> RenderableType:
    whole = ("session", "updated (UTC)", "v", "expires")
    grid = table(f"{len(page.sessions)} sessions", SESSION_COLUMNS, whole=whole)
    grid.caption = "no more" if page.next is None else f"more: --after {page.next}"
    grid.caption_justify = "left"
    for s in page.sessions:
        owner = f"{s.env} / {s.tenant} / {s.team or '-'}"
        cells = (s.state, when(s.updated_at), s.version, owner, s.user, s.flow, s.conversation)
        add_row(grid, s.session_key, *cells, when(s.expires_at) if s.expires_at else None)
    return grid


@click.command()
@click.option("--tenant", default=None, help="only this tenant's sessions")
@click.option("--user", default=None, help="only this user's sessions")
@click.option("--session", "key", metavar="KEY", default=None, help="only this session")
@click.option(
    "--interval",
    type=click.FloatRange(0.05, 60),
    default=1.0,
    show_default=True,
    help="seconds between two looks at the log",
)
@store_options
def tail(
    tenant: str | None,
    user: str | None,
    key: str | None,
    interval: float,
    url: str | None,
    as_json: bool,
) -> None:
    """Print events as they are written, until Ctrl-C: like `tail -f` of the log (one JSON
    object a line with --json). It polls by log position on every backend."""
    with open_store(url, create=False) as store:
        session = None if key is None else resolve_key(store, key)
        start = store.log_position()
        follower = LogFollower(store, start, tenant=tenant, user=user, session=session)
        say(f"following the log after position {start}; Ctrl-C ends", stderr=True)
        try:
            while True:
                for event in follower.poll():
                    show(event, as_json)
                time.sleep(interval)
        except KeyboardInterrupt:
            return


def show(event: SessionEvent, as_json: bool) -> None:
    if as_json:
        click.echo(event.model_dump_json(), nl=True)
        return
    by = f" by {event.superseded_by}" if event.superseded_by else ""
    actor = f"{event.actor or '-'} / {event.trace_id or '-'}"
    cells = (event.position, when(event.recorded_at), event.session_key, event.version)
    line = (*cells, event.type.value + by, actor, scope_text(event.scope))
    say("  ".join(str(cell) for cell in line))


COMMANDS = (sessions, tail)
