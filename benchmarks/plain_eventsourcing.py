"""The eventsourcing library used plainly: one aggregate per session, no read models.

A write is a command on the aggregate plus `Application.save`; a read is
`repository.get`, which replays the session's events (no snapshots, no cache: the
library's defaults). Events carry the same session data as ours (`SessionData` as JSON).
"""

from __future__ import annotations

import itertools
from functools import cache, partial
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from benchmarks.databases import create_schema, schema_of, sqlite_path
from benchmarks.inputs import VARIANTS, data_of, serial, spread_user
from benchmarks.timing import Call, Prepare, cycle_calls

JsonDict = dict[str, Any]
SAVE_BATCH = 1000  # events per save while building a long session (set-up only)


class PlainSession(Aggregate):
    class Created(Aggregate.Created):
        data: JsonDict

    class Updated(Aggregate.Event):
        data: JsonDict

        def apply(self, aggregate: Any) -> None:
            aggregate.data = self.data

    def __init__(self, data: JsonDict) -> None:
        self.data = data

    def update(self, data: JsonDict) -> None:
        self.trigger_event(self.Updated, data=data)


class PlainSessions(Application[UUID]):
    name = "plainsessions"


def open_plain(url: str) -> PlainSessions:
    """The application on a benchmark URL: memory://, sqlite:///…, postgresql://…?schema=."""
    scheme = url.partition("://")[0]
    if scheme == "memory":
        return PlainSessions({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    if scheme == "sqlite":
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": sqlite_path(url)}
        return PlainSessions(env)
    create_schema(url)
    parts = urlsplit(url)
    return PlainSessions(
        {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_SCHEMA": schema_of(url),
            "CREATE_TABLE": "y",
        }
    )


def snapshot(step: int, user: str) -> JsonDict:
    """The same data as ours, as the JSON dict an event carries (built once per variant)."""
    return _snapshot(user, step % VARIANTS)


@cache
def _snapshot(user: str, variant: int) -> JsonDict:
    return data_of(user, variant).model_dump(mode="json")


def create_and_save(app: PlainSessions, data: JsonDict) -> UUID:
    session = PlainSession(data)
    app.save(session)
    return session.id


def update_and_save(app: PlainSessions, session: PlainSession, data: JsonDict) -> None:
    session.update(data)
    app.save(session)


def creates(app: PlainSessions) -> Prepare:
    def prepare(n: int) -> list[Call]:
        return [partial(create_and_save, app, snapshot(0, spread_user(serial()))) for _ in range(n)]

    return prepare


def updates(app: PlainSessions, pool: int) -> Prepare:
    """The aggregate is in hand (no `get`): the command and `save` alone."""
    sessions = [PlainSession(snapshot(0, spread_user(i))) for i in range(pool)]
    app.save(*sessions)
    rotation = itertools.cycle(enumerate(sessions))

    def prepare(n: int) -> list[Call]:
        return [
            partial(update_and_save, app, session, snapshot(serial(), spread_user(i)))
            for i, session in itertools.islice(rotation, n)
        ]

    return prepare


def gets(app: PlainSessions, ids: list[UUID]) -> Prepare:
    return cycle_calls([partial(app.repository.get, session_id) for session_id in ids])


def session_with_events(app: PlainSessions, events: int) -> UUID:
    """A session created, then updated `events - 1` times (saved in batches)."""
    session = PlainSession(snapshot(0, "long-lived"))
    for step in range(1, events):
        session.update(snapshot(step, "long-lived"))
        if step % SAVE_BATCH == 0:
            app.save(session)
    app.save(session)
    assert app.repository.get(session.id).version == events
    return session.id
