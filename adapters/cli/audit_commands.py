"""The questions: a session's history, its state at a version or instant, what changed
between two versions, a user's waits, and why a reply did or did not resume a flow."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import click

from greentic_session.adapters.bootstrap.open_store import open_store
from greentic_session.adapters.cli import render
from greentic_session.adapters.cli.options import at_option, caller, caller_options, store_options
from greentic_session.adapters.cli.output import answer, when
from greentic_session.adapters.service.short_keys import resolve_key
from greentic_session.domain.audit import EventType, SessionEvent
from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.domain.scope import ReplyScope

KEY = click.argument("key")
"""A session key, or a unique prefix of it (8 characters or more)."""


def no_session(key: str, where: str = "") -> SessionError:
    return SessionError(ErrorCode.NOT_FOUND, f"no session {key}{where}")


@click.command()
@KEY
@click.option("--limit", type=click.IntRange(min=1), default=None, help="at most N events")
@click.option(
    "--from-version",
    type=click.IntRange(min=1),
    default=None,
    metavar="V",
    help="start at version V (default: the first, or the last with --reverse)",
)
@click.option("--reverse", is_flag=True, help="newest first")
@store_options
def history(
    key: str,
    limit: int | None,
    from_version: int | None,
    reverse: bool,
    url: str | None,
    as_json: bool,
) -> None:
    """The events of KEY across all its lives, oldest first (newest first with --reverse),
    a page at a time with --limit: the next page's --from-version is printed."""
    with open_store(url, create=False) as store:
        key = resolve_key(store, key)
        asked = None if limit is None else limit + 1  # one more shows whether more follow
        events = store.history(key, from_version=from_version, limit=asked, reverse=reverse)
    more = limit is not None and len(events) > limit
    events = events[:limit]
    if not events:
        if from_version is None:
            raise no_session(key, ": the log has no events for this key")
        raise no_session(key, f": its stream has no events from version {from_version}")
    grid = render.history(key, events)
    if more:
        grid.caption = f"more: --from-version {next_version(events, reverse)}"
        grid.caption_justify = "left"
    answer(as_json, events, grid)


def next_version(events: Sequence[SessionEvent], reverse: bool) -> int:
    """Where the page after `events` starts."""
    return events[-1].version + (-1 if reverse else 1)


def not_live(key: str, events: Sequence[SessionEvent]) -> SessionError:
    """No live session under KEY: how it ended, and where its past is (nothing: no log)."""
    if not events:
        return no_session(key)
    last = events[-1]
    by = f" by {last.actor}" if last.actor else ""
    if last.type is EventType.REMOVED:
        how = f"it was removed at {when(last.recorded_at)}{by}"
    elif last.type is EventType.WAIT_CLEARED:
        how = f"its wait was cleared at {when(last.recorded_at)}{by}"
    else:  # expired: recorded, or its deadline passed since the last write
        how = f"it expired at {when(last.expires_at)}"
    return no_session(
        key,
        f" now: {how}; see its past with `show {key} --version N` "
        f"(N from 1 to {last.version}) or `history {key}`",
    )


@click.command(name="show")
@KEY
@click.option("--version", type=click.IntRange(min=1), help="the session right after version N")
@at_option("the session as it was at this instant")
@store_options
def show_session(
    key: str, version: int | None, at: datetime | None, url: str | None, as_json: bool
) -> None:
    """The session KEY: now (the live session), after --version N, or --at an instant.

    Now, --json gives the session with its stream version, deadline and wait
    (`read_session`); after --version N or --at, the session data alone."""
    if version is not None and at is not None:
        raise click.UsageError("give --version or --at, not both")
    with open_store(url, create=False) as store:
        key = resolve_key(store, key)
        if version is None and at is None:
            stored = store.read_session(key)
            if stored is None:
                raise not_live(key, store.history(key))
            answer(as_json, stored, render.live_session(stored))
            return
        data = store.get_session_at(key, version=version, at=at)
    where = f"at version {version}" if version is not None else f"at {when(at)}"
    if data is None:
        raise no_session(key, f" {where}")
    answer(as_json, data, render.session(key, data, where))


@click.command()
@KEY
@click.argument("v1", type=click.IntRange(min=1))
@click.argument("v2", type=click.IntRange(min=1))
@store_options
def diff(key: str, v1: int, v2: int, url: str | None, as_json: bool) -> None:
    """What changed in KEY from version V1 to version V2."""
    with open_store(url, create=False) as store:
        key = resolve_key(store, key)
        if not store.history(key):
            raise no_session(key, ": the log has no events for this key")
        result = store.diff(key, v1, v2)
    answer(as_json, result, render.diff(result))


@click.command()
@caller_options
@store_options
def waits(
    env: str, tenant: str, team: str | None, user: str, url: str | None, as_json: bool
) -> None:
    """The sessions waiting for a reply from --user, oldest registration first."""
    ctx = caller(env, tenant, team, user)
    rows = []
    with open_store(url, create=False) as store:
        for key in store.list_waits_for_user(ctx, user):
            last = store.history(key)[-1:]  # one stream: its latest event holds the deadline
            expires = last[0].expires_at if last else None
            rows.append((str(key), store.get_session(key), expires))
    answer(as_json, render.wait_rows(rows), render.waits(user, rows))


@click.command()
@caller_options
@click.option("--conversation", required=True, help="the reply's conversation")
@click.option("--thread", default=None, help="its thread")
@click.option("--reply-to", default=None, help="the message it replies to")
@click.option("--correlation", default=None, help="its correlation id")
@at_option("when the reply arrived (default: now)")
@store_options
def explain(
    env: str,
    tenant: str,
    team: str | None,
    user: str,
    conversation: str,
    thread: str | None,
    reply_to: str | None,
    correlation: str | None,
    at: datetime | None,
    url: str | None,
    as_json: bool,
) -> None:
    """Which session a reply from --user in this scope resumes (or resumed --at), and why."""
    ctx = caller(env, tenant, team, user)
    scope = ReplyScope(
        conversation=conversation, thread=thread, reply_to=reply_to, correlation=correlation
    )
    with open_store(url, create=False) as store:
        result = store.explain(ctx, user, scope, at=at)
    answer(as_json, result, render.explanation(result, scope, user))


COMMANDS = (history, show_session, diff, waits, explain)
