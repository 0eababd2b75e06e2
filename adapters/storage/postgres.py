"""`postgresql://…`: the library's PostgreSQL log (psycopg 3 pool), read models beside it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Notification,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import Environment
from psycopg import ClientCursor, Connection, Cursor
from psycopg.rows import TupleRow, tuple_row
from psycopg.sql import SQL, Composed

from greentic_session.adapters.storage.encryption import content_sealer
from greentic_session.adapters.storage.library_seams import replace_pool, without_retry
from greentic_session.adapters.storage.log_access import (
    LOG_BATCH,
    MAX_VERSION,
    ArchiveWriter,
    BuildChanges,
    BuildReadModels,
    EndedStream,
    ImportedReadModels,
    LogSnapshot,
    StreamWrite,
    log_not_empty,
)
from greentic_session.adapters.storage.postgres_deadline import (
    COMMAND_TIMEOUT,
    DEFAULT_COMMAND_TIMEOUT,
)
from greentic_session.adapters.storage.postgres_pool import RecoveringPool, recovering_pool
from greentic_session.adapters.storage.postgres_schema import CONNINFO
from greentic_session.adapters.storage.session_log import OpenedLog, SessionLog, read_model_changes
from greentic_session.adapters.storage.sql_lookups import SqlLookups
from greentic_session.adapters.storage.sql_reader import (
    SqlReadModelReader,
    holds,
    read_all,
    select_rows,
    stored_rows,
    write_read_models,
)
from greentic_session.adapters.storage.sql_tables import (
    SCOPE_HISTORY_TABLE,
    LateTable,
    SqlReadModels,
)
from greentic_session.adapters.storage.sql_tombstones import (
    TOMBSTONES_TABLE,
    SqlTombstones,
    decoded,
    ended_streams,
    readable,
    still_ended,
)
from greentic_session.domain.audit import ArchivedStream
from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.domain.state import stream_id
from greentic_session.projections.changes import Change, row_of
from greentic_session.projections.read_model_rows import ReadModelRows, StoredRow, UnreadableRow
from greentic_session.projections.read_models import MemoryReadModels

EVENT_COLUMNS = "notification_id, originator_id, originator_version"
COPY_COLUMNS = "originator_id, originator_version, topic, state"
COPY_TYPES = ["uuid", "int8", "text", "bytea"]  # the events table's (assumption 5)

DEFAULT_LONG_OPERATION_TIMEOUT = 600.0
"""Seconds a long audit operation's statement, or its pause between two batches, may take
before the server ends it (0: no limit); the URL option `long_operation_timeout`."""
LONG_OPERATION_TIMEOUT = "POSTGRES_LONG_OPERATION_TIMEOUT"
"""The setting `bootstrap.urls` passes the URL option as (the library ignores it)."""

# Any fixed number: processes opening a store made before the scope history take turns
# creating it.
_LATE_TABLES_LOCK = 0x67736873


SERVER_ROLLBACKS = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
"""What the server rolls back to break a tie between writers: a clash, retried."""


@contextmanager
def _clashes_retried() -> Iterator[None]:
    """Two writers each waiting for a row the other has just written (a deadlock): the
    server rolled one back. Like a clash, it is retried (`IntegrityError`)."""
    try:
        yield
    except SERVER_ROLLBACKS as exc:
        raise IntegrityError(f"rolled back by the server: {exc}") from exc


def _execute(connection: Connection[Any], plan: WritePlan) -> None:
    if plan.one_statement:
        connection.execute(plan.text, plan.params, prepare=True)
    else:
        ClientCursor(connection).execute(plan.text, plan.params)


@dataclass(frozen=True)
class WritePlan:
    """One append's SQL: one prepared statement, or (`one_statement` False) a string of
    statements sent at once, run in order as one implicit transaction."""

    text: str
    params: list[Any]
    one_statement: bool


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
        events_table=events_table,
        code_point_order=' COLLATE "C"',
    )


class PostgresSessionRecorder(PostgresApplicationRecorder):
    """Writes the read-model changes in the transaction of the append."""

    # The library's, without its retry loop (10 attempts, each waiting up to the connect
    # timeout): an outage fails these at once too, within the bound, like every call.
    select_notifications = without_retry(PostgresApplicationRecorder.select_notifications)
    max_notification_id = without_retry(PostgresApplicationRecorder.max_notification_id)

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str) -> None:
        """The pool is the store's already (`PostgresSessionLog`): the library's
        constructor, next, is what opens it (see `library_seams.replace_pool`)."""
        super().__init__(datastore, events_table_name=events_table_name)
        self._events_table = f'"{datastore.schema}"."{events_table_name}"'
        self.log_query = (
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {self._events_table}"
        )
        self.long_operation_timeout = DEFAULT_LONG_OPERATION_TIMEOUT
        self.tables = tables_in(datastore.schema, self._events_table)
        self._scope_history_name = f'"{datastore.schema}"."{SCOPE_HISTORY_TABLE}"'
        self.tombstone_sql = SqlTombstones(
            qualifier=f'"{datastore.schema}".', placeholder="%s", for_update=" FOR UPDATE"
        )
        self._tombstones_name = f'"{datastore.schema}"."{TOMBSTONES_TABLE}"'
        statements = [*self.tables.create_statements, self.tombstone_sql.create]
        self.sql_create_statements.extend(Composed([SQL(s)]) for s in statements)

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
        plan = self.write_plan(stored_events, read_model_changes(kwargs))
        with self.datastore.get_connection() as connection, _clashes_retried():
            _execute(connection, plan)
        return None

    def locked_write(self, session_key: str, write: StreamWrite) -> None:
        """The state row locked `FOR UPDATE` first: a writer of the session waits for the
        commit at its state row, and its event, at a version this write took, then clashes
        and is retried on fresh state."""
        stream = stream_id(session_key)
        lookup = SqlLookups(self.tables).session_state(session_key)
        with (
            self.datastore.get_connection() as connection,
            _clashes_retried(),
            connection.transaction(),
        ):
            cursor = connection.cursor(row_factory=tuple_row)
            cursor.execute(f"{lookup.statement} FOR UPDATE", lookup.params)
            state = lookup.decode(list(cursor.fetchall()))
            tombstones: list[ArchivedStream] = []
            if self.has_tombstones(cursor):
                cursor.execute(self.tombstone_sql.select_stream, (str(stream),))
                tombstones = readable(cursor.fetchall())
            cursor.execute(
                f"{self.log_query} WHERE originator_id = %s ORDER BY originator_version",
                (stream,),
            )
            notifications = [_notification(row) for row in cursor.fetchall()]
            events, changes = write(state, tombstones, notifications)
            if events:
                _execute(connection, self.write_plan(events, changes))

    def write_plan(self, stored_events: Sequence[StoredEvent], changes: list[Change]) -> WritePlan:
        """The SQL of one append (`insert_events` says why it has two forms); no I/O, so
        the async store's ports run the same plan on their own connections."""
        events = [
            value
            for e in stored_events
            for value in (e.originator_id, e.originator_version, e.topic, e.state)
        ]
        if len({row_of(change) for change in changes}) == len(changes):
            text, params = self._as_one_statement(len(stored_events), changes)
            return WritePlan(text, [*events, *params], one_statement=True)
        statements = [(self._insert_events_sql(len(stored_events)), tuple(events))]
        statements += self.tables.statements(changes)
        text = "; ".join(statement for statement, _ in statements)
        params = [value for _, values in statements for value in values]
        return WritePlan(text, params, one_statement=False)

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

    def import_log(
        self,
        batches: Iterable[Sequence[StoredEvent]],
        read_models: ImportedReadModels,
        tombstones: Callable[[], list[ArchivedStream]] = list,
    ) -> None:
        """One transaction: the events through one binary `COPY` (positions drawn from the
        bigserial in row order), then the read models in `executemany` batches. The lock
        on the state table holds writers off, as a rebuild's does. Its idle timeout is
        `long_operation_timeout`, set locally. A statement the server refuses is
        `SessionError(internal)` with its cause; only a lost connection is `unavailable`."""
        with self.datastore.get_connection() as connection:
            try:
                with connection.transaction():
                    cursor = connection.cursor(row_factory=tuple_row)
                    self._allow_long(cursor)
                    state_table = self.tables.projection_tables[0]
                    cursor.execute(f"LOCK TABLE {state_table} IN SHARE ROW EXCLUSIVE MODE")
                    cursor.execute(f"SELECT 1 FROM {self._events_table} LIMIT 1")
                    if cursor.fetchone() is not None:
                        raise log_not_empty()
                    copy_in = f"COPY {self._events_table} ({COPY_COLUMNS}) FROM STDIN BINARY"
                    with cursor.copy(copy_in) as copy:
                        copy.set_types(COPY_TYPES)
                        for batch in batches:
                            self.renew_long_deadline(cursor)
                            for e in batch:
                                copy.write_row(
                                    (e.originator_id, e.originator_version, e.topic, e.state)
                                )
                    for statement, rows in self.tables.in_bulk(read_models()):
                        self.renew_long_deadline(cursor)
                        cursor.executemany(statement, rows)
                    if archived := tombstones():
                        rows = self.tombstone_sql.insert_rows(archived)
                        cursor.executemany(self.tombstone_sql.insert, rows)
                    self._analyze(cursor)
            except psycopg.Error as exc:
                if connection.broken or connection.closed:
                    raise
                raise SessionError(
                    ErrorCode.INTERNAL,
                    f"the database refused the import ({type(exc).__name__}: {exc}); "
                    "nothing was imported",
                ) from exc

    # -- archive -------------------------------------------------------------------

    def tombstones(self) -> list[ArchivedStream]:
        with self.datastore.get_connection() as connection:
            cursor = connection.cursor(row_factory=tuple_row)
            if not self.has_tombstones(cursor):
                return []
            cursor.execute(self.tombstone_sql.select_all)
            return readable(cursor.fetchall())

    def stream_tombstones(self, stream: UUID) -> list[ArchivedStream]:
        with self.datastore.get_connection() as connection:
            cursor = connection.cursor(row_factory=tuple_row)
            if not self.has_tombstones(cursor):
                return []
            cursor.execute(self.tombstone_sql.select_stream, (str(stream),))
            return readable(cursor.fetchall())

    def ended_streams(self, after: str, limit: int) -> list[EndedStream]:
        """The archive's first call creates the tombstones table of a store made before it
        (as the owner: a role that may not is refused, `permission_denied`)."""
        with self.datastore.get_connection() as connection, connection.transaction():
            cursor = connection.cursor(row_factory=tuple_row)
            self._allow_long(cursor)
            if not self.has_tombstones(cursor):
                cursor.execute(self.tombstone_sql.create)
            if not after and self.tables.scope_history_ready:
                cursor.execute(self.tombstone_sql.scope_history_index)
            cursor.execute(self.tombstone_sql.select_ended, (after, limit))
            return ended_streams(cursor.fetchall())

    def archive_streams(self, ended: list[EndedStream], write: ArchiveWriter) -> int:
        """Each state row is checked `FOR UPDATE`: a writer reviving one of these sessions
        waits for the commit, then continues the chain from the tombstone (its state row
        keeps the version and hash). The events are deleted by the owner only: the runtime
        role may not (`permission_denied`, nothing changed)."""
        sql = self.tombstone_sql
        with self.datastore.get_connection() as connection, connection.transaction():
            cursor = connection.cursor(row_factory=tuple_row)
            self._allow_long(cursor)
            kept = still_ended(cursor, sql.recheck, ended)

            def events_of(stream: EndedStream) -> list[Notification]:
                cursor.execute(
                    f"{self.log_query} WHERE originator_id = %s ORDER BY originator_version",
                    (stream_id(stream.session_key),),
                )
                return [_notification(row) for row in cursor.fetchall()]

            archived = write(kept, events_of)
            if archived:
                cursor.executemany(sql.insert, sql.insert_rows(archived))
            deleted = 0
            for tombstone in archived:
                stream_uuid = stream_id(tombstone.session_key)
                cursor.execute(
                    f"DELETE FROM {self._events_table} WHERE originator_id = %s", (stream_uuid,)
                )
                deleted += cursor.rowcount
            for statement, streams in sql.derived_rows(archived, self.tables):
                cursor.execute(statement, streams)
            return deleted

    def prepare_erasure(self) -> None:
        if self.tables.scope_history_ready:
            with self.datastore.get_connection() as connection, connection.transaction():
                cursor = connection.cursor(row_factory=tuple_row)
                self._allow_long(cursor)
                cursor.execute(self.tombstone_sql.scope_history_index)

    def compact(self) -> None:
        """Nothing the store can do: `pg_dump` and every query see the erased rows' new
        versions only; the old ones stay in the table files until vacuum reuses their
        space (autovacuum, or `VACUUM`), and in the WAL, its archives and replicas'."""

    def rename_archive(self, digests: list[str], digest: str) -> None:
        with self.datastore.get_connection() as connection, connection.transaction():
            cursor = connection.cursor(row_factory=tuple_row)
            self._allow_long(cursor)
            cursor.executemany(
                self.tombstone_sql.rename_archive, [(digest, old) for old in digests]
            )

    def has_tombstones(self, cursor: Cursor[TupleRow]) -> bool:
        cursor.execute("SELECT to_regclass(%s)", (self._tombstones_name,))
        row = cursor.fetchone()
        return row is not None and row[0] is not None

    def stream_notifications(self, stream: UUID, up_to: int | None = None) -> list[Notification]:
        with self.datastore.get_connection() as connection:
            cursor = connection.cursor(row_factory=tuple_row)
            cursor.execute(
                f"{self.log_query} WHERE originator_id = %s AND originator_version <= %s "
                "ORDER BY originator_version",
                (stream, MAX_VERSION if up_to is None else up_to),
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
            write_read_models(cursor, self.tables, models, lambda: self.renew_long_deadline(cursor))
            self._analyze(cursor)

    def ensure_late_tables(self, build: BuildChanges) -> list[str]:
        """Under an advisory lock, and the lock a rebuild takes (writers wait, readers do
        not); the replay in between may take longer than the library's idle-in-transaction
        timeout, lifted for this one transaction. A role without the right to create
        tables is refused, and the tables stay missing."""
        with self.datastore.get_connection() as connection:
            cursor = connection.cursor(row_factory=tuple_row)
            missing = []
            for table in self.tables.late_tables:
                if self._has_table(cursor, table.qualified):
                    self.tables.set_ready(table.name, self._may_use(cursor, table.qualified))
                else:
                    missing.append(table)
            if missing:
                self._create_late(connection, cursor, missing, build)
        return [table.name for table in self.tables.late_tables if not table.ready]

    def _create_late(
        self,
        connection: Connection[Any],
        cursor: Cursor[TupleRow],
        missing: list[LateTable],
        build: BuildChanges,
    ) -> None:
        try:
            with connection.transaction():
                allow_long(cursor, 0, self.datastore)
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_LATE_TABLES_LOCK,))
                # A relation lock before the second look: taking one makes the server read
                # the catalog changes committed meanwhile (an advisory lock does not), so a
                # table another process has just created is seen, not created twice.
                state_table = self.tables.projection_tables[0]
                cursor.execute(f"LOCK TABLE {state_table} IN SHARE ROW EXCLUSIVE MODE")
                missing = [t for t in missing if not self._has_table(cursor, t.qualified)]
                for table in missing:
                    for statement in table.create:
                        cursor.execute(statement)
                for table in missing:
                    self.tables.set_ready(table.name, True)
                kinds = tuple(table.fills for table in missing)
                changes = build(_Snapshot(self, connection).notifications(), kinds)
                for statement, params in self.tables.statements(changes):
                    cursor.execute(statement, params)
                self._analyze(cursor)
        except psycopg.errors.InsufficientPrivilege:
            for table in missing:
                self.tables.set_ready(table.name, False)
        except BaseException:
            for table in missing:
                self.tables.set_ready(table.name, False)
            raise

    def _may_use(self, cursor: Cursor[TupleRow], qualified: str) -> bool:
        """Created by the owner after this role was granted the others (the owner opened
        the store before running setup again): not usable until it is granted too."""
        cursor.execute(
            "SELECT has_table_privilege(%s, 'SELECT') AND has_table_privilege(%s, 'INSERT')",
            (qualified, qualified),
        )
        row = cursor.fetchone()
        return row is not None and bool(row[0])

    def _has_table(self, cursor: Cursor[TupleRow], qualified: str) -> bool:
        cursor.execute("SELECT to_regclass(%s)", (qualified,))
        row = cursor.fetchone()
        return row is not None and row[0] is not None

    def _analyze(self, cursor: Cursor[TupleRow]) -> None:
        """Fresh statistics for tables just filled in bulk, before autovacuum gets to them:
        with none, the planner guesses a few rows for a page's range and sorts instead of
        paging along the session index (measured: 24 ms instead of 0.04 ms at 20,000
        sessions). The server skips, with a notice, a table this role does not own."""
        for table in self.tables.projection_tables:
            cursor.execute(f"ANALYZE {table}")

    def _allow_long(self, cursor: Cursor[TupleRow]) -> None:
        allow_long(cursor, self.long_operation_timeout, self.datastore)

    def renew_long_deadline(self, cursor: Cursor[TupleRow]) -> None:
        """A long operation's next batch: the watchdog's deadline starts again, so that,
        like the server's limits, it bounds a batch (or a pause between two), never the
        whole operation: a verify of a million events takes longer than any one batch."""
        watch_long(cursor.connection, self.long_operation_timeout, self.datastore)


def allow_long(cursor: Cursor[TupleRow], seconds: float, datastore: PostgresDatastore) -> None:
    """The timeouts a long read, rebuild or import needs (`long_operation_timeout`; 0:
    none), for its own transaction only: the pool's short idle-in-transaction timeout
    would end it between two batches, and `command_timeout` (the statement timeout and
    the watchdog's deadline) in its first minute."""
    limit = f"{int(seconds * 1000)}ms"
    cursor.execute(f"SET LOCAL idle_in_transaction_session_timeout = '{limit}'")
    cursor.execute(f"SET LOCAL statement_timeout = '{limit}'")
    watch_long(cursor.connection, seconds, datastore)


def watch_long(connection: Connection[Any], seconds: float, datastore: PostgresDatastore) -> None:
    """The watchdog's deadline for the connection: `seconds` from now (0: none)."""
    pool = datastore.pool
    if isinstance(pool, RecoveringPool):
        pool.watchdog.watch(connection, seconds)


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

    def holds(self, model: ReadModelRows) -> bool:
        return holds(self._recorder.tables, model)

    def tombstones(self) -> Iterator[ArchivedStream | UnreadableRow]:
        recorder = self._recorder
        cursor = self._connection.cursor(row_factory=tuple_row)
        if not recorder.has_tombstones(cursor):
            return
        yield from decoded(self._streamed("gs_tombstones", recorder.tombstone_sql.select_all))

    def _streamed(self, name: str, statement: str) -> Iterator[Sequence[Any]]:
        """A batch of `LOG_BATCH` rows at a time, the watchdog's deadline set again for each
        (`renew_long_deadline`)."""
        with self._connection.cursor(name, row_factory=tuple_row) as cursor:
            cursor.execute(statement)
            while rows := cursor.fetchmany(LOG_BATCH):
                self._recorder.renew_long_deadline(cursor)
                yield from rows


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

    def __init__(
        self, datastore: PostgresDatastore, tables: SqlReadModels, long_timeout: float
    ) -> None:
        super().__init__(tables)
        self._datastore = datastore
        self._long_timeout = long_timeout

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
            allow_long(cursor, self._long_timeout, self._datastore)
            return read_all(cursor, self.tables)


class PostgresSessionLog(SessionLog):
    """The log on PostgreSQL, connecting with the store's own libpq connection string."""

    name = SessionLog.name  # the library names a subclass after itself: the table follows

    def __init__(self, env: Mapping[str, str], conninfo: str, command_timeout: float) -> None:
        self._conninfo = conninfo
        self._command_timeout = command_timeout
        super().__init__(env)

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        """The library's factory, its pool replaced by the store's before anything opened
        it (the recorder's constructor, next, does): see `library_seams.replace_pool`."""
        factory = super().construct_factory(env)
        postgres = factory if isinstance(factory, PostgresFactory) else None
        if postgres is None:
            raise TypeError(f"not a PostgreSQL factory: {type(factory).__name__}")
        conninfo, command_timeout = self._conninfo, self._command_timeout
        replace_pool(
            postgres.datastore,
            lambda pool, set_up: recovering_pool(pool, set_up, conninfo, command_timeout),
        )
        return factory


def open_postgres_log(
    settings: Mapping[str, str], log_settings: Mapping[str, str], *, create_tables: bool
) -> OpenedLog:
    """`settings`: as `bootstrap.urls` parses them: the library's POSTGRES_* keys (no
    secret among them) and the libpq connection string (`CONNINFO`), which is what
    connects. `create_tables`: False when they exist, so a role without DDL rights can
    open it."""
    library_settings = {name: value for name, value in settings.items() if name != CONNINFO}
    log = PostgresSessionLog(
        {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": f"{__name__}:PostgresSessionRecorder",
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            "CREATE_TABLE": "y" if create_tables else "n",
            **library_settings,
            **log_settings,
        },
        settings[CONNINFO],
        float(settings.get(COMMAND_TIMEOUT, DEFAULT_COMMAND_TIMEOUT)),
    )
    recorder = log.recorder
    assert isinstance(recorder, PostgresSessionRecorder)
    recorder.tables.sealer = content_sealer(log.mapper.cipher)
    if LONG_OPERATION_TIMEOUT in settings:
        recorder.long_operation_timeout = float(settings[LONG_OPERATION_TIMEOUT])
    reader = PostgresReadModelReader(
        recorder.datastore, recorder.tables, recorder.long_operation_timeout
    )
    return OpenedLog(log, reader, recorder)
