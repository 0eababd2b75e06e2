"""For the tamper tests: direct SQL on a store's own SQLite or PostgreSQL tables, bypassing
the store; the sessions they edit; and how `verify` must name an edit."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from greentic_session import SessionKey, VerifyReport
from greentic_session.domain.state import stream_id
from tests.support import make_ctx, make_scope

USER = "alice"
CTX = make_ctx(user=USER)
SCOPE_A = make_scope("chat-a")
SCOPE_B = make_scope("chat-b")

Rows = list[tuple[Any, ...]]


class RawTables:
    """SQL on the store's own tables, bypassing the store.

    Statements use `?` placeholders and these names: `{q}` the table qualifier (the
    PostgreSQL schema), `{events}` the event log table, `{position}` its log-position
    column. `stream(key)` is the key's `originator_id` as the events table stores it.
    """

    def __init__(
        self,
        run: Callable[[str, Sequence[Any]], Rows],
        *,
        placeholder: str,
        qualifier: str,
        events: str,
        position: str,
        stream: Callable[[uuid.UUID], Any],
    ) -> None:
        self._run = run
        self._placeholder = placeholder
        self._qualifier = qualifier
        self._events = events
        self._position = position
        self._stream = stream

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        text = (
            sql.replace("{events}", f"{{q}}{self._events}")
            .replace("{q}", self._qualifier)
            .replace("{position}", self._position)
            .replace("?", self._placeholder)
        )
        return self._run(text, params)

    def stream(self, key: str) -> Any:
        return self._stream(stream_id(key))

    def event(self, key: str, version: int) -> tuple[str, bytes]:
        """The stored topic and state of one event."""
        rows = self.execute(
            "SELECT topic, state FROM {events} WHERE originator_id = ? AND originator_version = ?",
            (self.stream(key), version),
        )
        assert len(rows) == 1, rows
        topic, state = rows[0]
        return topic, bytes(state)

    def set_event(self, key: str, version: int, topic: str, state: bytes) -> None:
        self.execute(
            "UPDATE {events} SET topic = ?, state = ? "
            "WHERE originator_id = ? AND originator_version = ?",
            (topic, state, self.stream(key), version),
        )

    def position(self, key: str, version: int) -> int:
        rows = self.execute(
            "SELECT {position} FROM {events} WHERE originator_id = ? AND originator_version = ?",
            (self.stream(key), version),
        )
        position: int = rows[0][0]
        return position

    def move_event(self, key: str, version: int, position: int) -> None:
        self.execute(
            "UPDATE {events} SET {position} = ? WHERE originator_id = ? AND originator_version = ?",
            (position, self.stream(key), version),
        )

    def delete_event(self, key: str, version: int) -> None:
        self.execute(
            "DELETE FROM {events} WHERE originator_id = ? AND originator_version = ?",
            (self.stream(key), version),
        )


def _sqlite_tables(path: str) -> RawTables:
    def run(sql: str, params: Sequence[Any]) -> Rows:
        connection = sqlite3.connect(path, timeout=10)
        try:
            with connection:
                return connection.execute(sql, tuple(params)).fetchall()
        finally:
            connection.close()

    events = run(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%originator_version%'",
        (),
    )
    assert len(events) == 1, events
    return RawTables(
        run,
        placeholder="?",
        qualifier="",
        events=events[0][0],
        position="rowid",
        stream=lambda stream: stream.hex,
    )


def _postgres_tables(dsn: str, schema: str) -> RawTables:
    def run(sql: str, params: Sequence[Any]) -> Rows:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as connection:
            cursor = connection.execute(sql, tuple(params))
            return cursor.fetchall() if cursor.description is not None else []

    events = run(
        "SELECT table_name FROM information_schema.columns "
        "WHERE table_schema = %s AND column_name = 'originator_version'",
        (schema,),
    )
    assert len(events) == 1, events
    return RawTables(
        run,
        placeholder="%s",
        qualifier=f'"{schema}".',
        events=f'"{events[0][0]}"',
        position="notification_id",
        stream=lambda stream: stream,
    )


@dataclass(frozen=True)
class Sessions:
    """`waiting`: v1 created, v2 updated, v3 wait registered on SCOPE_A, v4 updated.
    `other`: v1 created, v2 wait registered on SCOPE_B."""

    waiting: SessionKey
    other: SessionKey


def problems_naming(report: VerifyReport, *parts: str) -> list[str]:
    """The problems that mention every one of `parts`."""
    assert not report.ok, "verify() found nothing wrong"
    assert report.problems
    return [p for p in report.problems if all(part in p for part in parts)]


def assert_named(report: VerifyReport, *parts: str) -> None:
    found = problems_naming(report, *parts)
    assert found, f"no problem names {parts}: {report.problems}"
