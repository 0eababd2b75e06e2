"""`sqlite:///path`: the library's SQLite log, read models in tables of the same file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, PersistenceError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from greentic_session.adapters.storage.encryption import content_sealer
from greentic_session.adapters.storage.library_seams import insert_sqlite_events
from greentic_session.adapters.storage.log_access import (
    BuildChanges,
    BuildReadModels,
    ImportedReadModels,
    log_not_empty,
)
from greentic_session.adapters.storage.session_log import OpenedLog, SessionLog, read_model_changes
from greentic_session.adapters.storage.sql_reader import SqlReadModelReader, read_all
from greentic_session.adapters.storage.sql_tables import SCOPE_HISTORY_TABLE, SqlReadModels
from greentic_session.projections.projector import as_changes
from greentic_session.projections.read_models import MemoryReadModels

EVENTS_TABLE = "stored_events"  # the library's default name for it


def sqlite_tables() -> SqlReadModels:
    return SqlReadModels(
        qualifier="",
        placeholder="?",
        event_position=(
            f"(SELECT rowid FROM {EVENTS_TABLE} WHERE originator_id = ? AND originator_version = ?)"
        ),
        stream_param=lambda stream: stream.hex,  # the library stores UUIDs as hex text here
    )


class SQLiteSessionRecorder(SQLiteApplicationRecorder):
    """Writes the read-model changes in the transaction that inserts the events."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = EVENTS_TABLE) -> None:
        self.tables = sqlite_tables()
        super().__init__(datastore, events_table_name=events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.tables.create_statements]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's insert, then the read-model changes, in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            positions = insert_sqlite_events(self, c, stored_events)
            for statement, params in self.tables.statements(read_model_changes(kwargs)):
                c.execute(statement, params)
            return positions

    def import_log(
        self, batches: Iterable[Sequence[StoredEvent]], read_models: ImportedReadModels
    ) -> None:
        """One transaction on the writer's connection: the library's insert for each batch
        (assumption 1), then the read models in `executemany` batches. A writer that got
        in after the emptiness check makes the first insert fail (SQLite refuses to turn a
        stale read into a write), so nothing is imported on top of it."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"SELECT 1 FROM {self.events_table_name} LIMIT 1")
            if c.fetchone() is not None:
                raise log_not_empty()
            for batch in batches:
                insert_sqlite_events(self, c, batch)
            for statement, rows in self.tables.in_bulk(read_models()):
                c.executemany(statement, rows)

    def stream_notifications(self, stream: UUID) -> list[Notification]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"{self._select_events} WHERE originator_id = ? ORDER BY originator_version",
                (stream.hex,),
            )
            return [self._notification(row) for row in c.fetchall()]

    def log_snapshot(self) -> tuple[list[Notification], MemoryReadModels]:
        with self.datastore.transaction(commit=False) as c:
            return self._select_log(c), read_all(c, self.tables)

    def replace_read_models(self, build: BuildReadModels) -> None:
        """The first DELETE takes the write lock, so no write lands between read and rewrite."""
        with self.datastore.transaction(commit=True) as c:
            for table in self.tables.projection_tables:
                c.execute(f"DELETE FROM {table}")
            models = build(self._select_log(c))
            for statement, params in self.tables.statements(as_changes(models, heads=False)):
                c.execute(statement, params)

    def ensure_scope_history(self, build: BuildChanges) -> bool:
        """The `CREATE TABLE` takes the write lock before the log is read: no write lands
        between the read and the fill. A read-only file, or another process that created
        it first, fails the `CREATE`: the table's presence then decides."""
        if self._has_scope_history():
            return True
        try:
            with self.datastore.transaction(commit=True) as c:
                for statement in self.tables.create_scope_history:
                    c.execute(statement)
                self.tables.scope_history_ready = True
                for statement, params in self.tables.statements(build(self._select_log(c))):
                    c.execute(statement, params)
        except PersistenceError:
            self.tables.scope_history_ready = self._has_scope_history()
        except BaseException:
            self.tables.scope_history_ready = False
            raise
        return self.tables.scope_history_ready

    def _has_scope_history(self) -> bool:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (SCOPE_HISTORY_TABLE,),
            )
            return bool(c.fetchall())

    @property
    def _select_events(self) -> str:
        return (
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {self.events_table_name}"
        )

    def _select_log(self, c: SQLiteCursor) -> list[Notification]:
        c.execute(f"{self._select_events} ORDER BY rowid")
        return [self._notification(row) for row in c.fetchall()]

    def _notification(self, row: Sequence[Any]) -> Notification:
        position, originator_id, version, topic, state = row
        return Notification(
            id=position,
            originator_id=self.convert_originator_id(originator_id),
            originator_version=version,
            topic=topic,
            state=state,
        )


class SQLiteReadModelReader(SqlReadModelReader):
    """Each lookup is one indexed SELECT on a pooled connection (WAL: never blocked by writers)."""

    def __init__(self, datastore: SQLiteDatastore, tables: SqlReadModels) -> None:
        super().__init__(tables)
        self._datastore = datastore

    def fetch(self, statement: str, params: tuple[Any, ...]) -> list[Sequence[Any]]:
        with self._datastore.get_connection(commit=False) as connection:
            cursor = connection.cursor()
            cursor.execute(statement, params)
            rows: list[Sequence[Any]] = cursor.fetchall()
            return rows

    def load_all(self) -> MemoryReadModels:
        with self._datastore.transaction(commit=False) as cursor:
            return read_all(cursor, self.tables)


def open_sqlite_log(
    path: str, log_settings: Mapping[str, str], *, create_tables: bool = True
) -> OpenedLog:
    """`create_tables`: False when they exist, so that opening runs no DDL."""
    log = SessionLog(
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "APPLICATION_RECORDER_TOPIC": f"{__name__}:SQLiteSessionRecorder",
            "CREATE_TABLE": "y" if create_tables else "n",
            **log_settings,
        }
    )
    recorder = log.recorder
    assert isinstance(recorder, SQLiteSessionRecorder)
    recorder.tables.sealer = content_sealer(log.mapper.cipher)
    reader = SQLiteReadModelReader(recorder.datastore, recorder.tables)
    return OpenedLog(log, reader, recorder)
