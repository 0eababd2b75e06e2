"""`postgresql://…`: the library's PostgreSQL log (psycopg 3 pool), read models beside it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    Notification,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import ClientCursor, Connection, Cursor
from psycopg.rows import TupleRow, tuple_row
from psycopg.sql import SQL, Composed

from greentic_session.adapters.storage.encryption import content_sealer
from greentic_session.adapters.storage.library_seams import replace_pool, without_retry
from greentic_session.adapters.storage.log_access import LOG_BATCH, BuildReadModels, LogSnapshot
from greentic_session.adapters.storage.postgres_pool import recovering_pool
from greentic_session.adapters.storage.session_log import OpenedLog, SessionLog, read_model_changes
from greentic_session.adapters.storage.sql_reader import (
    SqlReadModelReader,
    read_all,
    select_rows,
    stored_rows,
    write_read_models,
)
from greentic_session.adapters.storage.sql_tables import SqlReadModels
from greentic_session.projections.changes import Change, row_of
from greentic_session.projections.read_model_rows import ReadModelRows, StoredRow
from greentic_session.projections.read_models import MemoryReadModels

EVENT_COLUMNS = "notification_id, originator_id, originator_version"
DEFAULT_LONG_OPERATION_TIMEOUT = 600.0
"""Seconds a long audit operation's statement, or its pause between two batches, may take
before the server ends it (0: no limit); the URL option `long_operation_timeout`."""
LONG_OPERATION_TIMEOUT = "POSTGRES_LONG_OPERATION_TIMEOUT"
"""The setting `bootstrap.urls` passes the URL option as (the library ignores it)."""


def tables_in(schema: str, events_table: str) -> SqlReadModels:
    """`events_table`: the log's table, schema-qualified and quoted."""
    return SqlReadModels(
        qualifier=f'"{schema}".',
        placeholder="%s",
        event_position=(
            f"(SELECT notification_id FROM {events_table} "
            "WHERE originator_id = %s AND originator_version = %s)"
        ),
        stream_param=lambda stream: stream,
    )


class PostgresSessionRecorder(PostgresApplicationRecorder):
    """Writes the read-model changes in the transaction of the append."""

    # The library's, without its retry loop (10 attempts, each waiting up to the connect
    # timeout): an outage fails these at once too, within the bound, like every call.
    select_notifications = without_retry(PostgresApplicationRecorder.select_notifications)
    max_notification_id = without_retry(PostgresApplicationRecorder.max_notification_id)

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str) -> None:
        """The store's pool takes the place of the library's first: the library's
        constructor, next, is what opens it (see `library_seams.replace_pool`)."""
        replace_pool(datastore, recovering_pool)
        super().__init__(datastore, events_table_name=events_table_name)
        self._events_table = f'"{datastore.schema}"."{events_table_name}"'
        self.log_query = (
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {self._events_table}"
        )
        self.long_operation_timeout = DEFAULT_LONG_OPERATION_TIMEOUT
        self.tables = tables_in(datastore.schema, self._events_table)
        self.sql_create_statements.extend(Composed([SQL(s)]) for s in self.tables.create_statements)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The events and their read-model changes in one round trip and one transaction.

        Usually one prepared statement: the events' `INSERT` and every change as parts of a
        `WITH` query, which PostgreSQL runs as one statement, all or nothing. Those parts
        cannot see each other's rows, so when two changes write the same row (a session
        taking over a scope from another, or re-claiming its own) the writes go instead
        as one multi-statement string, run in order as one implicit transaction.

        Unlike the library's recorder there is no `LOCK TABLE`, so writers of different
        sessions never wait for each other. Positions (notification ids) can then commit
        out of order, which is safe here: no reader tails the log by position. Every read
        model is written in the writer's own transaction, and a writer that saw another's
        effects drew its positions after that one committed, so replaying the committed
        log in position order rebuilds the same read models. Nor is there the library's
        retry loop: a lost server fails the write at once with `unavailable`.
        """
        changes = read_model_changes(kwargs)
        events = [
            value
            for e in stored_events
            for value in (e.originator_id, e.originator_version, e.topic, e.state)
        ]
        with self.datastore.get_connection() as connection:
            try:
                if len({row_of(change) for change in changes}) == len(changes):
                    text, params = self._as_one_statement(len(stored_events), changes)
                    connection.execute(text, [*events, *params], prepare=True)
                else:
                    statements = [(self._insert_events_sql(len(stored_events)), tuple(events))]
                    statements += self.tables.statements(changes)
                    text = "; ".join(statement for statement, _ in statements)
                    params = [value for _, values in statements for value in values]
                    ClientCursor(connection).execute(text, params)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
                # Two writers each waiting for a row the other has just written (a
                # deadlock): the server rolled one back. Like a clash, it is retried.
                raise IntegrityError(f"rolled back by the server: {exc}") from exc
        return None

    @property
    def events_table(self) -> str:
        """The log's table, schema-qualified and quoted."""
        return self._events_table

    def _as_one_statement(self, events: int, changes: list[Change]) -> tuple[str, list[Any]]:
        parts = [f"e AS ({self._insert_events_sql(events)} RETURNING {EVENT_COLUMNS})"]
        params: list[Any] = []
        for n, (statement, values) in enumerate(self.tables.statements(changes, events="e")):
            parts.append(f"c{n} AS ({statement})")
            params += values
        return f"WITH {', '.join(parts)} SELECT 1", params

    def _insert_events_sql(self, events: int) -> str:
        return (
            f"INSERT INTO {self._events_table} (originator_id, originator_version, topic, state) "
            "VALUES " + ", ".join(["(%s, %s, %s, %s)"] * events)
        )

    def stream_notifications(self, stream: UUID) -> list[Notification]:
        with self.datastore.get_connection() as connection:
            cursor = connection.cursor(row_factory=tuple_row)
            cursor.execute(
                f"{self.log_query} WHERE originator_id = %s ORDER BY originator_version",
                (stream,),
            )
            return [_notification(row) for row in cursor.fetchall()]

    def first_notifications(self, limit: int) -> list[Notification]:
        with self.datastore.get_connection() as connection:
            cursor = connection.cursor(row_factory=tuple_row)
            cursor.execute(f"{self.log_query} ORDER BY notification_id LIMIT %s", (limit,))
            return [_notification(row) for row in cursor.fetchall()]

    @contextmanager
    def log_snapshot(self) -> Iterator[LogSnapshot]:
        """One REPEATABLE READ transaction, read through server-side cursors."""
        with self.datastore.get_connection() as connection, connection.transaction():
            cursor = connection.cursor(row_factory=tuple_row)
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            self._allow_long(cursor)
            yield _Snapshot(self, connection)

    def replace_read_models(self, build: BuildReadModels) -> None:
        """The lock on the state table conflicts with every write, not with reads.

        Every write writes a state row before any other read-model row (see
        `in_apply_order`), so writes under way finish first, and later ones wait before
        holding any read-model row. Events they inserted meanwhile are not committed, so
        not in the rebuilt models; their own changes then apply on top. Locking the state
        table, not the log, needs no right to change the log (see `postgres_schema`).
        """
        with self.datastore.get_connection() as connection, connection.transaction():
            cursor = connection.cursor(row_factory=tuple_row)
            self._allow_long(cursor)
            state_table = self.tables.projection_tables[0]
            cursor.execute(f"LOCK TABLE {state_table} IN SHARE ROW EXCLUSIVE MODE")
            models = build(_Snapshot(self, connection))
            for table in self.tables.projection_tables:
                cursor.execute(f"DELETE FROM {table}")
            write_read_models(cursor, self.tables, models)

    def _allow_long(self, cursor: Cursor[TupleRow]) -> None:
        """The timeouts a long read or rebuild needs, for its own transaction only: the
        pool's short idle-in-transaction timeout would end it between two batches."""
        limit = f"{int(self.long_operation_timeout * 1000)}ms"
        cursor.execute(f"SET LOCAL idle_in_transaction_session_timeout = '{limit}'")
        cursor.execute(f"SET LOCAL statement_timeout = '{limit}'")


class _Snapshot:
    """The log and the stored rows through named (server-side) cursors of `connection`,
    inside the caller's transaction: rows come `LOG_BATCH` at a time."""

    def __init__(self, recorder: PostgresSessionRecorder, connection: Connection[Any]) -> None:
        self._recorder = recorder
        self._connection = connection

    def count(self) -> int:
        cursor = self._connection.cursor(row_factory=tuple_row)
        cursor.execute(f"SELECT COUNT(*) FROM {self._recorder.events_table}")
        row = cursor.fetchone()
        return 0 if row is None else int(row[0])

    def notifications(self) -> Iterator[Notification]:
        statement = f"{self._recorder.log_query} ORDER BY notification_id"
        for row in self._streamed("gs_log", statement):
            yield _notification(row)

    def rows(self, model: ReadModelRows) -> Iterator[StoredRow]:
        tables = self._recorder.tables
        rows = self._streamed("gs_rows", select_rows(tables, model))
        yield from stored_rows(rows, model, tables.sealer)

    def _streamed(self, name: str, statement: str) -> Iterator[Sequence[Any]]:
        with self._connection.cursor(name, row_factory=tuple_row) as cursor:
            cursor.itersize = LOG_BATCH
            cursor.execute(statement)
            yield from cursor


def _notification(row: Sequence[Any]) -> Notification:
    position, originator_id, version, topic, state = row
    return Notification(
        id=position,
        originator_id=originator_id,
        originator_version=version,
        topic=topic,
        state=bytes(state),
    )


class PostgresReadModelReader(SqlReadModelReader):
    """Each lookup is one prepared, indexed SELECT on a pooled autocommit connection."""

    def __init__(self, datastore: PostgresDatastore, tables: SqlReadModels) -> None:
        super().__init__(tables)
        self._datastore = datastore

    def fetch(self, statement: str, params: tuple[Any, ...]) -> list[Sequence[Any]]:
        """Straight on the pool (the library's wrapper costs a tenth of a read), which never
        hands out a connection the server closed (`RecoveringPool`); driver errors are
        translated by the store."""
        with self._datastore.pool.connection() as connection:
            cursor = connection.cursor(row_factory=tuple_row)
            cursor.execute(statement, params, prepare=True)
            rows: list[Sequence[Any]] = list(cursor.fetchall())
            return rows

    def load_all(self) -> MemoryReadModels:
        with self._datastore.get_connection() as connection, connection.transaction():
            cursor = connection.cursor(row_factory=tuple_row)
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return read_all(cursor, self.tables)


def open_postgres_log(
    settings: Mapping[str, str], log_settings: Mapping[str, str], *, create_tables: bool
) -> OpenedLog:
    """`settings`: the library's POSTGRES_* keys, as `bootstrap.urls` parses them.
    `create_tables`: False when they exist, so a role without DDL rights can open it."""
    log = SessionLog(
        {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": f"{__name__}:PostgresSessionRecorder",
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            "CREATE_TABLE": "y" if create_tables else "n",
            **settings,
            **log_settings,
        }
    )
    recorder = log.recorder
    assert isinstance(recorder, PostgresSessionRecorder)
    recorder.tables.sealer = content_sealer(log.mapper.cipher)
    if LONG_OPERATION_TIMEOUT in settings:
        recorder.long_operation_timeout = float(settings[LONG_OPERATION_TIMEOUT])
    reader = PostgresReadModelReader(recorder.datastore, recorder.tables)
    return OpenedLog(log, reader, recorder)
