"""`postgresql://…`: the library's PostgreSQL log (psycopg 3 pool), read models beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composed
from psycopg_pool import PoolTimeout

from adapters.application import SessionLog, read_model_changes
from adapters.event_store import EventSourcedSessionStore
from adapters.sql_reader import SqlReadModelReader
from adapters.sql_tables import SqlReadModels
from domain.rules import Clock

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


class PostgresReadModelReader(SqlReadModelReader):
    """Each lookup is one prepared, indexed SELECT on a pooled autocommit connection."""

    def __init__(self, datastore: PostgresDatastore, tables: SqlReadModels) -> None:
        super().__init__(tables)
        self._datastore = datastore

    def fetch(self, statement: str, params: tuple[Any, ...]) -> list[Sequence[Any]]:
        try:
            return self._fetch_once(statement, params)
        except (OperationalError, InterfaceError) as exc:
            if isinstance(exc.__cause__, PoolTimeout):
                raise  # no connection could be made within the connect timeout: the server is down
            # A broken pooled connection (the server restarted): drop every broken one and
            # try once more, so the store recovers by itself instead of failing once per
            # connection in the pool.
            self._datastore.pool.check()
            return self._fetch_once(statement, params)

    def _fetch_once(self, statement: str, params: tuple[Any, ...]) -> list[Sequence[Any]]:
        with self._datastore.get_connection() as connection:
            cursor = connection.cursor(row_factory=tuple_row)
            cursor.execute(statement, params, prepare=True)
            return list(cursor.fetchall())

    def fetch_snapshot(self, statements: list[str]) -> list[list[Sequence[Any]]]:
        results: list[list[Sequence[Any]]] = []
        with self._datastore.get_connection() as connection, connection.transaction():
            cursor = connection.cursor(row_factory=tuple_row)
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for statement in statements:
                cursor.execute(statement)
                results.append(list(cursor.fetchall()))
        return results


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
