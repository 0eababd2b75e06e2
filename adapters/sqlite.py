"""`sqlite:///path`: the library's SQLite log, read models in tables of the same file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from adapters.application import SessionLog, read_model_changes
from adapters.event_store import EventSourcedSessionStore
from adapters.sql_reader import SqlReadModelReader
from adapters.sql_tables import SqlReadModels
from domain.rules import Clock

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


class SQLiteReadModelReader(SqlReadModelReader):
    """Each lookup is one indexed SELECT on a pooled connection (WAL: never blocked by writers)."""

    def __init__(self, datastore: SQLiteDatastore) -> None:
        super().__init__(TABLES)
        self._datastore = datastore

    def fetch(self, statement: str, params: tuple[Any, ...]) -> list[Sequence[Any]]:
        with self._datastore.get_connection(commit=False) as connection:
            cursor = connection.cursor()
            cursor.execute(statement, params)
            rows: list[Sequence[Any]] = cursor.fetchall()
            return rows

    def fetch_snapshot(self, statements: list[str]) -> list[list[Sequence[Any]]]:
        results = []
        with self._datastore.transaction(commit=False) as cursor:
            for statement in statements:
                cursor.execute(statement)
                results.append(cursor.fetchall())
        return results


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
