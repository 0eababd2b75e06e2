"""Tamper evidence: edits made directly in the SQLite and PostgreSQL tables, behind the
store's back, and `verify()` naming what broke.

Each tamper test is written once against `RawTables`, which runs SQL on the database of
`store` with the backend's placeholder and table qualifier.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from greentic_session import AuditedSessionStore, ErrorCode, SessionKey, VerifyReport
from greentic_session.domain.chain import ENVELOPE_FIELDS, event_hash
from greentic_session.domain.state import stream_id
from tests.conftest import PERSISTENT_BACKENDS
from tests.support import make_ctx, make_data, make_scope, raises_code

pytestmark = pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)

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


@pytest.fixture
def raw(
    backend: str, store_url: str, store: AuditedSessionStore, request: pytest.FixtureRequest
) -> RawTables:
    """Direct access to the tables of `store` (opened first, so the tables exist)."""
    if backend == "sqlite":
        return _sqlite_tables(store_url.removeprefix("sqlite:///"))
    schema = parse_qs(urlsplit(store_url).query)["schema"][0]
    return _postgres_tables(request.getfixturevalue("pg_dsn"), schema)


@dataclass(frozen=True)
class Sessions:
    """`waiting`: v1 created, v2 updated, v3 wait registered on SCOPE_A, v4 updated.
    `other`: v1 created, v2 wait registered on SCOPE_B."""

    waiting: SessionKey
    other: SessionKey


@pytest.fixture
def sessions(store: AuditedSessionStore) -> Sessions:
    key = store.create_session(CTX, make_data(CTX, node="node.first"))
    store.update_session(key, make_data(CTX, node="node.second"))
    store.register_wait(CTX, USER, SCOPE_A, key, make_data(CTX, node="node.third"))
    store.update_session(key, make_data(CTX, node="node.fourth"))
    other = store.create_session(CTX, make_data(CTX, node="node.other"))
    store.register_wait(CTX, USER, SCOPE_B, other, make_data(CTX, node="node.other.wait"))
    assert store.verify().ok
    return Sessions(waiting=key, other=other)


def problems_naming(report: VerifyReport, *parts: str) -> list[str]:
    """The problems that mention every one of `parts`."""
    assert not report.ok, "verify() found nothing wrong"
    assert report.problems
    return [p for p in report.problems if all(part in p for part in parts)]


def assert_named(report: VerifyReport, *parts: str) -> None:
    found = problems_naming(report, *parts)
    assert found, f"no problem names {parts}: {report.problems}"


# -- a clean store -------------------------------------------------------------------------


def test_a_store_nobody_edited_verifies_clean(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    report = store.verify()
    assert report.ok, report.problems
    assert report.problems == []
    assert report.streams == 2
    assert report.events == 6
    assert len(raw.execute("SELECT originator_id FROM {events}")) == 6


# -- edits to the log ----------------------------------------------------------------------


def test_an_altered_event_is_named_with_its_version(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    topic, state = raw.event(sessions.waiting, 2)
    assert b"node.second" in state
    raw.set_event(sessions.waiting, 2, topic, state.replace(b"node.second", b"node.forged"))

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v2", "altered")
    assert not [p for p in report.problems if p.startswith(sessions.other)]


def test_a_deleted_last_event_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.delete_event(sessions.waiting, 4)

    report = store.verify()

    assert_named(report, sessions.waiting, "v4", "deleted")


def test_a_deleted_middle_event_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.delete_event(sessions.waiting, 2)

    report = store.verify()

    assert_named(report, sessions.waiting, "v2", "deleted")


def test_a_deleted_stream_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute("DELETE FROM {events} WHERE originator_id = ?", (raw.stream(sessions.waiting),))

    report = store.verify()

    assert_named(report, sessions.waiting, "stream deleted")
    assert report.streams == 1


def test_two_swapped_events_are_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    second, third = raw.event(sessions.waiting, 2), raw.event(sessions.waiting, 3)
    raw.set_event(sessions.waiting, 2, *third)
    raw.set_event(sessions.waiting, 3, *second)

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v2")
    assert_named(report, f"{sessions.waiting} v3")


def test_two_events_swapped_in_log_order_are_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    second, third = raw.position(sessions.waiting, 2), raw.position(sessions.waiting, 3)
    spare = max(row[0] for row in raw.execute("SELECT {position} FROM {events}")) + 1
    raw.move_event(sessions.waiting, 2, spare)
    raw.move_event(sessions.waiting, 3, second)
    raw.move_event(sessions.waiting, 2, third)

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v2", "reordered")


def test_an_altered_event_with_a_recomputed_hash_is_caught_by_the_head(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """An editor who knows the hash recipe can make the last event look sound; the head
    the store recorded with the write still tells."""
    topic, stored = raw.event(sessions.waiting, 4)
    state = json.loads(stored)
    state["data"]["cursor"]["node_pointer"] = "node.forged"
    body = {name: value for name, value in state.items() if name not in ENVELOPE_FIELDS}
    recorded_at = datetime.fromisoformat(state["timestamp"]["_data_"])
    state["hash"] = event_hash(
        stream_id(sessions.waiting), 4, "Session.Updated", recorded_at, state["prev_hash"], body
    )
    raw.set_event(sessions.waiting, 4, topic, json.dumps(state).encode())

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v4", "not the event the store wrote")
    assert not problems_naming(report, "altered")  # the event itself checks out
    assert not problems_naming(report, "does not follow")
    assert store.history(sessions.waiting)[-1].data == make_data(CTX, node="node.forged")


def test_an_unreadable_event_is_named_and_rebuild_refuses_to_run(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    topic, _ = raw.event(sessions.waiting, 2)
    raw.set_event(sessions.waiting, 2, topic, b"not an event")

    assert_named(store.verify(), f"{sessions.waiting} v2", "unreadable")
    with raises_code(ErrorCode.INTERNAL):
        store.rebuild_projections()
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == sessions.waiting
    assert store.get_session(sessions.waiting) == make_data(CTX, node="node.fourth")


def test_an_event_inserted_after_the_last_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "SELECT originator_id, 5, topic, state FROM {events} "
        "WHERE originator_id = ? AND originator_version = 4",
        (raw.stream(sessions.waiting),),
    )

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v5")
    assert_named(report, sessions.waiting, "inserted")


def test_an_inserted_stream_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """A copy of a whole stream under another stream id is not the store's, and says so
    without blaming the stream it was copied from."""
    intruder = raw.stream("intruder")
    raw.execute(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "SELECT ?, originator_version, topic, state FROM {events} "
        "WHERE originator_id = ? ORDER BY originator_version",
        (intruder, raw.stream(sessions.other)),
    )

    report = store.verify()

    assert_named(report, str(stream_id("intruder")), "inserted")
    assert report.streams == 3
    assert not [p for p in report.problems if p.startswith(sessions.other)]


# -- edits to the read models --------------------------------------------------------------


def test_a_scope_index_row_pointing_at_another_session_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    changed = raw.execute(
        "UPDATE {q}gs_scope_index SET session_key = ? WHERE session_key = ? RETURNING scope_key",
        (sessions.other, sessions.waiting),
    )
    assert len(changed) == 1

    report = store.verify()

    assert_named(report, "scope index", sessions.other, sessions.waiting)


def test_a_changed_session_state_row_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    (data,) = raw.execute(
        "SELECT data FROM {q}gs_session_state WHERE session_key = ?", (sessions.waiting,)
    )[0]
    raw.execute(
        "UPDATE {q}gs_session_state SET data = ? WHERE session_key = ?",
        (data.replace("node.fourth", "node.forged"), sessions.waiting),
    )

    report = store.verify()

    assert_named(report, "session state", sessions.waiting)
    assert store.get_session(sessions.waiting) is not None


def test_a_deleted_user_waits_row_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute("DELETE FROM {q}gs_user_waits WHERE session_key = ?", (sessions.other,))

    report = store.verify()

    assert_named(report, "user waits", sessions.other)


# -- rebuild: drift goes, tampering stays --------------------------------------------------


def test_rebuild_repairs_a_corrupted_index_row(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute(
        "UPDATE {q}gs_scope_index SET session_key = ? WHERE session_key = ?",
        (sessions.other, sessions.waiting),
    )
    assert problems_naming(store.verify(), "scope index")

    store.rebuild_projections()

    report = store.verify()
    assert report.ok, report.problems
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == sessions.waiting


def test_rebuild_does_not_hide_an_altered_event(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    topic, state = raw.event(sessions.waiting, 2)
    raw.set_event(sessions.waiting, 2, topic, state.replace(b"node.second", b"node.forged"))

    store.rebuild_projections()

    assert_named(store.verify(), f"{sessions.waiting} v2", "altered")


def test_rebuild_does_not_hide_a_deleted_last_event(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """The heads are the anchor: a rebuild keeps them, so the missing tail still shows."""
    raw.delete_event(sessions.waiting, 4)
    raw.execute(
        "UPDATE {q}gs_scope_index SET session_key = ? WHERE session_key = ?",
        (sessions.other, sessions.waiting),
    )

    store.rebuild_projections()

    report = store.verify()
    assert_named(report, sessions.waiting, "v4", "deleted")
    assert not problems_naming(report, "scope index")


def test_rebuild_does_not_hide_a_deleted_stream(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute("DELETE FROM {events} WHERE originator_id = ?", (raw.stream(sessions.waiting),))

    store.rebuild_projections()

    report = store.verify()
    assert_named(report, sessions.waiting, "stream deleted")
    assert store.get_session(sessions.waiting) is None
