"""`postgresql://…`: the library's PostgreSQL log (psycopg 3 pool), read models beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composed

from adapters.application import SessionLog, read_model_changes
from adapters.event_store import Clock, EventSourcedSessionStore
from adapters.sql_read_models import SqlReadModels, decode_all, decode_entry, decode_state
from domain.state import SessionState
from projections.read_models import MemoryReadModels, WaitEntry

SERIAL = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"


def tables_in(schema: str) -> SqlReadModels:
    return SqlReadModels(qualifier=f'"{schema}".', placeholder="%s", serial=SERIAL)


class PostgresSessionRecorder(PostgresApplicationRecorder):
    """Writes the read-model changes in the transaction (and pipeline) of the append."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.tables = tables_in(datastore.schema)
        self.sql_create_statements.extend(Composed([SQL(s)]) for s in self.tables.create_statements)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """After the events, in the same pipeline and transaction.

        Not in `_insert_events`: the library syncs the pipeline only around this step, so
        a claim that clashes here surfaces as an `IntegrityError` (retried by the store)
        instead of aborting the pipeline with an `OperationalError`.
        """
        super()._insert_stored_events(curs, stored_events, **kwargs)
        with curs.connection.cursor() as read_model_cursor:
            for statement, params in self.tables.statements(read_model_changes(kwargs)):
                read_model_cursor.execute(statement, params, prepare=True)


class PostgresReadModelReader:
    """Each lookup is one prepared, indexed SELECT on a pooled autocommit connection."""

    def __init__(self, datastore: PostgresDatastore, tables: SqlReadModels) -> None:
        self._datastore = datastore
        self._tables = tables

    def _fetch(self, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._datastore.get_connection() as connection:
            cursor = connection.cursor(row_factory=tuple_row)
            cursor.execute(statement, params, prepare=True)
            return cursor.fetchall()

    def session_state(self, session_key: str) -> SessionState | None:
        rows = self._fetch(self._tables.select_state, (session_key,))
        return decode_state(session_key, rows[0]) if rows else None

    def scope_entry(self, scope_key: str) -> WaitEntry | None:
        rows = self._fetch(self._tables.select_scope, (scope_key,))
        return decode_entry(rows[0]) if rows else None

    def user_waits(self, user_key: str) -> list[WaitEntry]:
        return [decode_entry(r) for r in self._fetch(self._tables.select_waits, (user_key,))]

    def load_all(self) -> MemoryReadModels:
        """One snapshot of all three tables (REPEATABLE READ), so they agree with each other."""
        tables = []
        with self._datastore.get_connection() as connection, connection.transaction():
            cursor = connection.cursor(row_factory=tuple_row)
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for statement in (
                self._tables.select_all_states,
                self._tables.select_all_scopes,
                self._tables.select_all_waits,
            ):
                cursor.execute(statement)
                tables.append(cursor.fetchall())
        return decode_all(*tables)


def open_postgres_store(
    settings: Mapping[str, str], clock: Clock | None = None
) -> EventSourcedSessionStore:
    """`settings`: the library's POSTGRES_* keys, as `adapters.urls` parses them."""
    log = SessionLog(
        {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": f"{__name__}:PostgresSessionRecorder",
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            "CREATE_TABLE": "y",
            **settings,
        }
    )
    recorder = log.recorder
    assert isinstance(recorder, PostgresSessionRecorder)
    reader = PostgresReadModelReader(recorder.datastore, recorder.tables)
    return EventSourcedSessionStore(log, reader, clock=clock)
