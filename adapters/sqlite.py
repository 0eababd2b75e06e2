"""`sqlite:///path`: the library's SQLite log, read models in tables of the same file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from adapters.application import SessionLog, read_model_changes
from adapters.event_store import Clock, EventSourcedSessionStore
from adapters.sql_read_models import SqlReadModels, decode_all, decode_entry, decode_state
from domain.state import SessionState
from projections.read_models import MemoryReadModels, WaitEntry

TABLES = SqlReadModels(qualifier="", placeholder="?", serial="INTEGER PRIMARY KEY AUTOINCREMENT")


class SQLiteSessionRecorder(SQLiteApplicationRecorder):
    """Writes the read-model changes in the transaction that inserts the events."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *TABLES.create_statements]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        for statement, params in TABLES.statements(read_model_changes(kwargs)):
            c.execute(statement, params)
        return super()._insert_events(c, stored_events, **kwargs)


class SQLiteReadModelReader:
    """Each lookup is one indexed SELECT on a pooled connection, outside any transaction."""

    def __init__(self, datastore: SQLiteDatastore) -> None:
        self._datastore = datastore

    def _fetch(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        with self._datastore.get_connection(commit=False) as connection:
            cursor = connection.cursor()
            cursor.execute(statement, params)
            rows: list[Any] = cursor.fetchall()
            return rows

    def session_state(self, session_key: str) -> SessionState | None:
        rows = self._fetch(TABLES.select_state, (session_key,))
        return decode_state(session_key, rows[0]) if rows else None

    def scope_entry(self, scope_key: str) -> WaitEntry | None:
        rows = self._fetch(TABLES.select_scope, (scope_key,))
        return decode_entry(rows[0]) if rows else None

    def user_waits(self, user_key: str) -> list[WaitEntry]:
        return [decode_entry(row) for row in self._fetch(TABLES.select_waits, (user_key,))]

    def load_all(self) -> MemoryReadModels:
        with self._datastore.transaction(commit=False) as cursor:
            tables = []
            for statement in (
                TABLES.select_all_states,
                TABLES.select_all_scopes,
                TABLES.select_all_waits,
            ):
                cursor.execute(statement)
                tables.append(cursor.fetchall())
        return decode_all(*tables)


def open_sqlite_store(path: str, clock: Clock | None = None) -> EventSourcedSessionStore:
    log = SessionLog(
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "APPLICATION_RECORDER_TOPIC": f"{__name__}:SQLiteSessionRecorder",
            "CREATE_TABLE": "y",
        }
    )
    recorder = log.recorder
    assert isinstance(recorder, SQLiteSessionRecorder)
    return EventSourcedSessionStore(log, SQLiteReadModelReader(recorder.datastore), clock=clock)
